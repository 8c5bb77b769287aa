// The worker unit tests' harness (worker/*.test.ts): the edge app bundled with an in-memory origin
// (test/workerd/edge-test-worker.ts) and run in real workerd by the local stack's runtime
// (stack/edge-runtime.ts: Miniflare with KV, R2, the Cache API and the rate limiting bindings of
// wrangler.toml); no origin process, no Nix.

import type { Miniflare } from "miniflare";
import { bundleWorker, startEdgeRuntime } from "../../stack/edge-runtime.ts";
import type { OriginCall, OriginScenario } from "../workerd/origin-scenario.ts";
import { openInspector, workerTarget, type HeapUsage } from "./inspector.ts";
import { repoRoot } from "./origin-process.ts";
import { waitFor } from "./wait-for.ts";

export type { BlobAnswer, OriginCall, OriginScenario } from "../workerd/origin-scenario.ts";

export const edgeSecret = "unit-test-secret";

export interface WorkerdEdgeOptions {
  /** ORIGIN_URL (default http://origin.test). */
  originUrl?: string;
  /** ORIGIN_SECRET (default edgeSecret). */
  originSecret?: string;
  pollSeconds?: number;
  deadlineSeconds?: number;
  access?: { htpasswd: string; tokenKeys: string[]; anonymousPull?: boolean };
  limits?: { loginFailures?: number; coldBuilds?: number };
  /** Opens workerd's inspector, for heapUsage(). */
  inspect?: boolean;
}

export interface WorkerdEdge {
  miniflare: Miniflare;
  /** Where the edge listens (127.0.0.1). */
  url: URL;
  /** Every JSON line the Worker logged so far. */
  logs: Record<string, unknown>[];
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Replaces what the in-memory origin holds (its secret defaults to edgeSecret). */
  setOrigin(scenario: Partial<OriginScenario>): Promise<void>;
  /** Every request the edge made to the origin so far. */
  originCalls(): Promise<OriginCall[]>;
  /** Moves the edge's clock (tag records, cached answers, blob copies) forward. */
  advanceClock(ms: number): Promise<void>;
  /** Whether the Cache API holds a blob or a manifest by this digest. */
  cached(digest: string): Promise<{ blob: boolean; manifest: boolean }>;
  /** Resolves with the first log line `match` accepts, or fails after `timeoutMs`. */
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** The Worker's JS heap after a full collection (needs `inspect`). */
  heapUsage(): Promise<HeapUsage>;
  stop(): Promise<void>;
}

const bundles = new Map<string, Promise<string>>();

/** A test Worker (a file under test/workerd/) and what it imports, as one ES module. */
export function bundleTestWorker(entry: string): Promise<string> {
  let bundled = bundles.get(entry);
  if (!bundled) {
    bundled = bundleWorker(`${repoRoot}test/workerd/${entry}`);
    bundles.set(entry, bundled);
  }
  return bundled;
}

export async function startWorkerdEdge(options: WorkerdEdgeOptions = {}): Promise<WorkerdEdge> {
  const logs: Record<string, unknown>[] = [];
  const runtime = await startEdgeRuntime({
    originUrl: options.originUrl ?? "http://origin.test",
    originSecret: options.originSecret ?? edgeSecret,
    pollSeconds: options.pollSeconds,
    deadlineSeconds: options.deadlineSeconds,
    access: options.access,
    limits: options.limits,
    port: 0,
    script: await bundleTestWorker("edge-test-worker.ts"),
    ...(options.inspect ? { inspectorPort: 0 } : {}),
    onLogLine(line) {
      if (process.env.EDGE_DEBUG) process.stderr.write(`edge: ${line}\n`);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not one of the Worker's log lines
      }
    },
  });
  const { miniflare } = runtime;
  // Over real HTTP (not dispatchFetch, whose requests queue behind an unfinished body).
  const url = runtime.url!;
  const fetchEdge = (path: string, init?: RequestInit): Promise<Response> =>
    fetch(new URL(path, url), init);
  const control = async (path: string, init?: RequestInit): Promise<Response> => {
    const response = await fetchEdge(`/__test/${path}`, init);
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response;
  };
  return {
    miniflare,
    url,
    logs,
    fetch: fetchEdge,
    async setOrigin(scenario) {
      const whole: OriginScenario = {
        secret: edgeSecret,
        builds: {},
        manifests: {},
        blobs: {},
        tagLists: {},
        ...scenario,
      };
      await (await control("origin", { method: "PUT", body: JSON.stringify(whole) })).arrayBuffer();
    },
    async originCalls() {
      return (await (await control("origin-calls")).json()) as OriginCall[];
    },
    async advanceClock(ms) {
      await (await control(`clock?advanceMs=${ms}`, { method: "POST" })).arrayBuffer();
    },
    async cached(digest) {
      return (await (await control(`cached?digest=${digest}`)).json()) as {
        blob: boolean;
        manifest: boolean;
      };
    },
    waitForLog: (match, timeoutMs) =>
      waitFor(`a log line (${logs.length} so far)`, () => logs.find(match), { timeoutMs }),
    async heapUsage() {
      if (!runtime.inspector)
        throw new Error("heapUsage needs startWorkerdEdge({ inspect: true })");
      const session = await openInspector(runtime.inspector, workerTarget("nixery-edge"));
      try {
        return await session.heapUsage();
      } finally {
        session.close();
      }
    },
    stop: runtime.stop,
  };
}
