// The edge Worker in real workerd for tests (Miniflare, requests through dispatchFetch), with its
// JSON log lines collected. Mirrors stack/edge-runtime.ts, which test/ cannot import (project
// references point from test/ to shared/ and origin/ only).

import { build } from "esbuild";
import { Log, LogLevel, Miniflare } from "miniflare";
import type { Readable } from "node:stream";
import { repoRoot } from "./origin-process.ts";

export interface EdgeWorkerOptions {
  originUrl: string;
  originSecret?: string;
  pollSeconds?: number;
  deadlineSeconds?: number;
  persistDir?: string;
}

export interface EdgeWorker {
  miniflare: Miniflare;
  /** Every JSON line the Worker logged so far. */
  logs: Record<string, unknown>[];
  fetch(path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

let bundled: Promise<string> | null = null;

function bundleWorker(): Promise<string> {
  bundled ??= build({
    entryPoints: [`${repoRoot}worker/index.ts`],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    write: false,
    logLevel: "silent",
  }).then((result) => result.outputFiles[0]!.text);
  return bundled;
}

function collect(stream: Readable, logs: Record<string, unknown>[]): void {
  let pending = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      if (process.env.EDGE_DEBUG) process.stderr.write(`edge: ${line}\n`);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not one of the Worker's log lines
      }
    }
  });
}

export async function startEdgeWorker(options: EdgeWorkerOptions): Promise<EdgeWorker> {
  const bindings: Record<string, string> = { ORIGIN_URL: options.originUrl };
  if (options.originSecret) bindings.ORIGIN_SECRET = options.originSecret;
  if (options.pollSeconds) bindings.ORIGIN_POLL_SECONDS = String(options.pollSeconds);
  if (options.deadlineSeconds) bindings.BUILD_DEADLINE_SECONDS = String(options.deadlineSeconds);
  const logs: Record<string, unknown>[] = [];
  const persist = options.persistDir;
  const miniflare = new Miniflare({
    modules: [{ type: "ESModule", path: "index.js", contents: await bundleWorker() }],
    compatibilityDate: "2026-05-03",
    bindings,
    kvNamespaces: ["MANIFESTS"],
    r2Buckets: ["BLOBS"],
    cache: true,
    ...(persist
      ? { kvPersist: `${persist}/kv`, r2Persist: `${persist}/r2`, cachePersist: `${persist}/cache` }
      : {}),
    cf: false,
    log: new Log(LogLevel.WARN),
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      collect(stdout, logs);
      collect(stderr, logs);
    },
  });
  await miniflare.ready;
  return {
    miniflare,
    logs,
    async fetch(path, init) {
      const response = await miniflare.dispatchFetch(`http://edge.test${path}`, init as never);
      return response as unknown as Response;
    },
    stop: () => miniflare.dispose(),
  };
}
