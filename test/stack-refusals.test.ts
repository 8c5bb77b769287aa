// `npm start` with a setting it cannot use stops with one line on stderr and exit status 2, as
// the origin does: the edge's port in use, the origin's port in use, a bad value of either side.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localStackEnv } from "./support/edge-stack.ts";
import { repoRoot } from "./support/origin-process.ts";

let work: string;
let blocker: Server;
let busyPort: number;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "nixery-stack-refusals-"));
  blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  busyPort = (blocker.address() as { port: number }).port;
});
after(async () => {
  blocker.close();
  await rm(work, { recursive: true, force: true });
});

async function refusal(extra: Record<string, string>): Promise<string> {
  const env = await localStackEnv(await mkdtemp(join(work, "data-")), extra);
  const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "stack/start.ts")], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const kill = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearTimeout(kill);
  assert.equal(code, 2, `exit status 2, got ${code}:\n${stderr}`);
  assert.doesNotMatch(stderr, /\n\s+at |Error:|EADDRINUSE/, "no stack trace");
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${stderr}`);
  return lines[0]!;
}

describe("npm start refuses a setting it cannot use", () => {
  it("names the edge's port in use", async () => {
    assert.equal(
      await refusal({ PORT: String(busyPort) }),
      `configuration error: PORT=${busyPort}: 127.0.0.1:${busyPort} is already in use; stop what listens there or choose another PORT`,
    );
  });

  it("names the origin's port in use", async () => {
    assert.equal(
      await refusal({ ORIGIN_PORT: String(busyPort) }),
      `configuration error: the origin refused to start: PORT=${busyPort}: 127.0.0.1:${busyPort} is already in use; stop what listens there or choose another PORT`,
    );
  });

  it("names an origin setting it refuses", async () => {
    assert.equal(
      await refusal({
        NIXERY_STORAGE_BACKEND: "s3",
        S3_ENDPOINT: "r2.example",
        S3_BUCKET: "b",
        AWS_ACCESS_KEY_ID: "k",
        AWS_SECRET_ACCESS_KEY: "s",
      }),
      'configuration error: the origin refused to start: S3_ENDPOINT must be an http(s) URL, got "r2.example" (no scheme: try https://r2.example)',
    );
  });
});
