// The edge Worker in real workerd for tests: the local stack's runtime (stack/edge-runtime.ts,
// Miniflare, requests through dispatchFetch), with its JSON log lines collected.

import type { Miniflare } from "miniflare";
import { startEdgeRuntime, type EdgeRuntimeOptions } from "../../stack/edge-runtime.ts";

export interface EdgeWorkerOptions {
  originUrl: string;
  originSecret?: string;
  pollSeconds?: number;
  deadlineSeconds?: number;
  persistDir?: string;
  access?: EdgeRuntimeOptions["access"];
  limits?: EdgeRuntimeOptions["limits"];
  analytics?: EdgeRuntimeOptions["analytics"];
}

export interface EdgeWorker {
  miniflare: Miniflare;
  /** Every JSON line the Worker logged so far. */
  logs: Record<string, unknown>[];
  fetch(path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

export async function startEdgeWorker(options: EdgeWorkerOptions): Promise<EdgeWorker> {
  const logs: Record<string, unknown>[] = [];
  const runtime = await startEdgeRuntime({
    ...options,
    onLogLine(line) {
      if (process.env.EDGE_DEBUG) process.stderr.write(`edge: ${line}\n`);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not one of the Worker's log lines
      }
    },
  });
  return {
    miniflare: runtime.miniflare,
    logs,
    async fetch(path, init) {
      const response = await runtime.miniflare.dispatchFetch(
        `http://edge.test${path}`,
        init as never,
      );
      return response as unknown as Response;
    },
    stop: runtime.stop,
  };
}
