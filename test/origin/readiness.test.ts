// Readiness as an operator's load balancer sees it: /healthz turns 503 while storage is unusable
// and 200 again once it is back (each check runs at most every 5 s); /livez stays 200.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOrigin } from "../support/origin-process.ts";
import { waitFor } from "../support/wait-for.ts";

describe("readiness", () => {
  it("reports not ready while storage is unusable, and ready again once it is back", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "nixery-ready-"));
    const origin = await startOrigin({ dataDir });
    const staging = join(dataDir, "storage", "_staging");
    try {
      const ready = await fetch(`${origin.url}/healthz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(((await ready.json()) as { checks: unknown }).checks, {
        storage: "ok",
        nix: "ok",
        source: "ok",
      });
      await rm(staging, { recursive: true });
      await writeFile(staging, "in the way");
      // Readiness is checked at most every 5 s: wait for the check that sees the change.
      const down = await waitFor("/healthz to see the broken storage", async () => {
        const response = await fetch(`${origin.url}/healthz`);
        if (response.status === 503) return response;
        await response.body?.cancel();
        return null;
      });
      assert.equal(down.status, 503);
      const body = (await down.json()) as { ok: boolean; checks: Record<string, string> };
      assert.equal(body.ok, false);
      assert.match(body.checks.storage!, /ENOTDIR/);
      assert.equal((await fetch(`${origin.url}/livez`)).status, 200);
      await rm(staging);
      await mkdir(staging);
      const up = await waitFor("/healthz to see the storage back", async () => {
        const response = await fetch(`${origin.url}/healthz`);
        await response.body?.cancel();
        return response.status === 200 ? response : null;
      });
      assert.equal(up.status, 200);
    } finally {
      await origin.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
