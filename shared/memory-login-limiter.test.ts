import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryLoginLimiter } from "./memory-login-limiter.ts";

describe("MemoryLoginLimiter", () => {
  it("makes a key wait for the end of its window after maxFailures failures", async () => {
    let now = 1_000_000;
    const limiter = new MemoryLoginLimiter({ maxFailures: 2, windowSeconds: 60, now: () => now });
    await limiter.recordFailure(["client:a", "user:x"]);
    assert.equal(await limiter.retryAfter(["client:a"]), 0);
    now += 10_000;
    await limiter.recordFailure(["client:a"]);
    assert.equal(await limiter.retryAfter(["client:a", "user:x"]), 50);
    assert.equal(await limiter.retryAfter(["user:x"]), 0, "the user failed once");
    assert.equal(await limiter.retryAfter(["client:b"]), 0, "another client is not limited");
    now += 50_000;
    assert.equal(await limiter.retryAfter(["client:a"]), 0, "a new window");
  });

  it("holds at most maxKeys keys", async () => {
    const limiter = new MemoryLoginLimiter({ maxFailures: 1, windowSeconds: 60, maxKeys: 3 });
    for (const key of ["a", "b", "c", "d", "e"]) await limiter.recordFailure([key]);
    assert.equal(await limiter.retryAfter(["a"]), 0, "the oldest went first");
    assert.ok((await limiter.retryAfter(["e"])) > 0);
  });
});
