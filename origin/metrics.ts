// Prometheus text-format metrics at /metrics: build outcomes (from the build records, so they
// survive restarts), builds running and queued, manifest cache hits and layer reuse since start.

import type { BuildOutcome } from "./cache/build-records.ts";

export interface MetricsInput {
  buildOutcomes: Record<BuildOutcome, number>;
  builds: { running: number; queued: number };
  counters: {
    manifestHits: number;
    manifestMisses: number;
    jobsJoined: number;
    failuresRepeated: number;
    layersPacked: number;
    layersReused: number;
  };
  nixProcesses: ReadonlyMap<string, number>;
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
  return `${lines.join("\n")}\n`;
}
