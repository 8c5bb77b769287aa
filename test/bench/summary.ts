// The short table `npm run bench` ends with: each headline figure beside its baseline from the
// same run, as a ratio, with the goal it is held to (issue 21 and earlier ones) and whether it met
// it. Wall-time ratios on a shared machine move with its load, so the load average is printed too.

import type { ClosureBenchResult } from "./closure.ts";
import type { EdgeMemoryResult } from "./edge-memory.ts";
import type { EdgeMissResult } from "./edge-miss.ts";
import type { GcBenchResult } from "./gc.ts";
import type { ReuseResult } from "./layer-reuse.ts";
import type { PackBenchResult } from "./pack.ts";
import type { PackUploadResult } from "./pack-upload.ts";
import type { ServeResult } from "./serve.ts";

export interface SummaryRow {
  figure: string;
  measured: string;
  baseline: string;
  ratio: number;
  /** "≤ 0.55" or "≥ 4": the ratio the figure is held to; null when there is none. */
  goal: { at: "≤" | "≥"; ratio: number } | null;
}

export interface BenchResults {
  pack: PackBenchResult;
  packUpload?: PackUploadResult;
  serve: ServeResult[];
  edgeMiss: EdgeMissResult;
  edgeMemory?: EdgeMemoryResult;
  reuse: ReuseResult;
  gc: GcBenchResult;
  closure?: ClosureBenchResult;
}

