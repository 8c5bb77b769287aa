// `npm run hostile`: 10,000 hostile requests (test/load/hostile-cases.ts) at the edge of a local
// stack (`stack/start.ts`, the same as `npm start`) on free ports of 127.0.0.1, then checks of
// idle and slow connections and TLS probes; prints the tally. Bounded in count and time.
//
//   npm run hostile -- [--requests N] [--concurrency C] [--root DIR]
//
// `--root` runs the stack of another checkout (e.g. an older commit) with these same cases.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { localStackEnv, startLocalStack } from "../support/edge-stack.ts";
import { hostileCases, runHostile, tlsProbe } from "./hostile-cases.ts";
import { imageFactsOf } from "./image-facts.ts";
import { exchange } from "./raw-http.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "10000" },
    concurrency: { type: "string", default: "16" },
    root: { type: "string" },
  },
});

const work = await mkdtemp(join(tmpdir(), "nixery-hostile-"));
const env = await localStackEnv(join(work, "data"), {
  // 10,000 requests from one address include many tag misses of names that build nothing; what
  // is measured is how each is answered, not the cold-build limit (which would answer 429).
  NIXERY_BUILD_LIMIT: "0",
});
const stack = await startLocalStack(env, values.root);
try {
  const port = Number(stack.edgeHost.split(":").pop());
  const facts = await imageFactsOf(`http://${stack.edgeHost}`, "hello");
  const cases = hostileCases(facts);
  const count = Number(values.requests);
  console.error(`${count} hostile requests (${cases.length} kinds) at http://${stack.edgeHost}…`);
  const started = Date.now();
  const tally = await runHostile(port, cases, count, Number(values.concurrency), (so) =>
    console.error(
      `${so.requests}: ${so.serverErrors} 5xx, ${so.nonJsonErrors} non-JSON errors, ${so.lost} lost, ${so.wrongStatus} wrong status`,
    ),
  );
  const seconds = (Date.now() - started) / 1000;

  const tls = await Promise.all([1, 2, 3].map(() => tlsProbe(port)));
  const idle = await Promise.all([1, 2, 3].map(() => exchange(port, "", { timeoutMs: 60_000 })));
  const slow = await Promise.all(
    [1, 2, 3].map(() => exchange(port, "GET /v2/ HTTP/1.1\r\nHost: x\r\n", { timeoutMs: 60_000 })),
  );
  const summary = {
    ...tally,
    seconds,
    tlsClosedMs: Math.max(...tls.map((t) => (t.closed || t.error ? t.ms : Infinity))),
    tlsAnswered: tls.filter((t) => t.responses.length > 0).length,
    idleClosedMs: Math.max(...idle.map((t) => (t.closed || t.error ? t.ms : Infinity))),
    slowHeadersClosedMs: Math.max(...slow.map((t) => (t.closed || t.error ? t.ms : Infinity))),
    slowHeadersStatus: slow.map((t) => t.responses[0]?.status ?? null),
  };
  console.log(JSON.stringify(summary, null, 2));
} finally {
  await stack.stop();
  await rm(work, { recursive: true, force: true });
}
