// Hostile input straight at the origin (no front before it): every case of
// test/load/hostile-cases.ts three times, plus the origin's own storms (concurrent build requests
// for a failing build and for missing packages, unknown-package pulls). No 5xx, registry JSON for
// every error, nothing lost, the origin still up, and the storms cost one evaluation per name.
// `npm run hostile:origin` sends 10,000 of these requests.

import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { imageFactsOf } from "../load/image-facts.ts";
import {
  hostileCases,
  originSecret,
  originStormCases,
  runHostile,
  type ImageFacts,
} from "../load/hostile-cases.ts";
import { exchange } from "../load/raw-http.ts";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";

let origin: OriginProcess;
let facts: ImageFacts;

before(async () => {
  origin = await startOrigin({ env: { ORIGIN_SECRET: originSecret } });
  facts = await imageFactsOf(origin.url, "hello");
});
after(() => origin?.stop());

async function evaluations(): Promise<number> {
  const metrics = await (await fetch(`${origin.url}/metrics`)).text();
  const line = metrics
    .split("\n")
    .find((l) => l.startsWith('nixery_nix_processes_total{command="nix-instantiate --eval"}'));
  return Number(line?.split(" ").at(-1) ?? 0);
}

it("answers every hostile request and storm: no 5xx, registry JSON errors, nothing lost", async () => {
  const before = await evaluations();
  const idle = exchange(origin.port, "", { timeoutMs: 40_000 });
  const cases = [...hostileCases(facts), ...originStormCases()];
  const tally = await runHostile(origin.port, cases, cases.length * 3, 8);
  assert.deepEqual(
    {
      serverErrors: tally.serverErrors,
      nonJsonErrors: tally.nonJsonErrors,
      nonJsonHttpErrors: tally.nonJsonHttpErrors,
      lost: tally.lost,
    },
    { serverErrors: 0, nonJsonErrors: 0, nonJsonHttpErrors: 0, lost: 0 },
    tally.examples.join("\n"),
  );
  assert.equal((await fetch(`${origin.url}/v2/`)).status, 200, "the origin still answers");
  assert.equal(origin.process.exitCode, null);
  // Each image asked for is evaluated once, however often it was asked for: a second storm of the
  // same requests starts no Nix process at all (failures are remembered).
  const first = (await evaluations()) - before;
  assert.ok(first <= 6, `one evaluation per image asked for, got ${first}`);
  const again = await runHostile(origin.port, originStormCases(), 200, 16);
  assert.equal(again.serverErrors + again.lost, 0);
  assert.equal((await evaluations()) - before, first, "the second storm cost no evaluation");
  assert.ok(!origin.logs.some((line) => line.level === "error"), "no bug was logged");
  const silent = await idle;
  assert.ok(silent.closed || silent.error, "an idle connection is closed");
  assert.ok(silent.ms < 30_000, `closed after ${silent.ms} ms`);
});
