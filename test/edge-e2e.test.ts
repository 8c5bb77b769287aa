// End to end through the local stack (`npm start`: origin process + edge in workerd): skopeo pulls
// via the edge, umoci unpacks, a program from the image runs; then the origin is stopped and the
// same image pulls again from the edge alone, with skopeo and with containerd's ctr.

import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { runInRootfs, skopeoCopy, startContainerd, umociUnpack } from "./support/clients.ts";
import { localStackEnv, startLocalStack, type LocalStack } from "./support/edge-stack.ts";

let work: string;
let stack: LocalStack;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "nixery-edge-e2e-"));
  stack = await startLocalStack(await localStackEnv(join(work, "data")));
});

after(async () => {
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

it("pulls through the edge, runs the image, and pulls again with the origin stopped", async () => {
  assert.ok(stack.output.some((line) => line.includes("using the offline fixture set")));
  assert.ok(
    stack.output.some((line) => line.includes(`docker://${stack.edgeHost}/shell/hello:latest`)),
  );

  const first = join(work, "first");
  const copied = await skopeoCopy(stack.edgeHost, "hello:latest", first);
  assert.equal(copied.code, 0, copied.stderr);
  const rootfs = await umociUnpack(first, join(work, "bundle"));
  const ran = await runInRootfs(rootfs, ["/bin/hello"]);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout.trim(), "hello: greetings from libgreet");

  // The edge stores what it streamed under waitUntil; let those copies finish before the
  // origin goes away (config and layers: every blob of the layout but the manifest).
  const blobs = (await readdir(join(first, "blobs/sha256"))).length - 1;
  for (let i = 0; i < 200; i++) {
    if (stack.output.filter((line) => line.includes('"blob backfilled"')).length >= blobs) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  process.kill(stack.originPid, "SIGTERM");
  await stack.waitForLine(/the origin exited/);

  const second = join(work, "second");
  const again = await skopeoCopy(stack.edgeHost, "hello:latest", second);
  assert.equal(again.code, 0, again.stderr);

  const containerd = await startContainerd();
  try {
    const pulled = await containerd.pull(`${stack.edgeHost}/hello:latest`);
    assert.equal(pulled.code, 0, pulled.stderr);
  } finally {
    await containerd.stop();
  }

  const unknown = await skopeoCopy(stack.edgeHost, "goodbye:latest", join(work, "third"));
  assert.notEqual(
    unknown.code,
    0,
    "an image the edge never saw cannot be pulled without the origin",
  );

  assert.equal(await stack.stop(), 0);
});
