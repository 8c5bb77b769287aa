import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Limiter, mapLimited } from "./limiter.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("mapLimited", () => {
  it("keeps order and the concurrency limit", async () => {
    let active = 0;
    let peak = 0;
    const results = await mapLimited([5, 1, 3, 2, 4], 2, async (item) => {
      peak = Math.max(peak, ++active);
      await sleep(item * 3);
      active--;
      return item * 10;
    });
    assert.deepEqual(results, [50, 10, 30, 20, 40]);
    assert.equal(peak, 2);
  });

  it("fails fast: the first failure aborts the others and nothing new starts", async () => {
    const started: number[] = [];
    const aborted: number[] = [];
    let running = 0;
    await assert.rejects(
      mapLimited([0, 1, 2, 3, 4, 5], 3, async (item, _index, signal) => {
        started.push(item);
        running++;
        try {
          if (item === 1) {
            await sleep(5);
            throw new Error("layer 1 failed");
          }
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(resolve, 2_000);
            signal.addEventListener("abort", () => {
              clearTimeout(timer);
              aborted.push(item);
              // Cleaning up takes a while; mapLimited must wait for it.
              setTimeout(() => reject(signal.reason), 30);
            });
          });
        } finally {
          running--;
        }
      }),
      /layer 1 failed/,
    );
    assert.equal(running, 0, "settles only after every call in flight has finished");
    assert.deepEqual(started.sort(), [0, 1, 2]);
    assert.deepEqual(aborted.sort(), [0, 2]);
  });

  it("stops when the caller's signal aborts", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("origin stopping")), 10);
    await assert.rejects(
      mapLimited(
        [1, 2, 3],
        1,
        (_item, _index, signal) =>
          new Promise((_, reject) =>
            signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
          ),
        controller.signal,
      ),
      /origin stopping/,
    );
  });
});

describe("Limiter", () => {
  it("runs at most `limit` tasks and queues the rest in order", async () => {
    const limiter = new Limiter(1);
    assert.equal(limiter.full, false);
    const order: string[] = [];
    const task = (name: string) => async () => {
      order.push(`start ${name}`);
      await sleep(5);
      order.push(`end ${name}`);
    };
    const all = Promise.all([limiter.run(task("a")), limiter.run(task("b"))]);
    assert.equal(limiter.queued, 1);
    assert.equal(limiter.full, true);
    await all;
    assert.deepEqual(order, ["start a", "end a", "start b", "end b"]);
    assert.equal(limiter.running, 0);
    assert.equal(limiter.full, false);
  });
});
