// The origin's HTTP traffic and process figures for /metrics, in Prometheus text format: requests
// by route, method and status, latency histograms and bytes served by route, resident and heap
// memory, and event-loop lag. Recording is a few map updates per request (no I/O).

import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { matchRoute } from "../../shared/routes.ts";

/** Upper bounds of the latency buckets, in seconds: warm answers take ms, cold builds minutes. */
export const latencyBuckets = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1200,
] as const;

/** A bounded route name for labels: never the image name or digest a client sent. */
export function routeOf(path: string): string {
  if (path.startsWith("/v2")) {
    const route = matchRoute(path);
    return route ? `v2_${route.kind}` : "v2_other";
  }
  if (path.startsWith("/_origin/builds")) return "origin_builds";
  if (path.startsWith("/_origin/")) return "origin_upkeep";
  if (path === "/") return "start_page";
  if (path === "/healthz" || path === "/livez" || path === "/metrics") return path.slice(1);
  if (path.startsWith("/auth/") || path === "/token") return "token";
  return "other";
}

interface Latency {
  counts: number[];
  sum: number;
  count: number;
}

export class Traffic {
  readonly #requests = new Map<string, number>();
  readonly #latency = new Map<string, Latency>();
  readonly #bytes = new Map<string, number>();
  readonly #lag: IntervalHistogram;

  constructor() {
    this.#lag = monitorEventLoopDelay({ resolution: 20 });
    this.#lag.enable();
  }

  /** One answered (or abandoned: status 0) request. */
  record(method: string, path: string, status: number, bytes: number, seconds: number): void {
    const route = routeOf(path);
    const key = `${route}\u0000${method}\u0000${status}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    let latency = this.#latency.get(route);
    if (!latency) {
      latency = { counts: latencyBuckets.map(() => 0), sum: 0, count: 0 };
      this.#latency.set(route, latency);
    }
    for (let i = 0; i < latencyBuckets.length; i++) {
      if (seconds <= latencyBuckets[i]!) {
        latency.counts[i]!++;
        break;
      }
    }
    latency.sum += seconds;
    latency.count++;
    this.#bytes.set(route, (this.#bytes.get(route) ?? 0) + bytes);
  }

  stop(): void {
    this.#lag.disable();
  }

  render(): string {
    const lines: string[] = [];
    const head = (name: string, type: string, help: string) =>
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    head("nixery_http_requests_total", "counter", "HTTP requests by route, method and status.");
    for (const [key, count] of [...this.#requests].sort()) {
      const [route, method, status] = key.split("\u0000");
      lines.push(
        `nixery_http_requests_total{route="${route}",method="${method}",status="${status}"} ${count}`,
      );
    }
    head(
      "nixery_http_request_duration_seconds",
      "histogram",
      "Time from a request's arrival to the end of its response, by route.",
    );
    for (const [route, latency] of [...this.#latency].sort()) {
      let cumulative = 0;
      latencyBuckets.forEach((bound, i) => {
        cumulative += latency.counts[i]!;
        lines.push(
          `nixery_http_request_duration_seconds_bucket{route="${route}",le="${bound}"} ${cumulative}`,
        );
      });
      lines.push(
        `nixery_http_request_duration_seconds_bucket{route="${route}",le="+Inf"} ${latency.count}`,
        `nixery_http_request_duration_seconds_sum{route="${route}"} ${Number(latency.sum.toFixed(6))}`,
        `nixery_http_request_duration_seconds_count{route="${route}"} ${latency.count}`,
      );
    }
    head("nixery_http_response_bytes_total", "counter", "Response body bytes sent, by route.");
    for (const [route, bytes] of [...this.#bytes].sort()) {
      lines.push(`nixery_http_response_bytes_total{route="${route}"} ${bytes}`);
    }
    const memory = process.memoryUsage();
    head("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    lines.push(`process_resident_memory_bytes ${memory.rss}`);
    head("nodejs_heap_used_bytes", "gauge", "V8 heap in use, in bytes.");
    lines.push(`nodejs_heap_used_bytes ${memory.heapUsed}`);
    head("nodejs_heap_total_bytes", "gauge", "V8 heap reserved, in bytes.");
    lines.push(`nodejs_heap_total_bytes ${memory.heapTotal}`);
    head(
      "nodejs_external_memory_bytes",
      "gauge",
      "Memory of buffers and other objects outside V8's heap.",
    );
    lines.push(`nodejs_external_memory_bytes ${memory.external}`);
    const lag = this.#lag;
    const seconds = (ns: number) => (Number.isFinite(ns) ? Number((ns / 1e9).toFixed(6)) : 0);
    head(
      "nodejs_eventloop_lag_seconds",
      "gauge",
      "Event-loop delay since start (sampled every 20 ms), by quantile; max is the worst seen.",
    );
    for (const [quantile, value] of [
      ["0.5", lag.percentile(50)],
      ["0.99", lag.percentile(99)],
      ["1", lag.max],
    ] as const) {
      lines.push(`nodejs_eventloop_lag_seconds{quantile="${quantile}"} ${seconds(value)}`);
    }
    lines.push(`nodejs_eventloop_lag_seconds_mean ${seconds(lag.mean)}`);
    return `${lines.join("\n")}\n`;
  }
}
