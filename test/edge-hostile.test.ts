// Hostile input at the edge through the local stack (`stack/start.ts`, what `npm start` runs, on
// free ports): every case of test/load/hostile-cases.ts three times, answered without a 5xx, with
// registry JSON for every error, the right HTTP-level status for malformed HTTP, no answer lost
// on `Connection: close` with an unread body; TLS probes closed at once; idle and slow
// connections closed by the server. `npm run hostile` sends 10,000 of these requests.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { imageFactsOf } from "./load/image-facts.ts";
import { hostileCases, runHostile, tlsProbe, type ImageFacts } from "./load/hostile-cases.ts";
import { exchange } from "./load/raw-http.ts";
import { localStackEnv, startLocalStack, type LocalStack } from "./support/edge-stack.ts";

let work: string;
let stack: LocalStack;
let port: number;
let facts: ImageFacts;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "nixery-edge-hostile-"));
  stack = await startLocalStack(await localStackEnv(join(work, "data")));
  port = Number(stack.edgeHost.split(":").pop());
  facts = await imageFactsOf(`http://${stack.edgeHost}`, "hello");
});

after(async () => {
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

it("answers every hostile request: no 5xx, registry JSON errors, nothing lost", async () => {
  // Connections that send nothing, or never finish their header block, run alongside.
  const idle = exchange(port, "", { timeoutMs: 40_000 });
  const slow = exchange(port, "GET /v2/ HTTP/1.1\r\nHost: x\r\n", { timeoutMs: 40_000 });

  const cases = hostileCases(facts);
  const tally = await runHostile(port, cases, cases.length * 3, 8);
  assert.deepEqual(
    {
      serverErrors: tally.serverErrors,
      nonJsonErrors: tally.nonJsonErrors,
      nonJsonHttpErrors: tally.nonJsonHttpErrors,
      lost: tally.lost,
      wrongStatus: tally.wrongStatus,
    },
    { serverErrors: 0, nonJsonErrors: 0, nonJsonHttpErrors: 0, lost: 0, wrongStatus: 0 },
    tally.examples.join("\n"),
  );

  for (const connection of [await idle, await slow]) {
    assert.ok(connection.closed || connection.error, "the server closes a silent connection");
    assert.ok(connection.ms < 25_000, `closed after ${connection.ms} ms`);
    assert.equal(connection.responses[0]?.status, 408);
  }
});

it("never loses the answer to a request that closes with an unread body", async () => {
  const cases = hostileCases(facts).filter((c) => c.name === "Connection: close with unread body");
  const tally = await runHostile(port, cases, 30, 6);
  assert.equal(tally.lost, 0, tally.examples.join("\n"));
  assert.deepEqual(tally.byStatus, { 405: 30 });
});

it("closes TLS probes at once and without an answer", async () => {
  const probe = await tlsProbe(port);
  assert.equal(probe.responses.length, 0);
  assert.ok(probe.closed || probe.error);
  assert.ok(probe.ms < 1_000, `closed after ${probe.ms} ms`);
});
