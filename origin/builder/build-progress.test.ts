import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { BuildProgressTracker } from "./build-progress.ts";

const versions = ["2.8", "2.26", "2.34"];

async function recorded(version: string, name: string): Promise<string[]> {
  const file = new URL(`../../test/fixtures/nix-output/${version}/${name}.json`, import.meta.url);
  return (JSON.parse(await readFile(file, "utf8")) as { stderr: string[] }).stderr;
}

describe("build progress", () => {
  for (const version of versions) {
    it(`reads nix-store --realise of Nix ${version}: plan, derivation started, output`, async () => {
      const progress = new BuildProgressTracker(() => 0);
      for (const line of await recorded(version, "realise-download")) progress.nixLine(line);
      const { derivations, log } = progress.snapshot;
      assert.equal(derivations?.total, 2);
      assert.equal(derivations?.started, 1);
      assert.deepEqual(derivations?.building, ["fromsource-1.0.tar.gz"]);
      assert.ok(
        !log.some((line) => line.startsWith("  /nix/store/")),
        "plan entries are no output",
      );
      assert.ok(log.some((line) => line.includes("unable to download")));

      const failed = new BuildProgressTracker(() => 0);
      for (const line of await recorded(version, "realise-failed")) failed.nixLine(line);
      assert.equal(failed.snapshot.derivations?.total, 1);
      assert.ok(failed.snapshot.log.includes("broken: compiling"));
    });
  }

  it("counts downloads, keeps the last lines only, and strips terminal escapes", () => {
    const progress = new BuildProgressTracker(() => 0);
    progress.nixLine("these 3 paths will be fetched (1.00 MiB download, 4.00 MiB unpacked):");
    progress.nixLine("  /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a");
    progress.nixLine(
      "copying path '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a' from 'https://c'...",
    );
    for (let i = 0; i < 50; i++) progress.nixLine(`\x1b[31mline ${i}\x1b[0m`);
    assert.deepEqual(progress.snapshot.downloads, { started: 1, total: 3 });
    assert.equal(progress.snapshot.log.length, 20);
    assert.equal(progress.snapshot.log.at(-1), "line 49");
  });

  it("records each phase once with its time, and ends in done or failed", () => {
    let now = 1000;
    const progress = new BuildProgressTracker(() => now);
    now = 1200;
    progress.phase("evaluating");
    progress.phase("evaluating");
    now = 1500;
    progress.phase("realising");
    progress.finish("failed");
    assert.deepEqual(progress.snapshot.history, [
      { phase: "queued", at: 0 },
      { phase: "evaluating", at: 200 },
      { phase: "realising", at: 500 },
      { phase: "failed", at: 500 },
    ]);
  });

  it("wakes a waiter on a change, answers at once when behind, and forgets a waiter that leaves", async () => {
    const progress = new BuildProgressTracker(Date.now);
    const seq = progress.snapshot.seq;
    assert.equal(
      (await progress.waitForChange(seq - 1, 10_000, new AbortController().signal)).seq,
      seq,
    );
    const waiting = progress.waitForChange(seq, 10_000, new AbortController().signal);
    assert.equal(progress.waiting, 1);
    progress.phase("grouping");
    assert.equal((await waiting).phase, "grouping");
    assert.equal(progress.waiting, 0);

    const gone = new AbortController();
    const left = progress.waitForChange(progress.snapshot.seq, 10_000, gone.signal);
    gone.abort();
    await left;
    assert.equal(progress.waiting, 0, "an aborted wait holds nothing");
    const quiet = await progress.waitForChange(
      progress.snapshot.seq,
      20,
      new AbortController().signal,
    );
    assert.equal(quiet.phase, "grouping");
    assert.equal(progress.waiting, 0);
  });
});
