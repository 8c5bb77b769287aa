// The `nonroot` meta-package end to end: the image runs as uid/gid 65532 under containerd (ctr,
// runc) and podman, that user can write its home and /tmp, and `nonroot/…` shares every layer but
// the small top one with the root image of the same packages.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mediaTypes } from "../../shared/media-types.ts";
import { privatePodman, skopeoCopy, startContainerd, umociUnpack } from "../support/clients.ts";
import { localStackEnv, startLocalStack } from "../support/edge-stack.ts";
import { imageLayers } from "../support/image-layers.ts";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";

// What the user checks inside the container: who it is, where home is, and that it can write
// there and to /tmp (and cannot write to / or /etc, which stay root's).
const probe = [
  "id -u; id -g; id -un; echo $HOME; pwd",
  "echo home > $HOME/f && cat $HOME/f",
  "echo tmp > /tmp/f && cat /tmp/f",
  "if touch /etc/f 2>/dev/null; then echo etc-writable; else echo etc-readonly; fi",
].join("; ");
const expected = [
  "65532",
  "65532",
  "nonroot",
  "/home/nonroot",
  "/home/nonroot",
  "home",
  "tmp",
  "etc-readonly",
]
  .map((line) => `${line}\n`)
  .join("");

describe("nonroot images", () => {
  let origin: OriginProcess;
  let host: string;
  before(async () => {
    origin = await startOrigin();
    host = `127.0.0.1:${origin.port}`;
  });
  after(async () => {
    await origin?.stop();
  });

  it("share every layer but the top one with the root image, and set User numerically", async () => {
    const root = await imageLayers(origin.url, "shell/hello");
    const nonroot = await imageLayers(origin.url, "nonroot/shell/hello");
    assert.equal(nonroot.length, root.length);
    assert.ok(root.length >= 3, `layers: ${root.length}`);
    assert.deepEqual(nonroot.slice(0, -1), root.slice(0, -1));
    assert.notEqual(nonroot.at(-1)!.digest, root.at(-1)!.digest);
    assert.ok(nonroot.at(-1)!.size < 4096, `top layer of ${nonroot.at(-1)!.size} bytes`);

    const config = async (name: string) => {
      const manifest = (await (
        await fetch(`${origin.url}/v2/${name}/manifests/latest`, {
          headers: { accept: mediaTypes.ociManifest },
        })
      ).json()) as { config: { digest: string } };
      const blob = await fetch(`${origin.url}/v2/${name}/blobs/${manifest.config.digest}`);
      return ((await blob.json()) as { config: Record<string, unknown> }).config;
    };
    const nonrootConfig = await config("nonroot/shell/hello");
    assert.equal(nonrootConfig.User, "65532:65532");
    assert.equal(nonrootConfig.WorkingDir, "/home/nonroot");
    assert.ok((nonrootConfig.Env as string[]).includes("HOME=/home/nonroot"));
    const rootConfig = await config("shell/hello");
    assert.equal(rootConfig.User, undefined);
    assert.equal(rootConfig.WorkingDir, undefined);
    // The package `nonroot` would be a different image; as a meta-package it is only at the front.
    const late = await fetch(`${origin.url}/v2/hello/nonroot/manifests/latest`);
    assert.equal(late.status, 404);
    assert.match(await late.text(), /Could not find Nix packages: nonroot/);
  });

  it("packs the nonroot top layer again with the same digest when storage lost it", async () => {
    const [top] = (await imageLayers(origin.url, "nonroot/shell/hello")).slice(-1);
    const file = join(origin.dataDir, "storage", "blobs", "sha256", top!.digest.slice(7));
    await rm(file);
    const blob = await fetch(`${origin.url}/v2/nonroot/shell/hello/blobs/${top!.digest}`);
    assert.equal(blob.status, 200, await blob.clone().text());
    const bytes = new Uint8Array(await blob.arrayBuffer());
    assert.equal(`sha256:${createHash("sha256").update(bytes).digest("hex")}`, top!.digest);
  });

  it("runs as uid 65532 under containerd (ctr and runc), writing $HOME and /tmp", async () => {
    const containerd = await startContainerd();
    try {
      const reference = `${host}/nonroot/shell/hello:latest`;
      const pull = await containerd.pull(reference);
      assert.equal(pull.code, 0, pull.stderr + pull.stdout);
      const run = await containerd.run(reference, ["bash", "-c", probe]);
      assert.equal(run.code, 0, run.stderr + run.stdout);
      assert.equal(run.stdout, expected);
    } finally {
      await containerd.stop();
    }
  });

  it("runs as uid 65532 under podman, writing $HOME and /tmp", async () => {
    const podman = await privatePodman();
    try {
      const image = `${host}/nonroot/shell/hello:latest`;
      const pull = await podman.run(["pull", "--tls-verify=false", image]);
      assert.equal(pull.code, 0, pull.stderr);
      const run = await podman.run([
        "run",
        "--rm",
        "--network=none",
        ...["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"],
        image,
        "bash",
        "-c",
        probe,
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, expected);
    } finally {
      await podman.cleanup();
    }
  });
});

describe("nonroot images through the edge", () => {
  it("are kept apart from the root image of the same packages", async () => {
    const work = await mkdtemp(join(tmpdir(), "nixery-nonroot-edge-"));
    const stack = await startLocalStack(await localStackEnv(join(work, "data")));
    try {
      const users: Record<string, unknown> = {};
      // Root first, so a nonroot answer from the root image's records would show.
      for (const name of ["hello", "nonroot/hello", "hello"]) {
        const layout = join(work, `layout-${Object.keys(users).length}`);
        const copied = await skopeoCopy(stack.edgeHost, `${name}:latest`, layout);
        assert.equal(copied.code, 0, copied.stderr);
        const bundle = join(work, `bundle-${Object.keys(users).length}`);
        await umociUnpack(layout, bundle);
        const runtime = JSON.parse(await readFile(join(bundle, "config.json"), "utf8")) as {
          process: { user: { uid: number; gid: number }; cwd: string };
        };
        users[`${name}#${Object.keys(users).length}`] = runtime.process;
      }
      assert.deepEqual(
        Object.values(users).map((p) => (p as { user: unknown }).user),
        [
          { uid: 0, gid: 0 },
          { uid: 65532, gid: 65532 },
          { uid: 0, gid: 0 },
        ],
      );
      assert.equal((users["nonroot/hello#1"] as { cwd: string }).cwd, "/home/nonroot");
    } finally {
      await stack.stop();
      await rm(work, { recursive: true, force: true });
    }
  });
});
