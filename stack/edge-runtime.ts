// Runs the edge Worker in real workerd through Miniflare (no wrangler dev, no inspector): bundles
// worker/index.ts with esbuild and binds KV, R2 and the Cache API, persisted when asked, and the
// rate limiting bindings, which Miniflare simulates. Binding names, the compatibility date and
// flags match wrangler.toml.

import { build } from "esbuild";
import { Log, LogLevel, Miniflare } from "miniflare";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { defaultEdgeLimits } from "./config.ts";

const repoRoot = fileURLToPath(new URL("../", import.meta.url));
export const compatibilityDate = "2026-05-03";
/** bcryptjs imports node's `crypto` (and uses it only where Web Crypto is missing). */
export const compatibilityFlags = ["nodejs_compat"];

/** Failed logins per client and per user, and cold builds per client, each per minute. */
export interface EdgeLimits {
  loginFailures?: number;
  /** Unset: no cold-build limit (the binding is not bound). */
  coldBuilds?: number;
}

export interface EdgeRuntimeOptions {
  originUrl: string;
  originSecret?: string | null;
  pollSeconds?: number;
  deadlineSeconds?: number;
  /** Directory for KV, R2 and Cache data; in memory when absent. */
  persistDir?: string;
  /** Listen on 127.0.0.1:port (0 picks one); without it, only dispatchFetch works. */
  port?: number;
  host?: string;
  /**
   * Opens workerd's DevTools inspector on 127.0.0.1:port (0 picks one), for the memory bench and
   * tests that read the Worker's heap; off by default, as in the local stack.
   */
  inspectorPort?: number;
  /** Receives every line the Worker logs (default: written to this process's stdout). */
  onLogLine?: (line: string) => void;
  /** Makes the edge private: its users (htpasswd text) and the token keys it shares with the origin. */
  access?: {
    htpasswd: string;
    tokenKeys: string[];
    tokenSeconds?: number;
    anonymousPull?: boolean;
  };
  limits?: EdgeLimits;
  /** The Worker as one ES module (default: worker/index.ts bundled; tests pass their own). */
  script?: string;
  /**
   * The EDGE_ANALYTICS binding: Miniflare's local Analytics Engine (which keeps nothing; the
   * default), or a recorder in workerd that logs each data point as a JSON line
   * ({"event":"analytics data point",…}) so tests can read what the Worker wrote.
   */
  analytics?: "local" | "recorder";
}

/** A stand-in Analytics Engine dataset, run in workerd as a wrapped binding. */
const analyticsRecorder = `export default function () {
  return {
    writeDataPoint(point) {
      console.log(JSON.stringify({ event: "analytics data point", ...point }));
    },
  };
}`;

export interface EdgeRuntime {
  miniflare: Miniflare;
  /** The listening URL (when a port was given). */
  url: URL | null;
  /** workerd's inspector (ws://…), when `inspectorPort` was given. */
  inspector: URL | null;
  stop(): Promise<void>;
}

/** The Worker (or another entry point, such as a test Worker) as one ES module. */
export async function bundleWorker(entryPoint = `${repoRoot}worker/index.ts`): Promise<string> {
  const result = await build({
    entryPoints: [entryPoint],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    // Node's built-ins stay imports: workerd provides them under nodejs_compat, as wrangler does.
    external: ["crypto", "node:*"],
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

function forwardLines(stream: Readable, onLine: (line: string) => void): void {
  let pending = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) onLine(line);
  });
}

export async function startEdgeRuntime(options: EdgeRuntimeOptions): Promise<EdgeRuntime> {
  const script = options.script ?? (await bundleWorker());
  const bindings: Record<string, string> = { ORIGIN_URL: options.originUrl };
  if (options.originSecret) bindings.ORIGIN_SECRET = options.originSecret;
  if (options.pollSeconds) bindings.ORIGIN_POLL_SECONDS = String(options.pollSeconds);
  if (options.deadlineSeconds) bindings.BUILD_DEADLINE_SECONDS = String(options.deadlineSeconds);
  if (options.access) {
    bindings.HTPASSWD = options.access.htpasswd;
    bindings.TOKEN_KEY = options.access.tokenKeys.join(" ");
    if (options.access.tokenSeconds) bindings.TOKEN_SECONDS = String(options.access.tokenSeconds);
    if (options.access.anonymousPull) bindings.ANONYMOUS_PULL = "true";
  }
  const limits = options.limits ?? {};
  const ratelimits: Record<string, { simple: { limit: number; period: 60 } }> = {
    LOGIN_LIMITER: {
      simple: { limit: limits.loginFailures ?? defaultEdgeLimits.loginFailures, period: 60 },
    },
  };
  if (limits.coldBuilds) {
    ratelimits.BUILD_LIMITER = { simple: { limit: limits.coldBuilds, period: 60 } };
  }
  const onLine = options.onLogLine ?? ((line: string) => process.stdout.write(`${line}\n`));
  const persist = options.persistDir;
  const edge = {
    name: "nixery-edge",
    modules: [{ type: "ESModule" as const, path: "index.js", contents: script }],
    compatibilityDate,
    compatibilityFlags,
    bindings,
    ratelimits,
    kvNamespaces: ["MANIFESTS"],
    r2Buckets: ["BLOBS"],
    cache: true,
    ...(options.analytics === "recorder"
      ? { wrappedBindings: { EDGE_ANALYTICS: { scriptName: "analytics-recorder" } } }
      : { analyticsEngineDatasets: { EDGE_ANALYTICS: { dataset: "nixery_edge" } } }),
  };
  const recorder = {
    name: "analytics-recorder",
    modules: [{ type: "ESModule" as const, path: "recorder.js", contents: analyticsRecorder }],
  };
  const miniflare = new Miniflare({
    workers: options.analytics === "recorder" ? [edge, recorder] : [edge],
    ...(persist
      ? { kvPersist: `${persist}/kv`, r2Persist: `${persist}/r2`, cachePersist: `${persist}/cache` }
      : {}),
    cf: false,
    ...(options.port !== undefined
      ? { port: options.port, host: options.host ?? "127.0.0.1" }
      : {}),
    ...(options.inspectorPort !== undefined ? { inspectorPort: options.inspectorPort } : {}),
    log: new Log(LogLevel.WARN),
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      forwardLines(stdout, onLine);
      forwardLines(stderr, onLine);
    },
  });
  const url = await miniflare.ready;
  return {
    miniflare,
    url: options.port !== undefined ? url : null,
    inspector: options.inspectorPort !== undefined ? await miniflare.getInspectorURL() : null,
    stop: () => miniflare.dispose(),
  };
}
