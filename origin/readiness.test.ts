import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Readiness } from "./readiness.ts";

describe("Readiness", () => {
  it("is ready only when every check passes, and says what failed", async () => {
    const readiness = new Readiness({
      storage: async () => {
        throw new Error("S3 HEAD failed: 503 SlowDown");
      },
      nix: async () => {},
    });
    assert.deepEqual(await readiness.report(), {
      ready: false,
      checks: { storage: "S3 HEAD failed: 503 SlowDown", nix: "ok" },
    });
  });

  it("runs the checks at most once per cache period", async () => {
    let now = 0;
    let runs = 0;
    const readiness = new Readiness(
      {
        storage: async () => {
          runs++;
        },
      },
      { cacheMs: 5_000, now: () => now },
    );
    await Promise.all([readiness.report(), readiness.report(), readiness.report()]);
    now = 4_999;
    await readiness.report();
    assert.equal(runs, 1);
    now = 5_000;
    assert.equal((await readiness.report()).ready, true);
    assert.equal(runs, 2);
  });

  it("counts a check that does not answer in time as failed", async () => {
    const readiness = new Readiness(
      { source: () => new Promise<void>(() => {}) },
      { timeoutMs: 20 },
    );
    assert.deepEqual(await readiness.report(), {
      ready: false,
      checks: { source: "no answer within 0.02 s" },
    });
  });
});
