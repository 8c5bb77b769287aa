import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { JobTable } from "./job-table.ts";

function table(options: { failureTtlMs?: number; keepFinishedMs?: number } = {}) {
  let now = 1_000;
  const jobs = new JobTable<string>({
    keepFinishedMs: options.keepFinishedMs ?? 10_000,
    failureTtlMs: options.failureTtlMs ?? 5_000,
    remember: (error) => !(error instanceof Error && error.message === "transient"),
    now: () => now,
  });
  return { jobs, advance: (ms: number) => (now += ms) };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("JobTable", () => {
  it("starts one job per id; later starts join it", async () => {
    const { jobs } = table();
    let runs = 0;
    const gate = deferred<string>();
    const work = () => {
      runs++;
      return gate.promise;
    };
    const first = jobs.start("a", work);
    const second = jobs.start("a", work);
    assert.equal(first, second);
    assert.equal(jobs.runningCount, 1);
    gate.resolve("built");
    assert.deepEqual(await Promise.all([first.result(), second.result()]), ["built", "built"]);
    assert.equal(runs, 1);
    assert.equal(jobs.runningCount, 0);
  });

  it("never leaves a rejection unhandled, even when nobody waits for the job", async () => {
    const { jobs } = table();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const job = jobs.start("x", async () => {
        throw new Error("build failed");
      });
      jobs.start("y", () => {
        throw new Error("thrown synchronously");
      });
      await job.whenSettled;
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(unhandled, []);
      assert.equal(jobs.find("y")?.status.state, "failed");
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("hands a remembered failure to new requests until its time-to-live passes", async () => {
    const { jobs, advance } = table({ failureTtlMs: 5_000 });
    let runs = 0;
    const failing = async () => {
      runs++;
      throw new Error("builder failed");
    };
    await jobs.start("a", failing).whenSettled;
    const again = jobs.start("a", failing);
    await assert.rejects(again.result(), /builder failed/);
    assert.equal(runs, 1, "answered from memory");
    advance(5_001);
    await jobs.start("a", failing).whenSettled;
    assert.equal(runs, 2, "built again once the memory expired");
  });

  it("does not remember failures the predicate rejects", async () => {
    const { jobs } = table();
    let runs = 0;
    const transient = async () => {
      runs++;
      throw new Error("transient");
    };
    await jobs.start("a", transient).whenSettled;
    await jobs.start("a", transient).whenSettled;
    assert.equal(runs, 2);
  });

  it("keeps finished jobs findable for pollers, then forgets them", async () => {
    const { jobs, advance } = table({ keepFinishedMs: 10_000, failureTtlMs: 0 });
    const job = jobs.start("a", async () => "built");
    assert.equal(jobs.find("a"), job);
    await job.whenSettled;
    assert.equal(jobs.find("a")?.status.state, "done");
    assert.equal(jobs.joinable("a"), undefined, "a success is not joined: the cache answers it");
    advance(10_001);
    assert.equal(jobs.find("a"), undefined);
  });

  it("records answers that needed no work for pollers, without hiding a running job", async () => {
    const { jobs } = table();
    const gate = deferred<string>();
    const running = jobs.start("a", () => gate.promise);
    jobs.finished("a", "cached");
    assert.equal(jobs.find("a"), running);
    const hit = jobs.finished("b", "cached");
    assert.equal(jobs.find("b"), hit);
    assert.equal(await hit.result(), "cached");
    gate.resolve("built");
    await running.whenSettled;
  });

  it("waits at most the given time for a running job", async () => {
    const { jobs } = table();
    const gate = deferred<string>();
    const job = jobs.start("a", () => gate.promise);
    assert.equal((await job.waitFor(20)).state, "running");
    setTimeout(() => gate.resolve("built"), 10);
    const settled = await job.waitFor(5_000);
    assert.deepEqual(settled, { state: "done", result: "built" });
  });

  it("bounds how many finished jobs it keeps", async () => {
    let now = 0;
    const jobs = new JobTable<number>({
      keepFinishedMs: 60_000,
      failureTtlMs: 0,
      remember: () => true,
      maxFinished: 3,
      now: () => now++,
    });
    for (let i = 0; i < 10; i++) await jobs.start(`job-${i}`, async () => i).whenSettled;
    const kept = Array.from({ length: 10 }, (_, i) => jobs.find(`job-${i}`) !== undefined);
    assert.deepEqual(kept, [false, false, false, false, false, false, false, true, true, true]);
  });
});