export function summaryRows(r: BenchResults): SummaryRow[] {
  const s = (seconds: number) => `${seconds.toFixed(2)} s`;
  const rows: SummaryRow[] = [
    {
      figure: "one big layer: packLayer vs tar --sort=name | gzip -6",
      measured: s(r.pack.single.ours.median),
      baseline: s(r.pack.single.baseline.median),
      ratio: r.pack.single.ratio,
      goal: { at: "≤", ratio: 0.55 },
    },
    {
      figure: `${r.pack.parallel.layers} layers ×${r.pack.parallel.concurrency} vs baseline one by one`,
      measured: s(r.pack.parallel.ours.median),
      baseline: s(r.pack.parallel.baselineSequential.median),
      ratio: r.pack.parallel.ratio,
      goal: { at: "≤", ratio: 0.67 },
    },
    {
      figure: `peak RSS packing ${Math.round(r.pack.memory.treeMiB)} MiB vs the limit`,
      measured: `${Math.round(r.pack.memory.peakRssMiB)} MiB`,
      baseline: `${r.pack.memory.limitMiB} MiB`,
      ratio: round(r.pack.memory.peakRssMiB / r.pack.memory.limitMiB),
      goal: { at: "≤", ratio: 1 },
    },
  ];
  if (r.packUpload) {
    rows.push({
      figure: `pack + upload of ${r.packUpload.layerMiB} MiB to local S3 vs pack alone`,
      measured: s(r.packUpload.medians["pack and upload overlapped"]),
      baseline: s(r.packUpload.medians["pack alone"]),
      ratio: round(r.packUpload.ratio),
      goal: { at: "≤", ratio: 1.15 },
    });
    const { clientCpu, serverCpu } = r.packUpload;
    rows.push({
      figure: `  its packer's CPU vs packing alone (S3 server: ${s(serverCpu["pack and upload overlapped"])} CPU)`,
      measured: s(clientCpu["pack and upload overlapped"]),
      baseline: s(clientCpu["pack alone"]),
      ratio: round(clientCpu["pack and upload overlapped"] / clientCpu["pack alone"]),
      goal: null,
    });
  }
  const reference = r.serve[0];
  if (reference) {
    for (const target of r.serve.slice(1)) {
      const short = target.target.startsWith("origin") ? "origin" : "edge";
      rows.push(
        {
          figure: `${short}: warm manifests, 1 connection, vs docker-registry`,
          measured: `${target.manifestRps1.toFixed(0)} req/s`,
          baseline: `${reference.manifestRps1.toFixed(0)} req/s`,
          ratio: round(target.manifestRps1 / reference.manifestRps1),
          goal: null,
        },
        {
          figure: `${short}: warm manifests, 8 connections, vs docker-registry`,
          measured: `${target.manifestRps8.toFixed(0)} req/s`,
          baseline: `${reference.manifestRps8.toFixed(0)} req/s`,
          ratio: round(target.manifestRps8 / reference.manifestRps8),
          goal: short === "origin" ? { at: "≥", ratio: 4 } : null,
        },
        {
          figure: `${short}: warm blob, 1 connection, vs docker-registry`,
          measured: `${target.blobMBps.toFixed(0)} MB/s`,
          baseline: `${reference.blobMBps.toFixed(0)} MB/s`,
          ratio: round(target.blobMBps / reference.blobMBps),
          goal: short === "origin" ? { at: "≥", ratio: 1 } : null,
        },
      );
    }
  }
  if (r.edgeMemory) {
    const { edge, constant } = r.edgeMemory;
    const [, middle, end] = edge.samples;
    const constantEnd = constant.samples[constant.samples.length - 1]!;
    const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
    const k = (requests: number) => `${Math.round(requests / 1000)}k`;
    rows.push(
      {
        // Flat: the live heap after the second half of the load is what it was after the first
        // (the first requests build one-time state: compiled code, the router, the tables).
        figure: `edge: Worker heap after ${k(end!.requests)} warm requests vs after ${k(middle!.requests)}`,
        measured: mb(end!.heapBytes),
        baseline: mb(middle!.heapBytes),
        ratio: round(end!.heapBytes / middle!.heapBytes),
        goal: { at: "≤", ratio: 1.05 },
      },
      {
        figure: `edge: workerd RSS after ${k(end!.requests)} vs a constant Worker's`,
        measured: mb(end!.rssBytes),
        baseline: mb(constantEnd.rssBytes),
        ratio: round(end!.rssBytes / constantEnd.rssBytes),
        goal: null,
      },
    );
  }
  rows.push(
    {
      figure: "layer pull through a fresh edge vs origin-direct",
      measured: s(r.edgeMiss.edgeMissLayerPullSeconds),
      baseline: s(r.edgeMiss.originLayerPullSeconds),
      ratio: round(r.edgeMiss.layerPullRatio),
      goal: { at: "≤", ratio: 1.3 },
    },
    {
      figure: "layer reuse: downloaded vs not had (chain-ID client)",
      measured: `${(r.reuse.downloaded / 1e6).toFixed(1)} MB`,
      baseline: `${(r.reuse.missing / 1e6).toFixed(1)} MB`,
      ratio: round(r.reuse.ratio),
      goal: { at: "≤", ratio: 1.05 },
    },
    {
      figure: "collected image pulled again vs its first build",
      measured: `${(r.gc.restoreMs / 1000).toFixed(2)} s`,
      baseline: `${(r.gc.firstBuildMs / 1000).toFixed(2)} s`,
      ratio: round(r.gc.restoreMs / r.gc.firstBuildMs),
      goal: null,
    },
  );
  for (const image of r.closure?.images ?? []) {
    rows.push(
      {
        figure: `cold pull of ${image.image} (${image.paths} paths) vs tar | gzip -6`,
        measured: s(image.phases.pullMs / 1000),
        baseline: s(image.baselineMs / 1000),
        ratio: image.ratio,
        goal: { at: "≤", ratio: 0.6 },
      },
      {
        figure: `  its grouping vs 1 s, peak RSS vs 300 MiB, layers vs budget`,
        measured: `${(image.phases.groupingMs / 1000).toFixed(2)} s, ${Math.round(image.peakRssMiB)} MiB, ${image.layers}`,
        baseline: `1 s, 300 MiB, ${image.budget}`,
        ratio: round(
          Math.max(
            image.phases.groupingMs / 1000,
            image.peakRssMiB / 300,
            image.layers / image.budget,
          ),
        ),
        goal: { at: "≤", ratio: 1 },
      },
    );
  }
  return rows;
}

export function formatSummary(rows: SummaryRow[], loadAverage: string): string {
  const header = ["figure", "measured", "baseline", "ratio", "goal", ""];
  const table = rows.map((row) => [
    row.figure,
    row.measured,
    row.baseline,
    `${row.ratio.toFixed(2)}×`,
    row.goal ? `${row.goal.at} ${row.goal.ratio}×` : "",
    row.goal ? (met(row) ? "ok" : "MISSED") : "",
  ]);
  const widths = header.map((_, i) =>
    Math.max(...[header, ...table].map((cells) => cells[i]!.length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [`summary (load average ${loadAverage})`, line(header), ...table.map(line)].join("\n");
}

function met(row: SummaryRow): boolean {
  if (!row.goal) return true;
  return row.goal.at === "≤" ? row.ratio <= row.goal.ratio : row.ratio >= row.goal.ratio;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
