// Prometheus text-format metrics at /metrics: build outcomes (from the build records, so they
// survive restarts), builds running and queued, manifest cache hits and layer reuse since start.

import type { ImageCounters } from "./builder/images.ts";
import type { BuildOutcome } from "./cache/build-records.ts";
import type { CollectorTotals } from "./gc/scheduler.ts";

export interface MetricsInput {
  buildOutcomes: Record<BuildOutcome, number>;
  builds: { running: number; queued: number };
  counters: ImageCounters;
  nixProcesses: ReadonlyMap<string, number>;
  collector: CollectorTotals;
}

export function renderMetrics(input: MetricsInput): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  metric(
    "nixery_builds_total",
    "counter",
    "Image builds by outcome, as recorded in the database.",
    Object.entries(input.buildOutcomes).map(([outcome, count]) => [
      `{outcome="${outcome}"}`,
      count,
    ]),
  );
  metric("nixery_builds_running", "gauge", "Builds running now.", [["", input.builds.running]]);
  metric("nixery_builds_queued", "gauge", "Builds waiting for a build slot.", [
    ["", input.builds.queued],
  ]);
  metric(
    "nixery_manifest_cache_total",
    "counter",
    "Tag requests by manifest cache result since start.",
    [
      ['{result="hit"}', input.counters.manifestHits],
      ['{result="miss"}', input.counters.manifestMisses],
    ],
  );
  metric(
    "nixery_layers_total",
    "counter",
    "Layers of built images, packed or reused from the layer cache, since start.",
    [
      ['{result="packed"}', input.counters.layersPacked],
      ['{result="reused"}', input.counters.layersReused],
    ],
  );
  metric(
    "nixery_build_requests_total",
    "counter",
    "Tag requests that needed no new build: joined a running one, or got a remembered failure.",
    [
      ['{result="joined"}', input.counters.jobsJoined],
      ['{result="failure_repeated"}', input.counters.failuresRepeated],
    ],
  );
  metric(
    "nixery_nix_processes_total",
    "counter",
    "Nix and git processes started since start, by command.",
    [...input.nixProcesses].sort().map(([command, count]) => [`{command="${command}"}`, count]),
  );
  metric(
    "nixery_restored_objects_total",
    "counter",
    "Collected manifests and blobs made again on request since start (same digests).",
    [["", input.counters.objectsRestored]],
  );
  const gc = input.collector;
  if (gc.stored) {
    metric("nixery_storage_objects", "gauge", "Objects in storage after the last collection.", [
      ["", gc.stored.objects],
    ]);
    metric("nixery_storage_bytes", "gauge", "Bytes in storage after the last collection.", [
      ["", gc.stored.bytes],
    ]);
  }
  metric("nixery_gc_runs_total", "counter", "Storage collections since start, by outcome.", [
    ['{outcome="done"}', gc.runs],
    ['{outcome="failed"}', gc.failures],
  ]);
  metric("nixery_gc_seconds_total", "counter", "Time spent collecting storage since start.", [
    ["", Number(gc.secondsTotal.toFixed(3))],
  ]);
  metric("nixery_gc_freed_bytes_total", "counter", "Bytes deleted by collections since start.", [
    ["", gc.bytesFreed],
  ]);
  metric(
    "nixery_gc_freed_objects_total",
    "counter",
    "Objects deleted by collections since start.",
    [["", gc.objectsFreed]],
  );
  return `${lines.join("\n")}\n`;
}
