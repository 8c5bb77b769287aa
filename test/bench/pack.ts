// Layer packing benchmark: packLayer against `tar --sort=name | gzip -6` on the same real files,
// (a) one layer, (b) several layers two at a time against the baseline one after another, and
// (c) the peak RSS of packing a ≥ 1 GiB tree in a child process against the 200 MB limit.

import { mapLimited } from "../../origin/builder/limiter.ts";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { DeflatePool } from "../../origin/pack/deflate-pool.ts";
import { packLayer } from "../../origin/pack/pack-layer.ts";
import { storePathEntries } from "../../origin/pack/store-entries.ts";
import { baselinePack } from "./pack-baseline.ts";
import { buildBigTree, buildDataset } from "./pack-dataset.ts";

export interface PackBenchOptions {
  /** Timed runs per measurement (after one untimed warm-up run of each). */
  runs: number;
  /** Bytes per package; the dataset has four packages. */
  packageBytes: number;
  /** Size of the tree packed for the memory measurement. */
  bigBytes: number;
  concurrency: number;
}

export const defaultPackBenchOptions: PackBenchOptions = {
  runs: 5,
  packageBytes: 30 * 1024 * 1024,
  bigBytes: 1024 * 1024 * 1024 + 64 * 1024 * 1024,
  concurrency: 2,
};

export interface Timing {
  /** Wall seconds of each run, in order. */
  seconds: number[];
  median: number;
  /** Median CPU seconds (user + system, all threads or child processes): robust to other load. */
  cpuMedian: number;
}

export interface PackBenchResult {
  /** 1-minute load average before and after: wall-time ratios mean little on a busy machine. */
  loadAverage: { before: number; after: number; cores: number };
  dataset: { packages: number; files: number; mib: number };
  single: {
    ours: Timing;
    baseline: Timing;
    ratio: number;
    cpuRatio: number;
    gzipMiB: number;
    baselineGzipMiB: number;
    /** The layer's digest packed with 1, 2 and 4 workers: one digest, whatever the core count. */
    digestByWorkers: { workers: number; digest: string }[];
  };
  parallel: {
    layers: number;
    concurrency: number;
    ours: Timing;
    baselineSequential: Timing;
    ratio: number;
    cpuRatio: number;
  };
  memory: {
    treeMiB: number;
    peakRssMiB: number;
    rssBeforeMiB: number;
    limitMiB: number;
    seconds: number;
  };
}

const MiB = 1024 * 1024;
const rssLimitMiB = 200;

export async function runPackBench(
  options: PackBenchOptions = defaultPackBenchOptions,
): Promise<PackBenchResult> {
  const loadBefore = await loadAverage();
  const work = await mkdtemp(join(tmpdir(), "bench-pack-"));
  try {
    const dataset = await buildDataset(join(work, "data"), options.packageBytes);
    const paths = dataset.packages;
    const out = (name: string) => join(work, name);

    // (a) one layer of every package.
    let gzipBytes = 0;
    let baselineBytes = 0;
    const single = await alternate(
      options.runs,
      async () => {
        gzipBytes = (await packLayer(storePathEntries(paths), out("ours.tar.gz"))).size;
        return 0;
      },
      async () => {
        const run = await baselinePack(paths, out("baseline.tar.gz"));
        baselineBytes = run.size;
        return run.cpuSeconds;
      },
    );

    const digestByWorkers = [];
    for (const workers of [1, 2, 4]) {
      const pool = new DeflatePool(workers);
      try {
        const packed = await packLayer(storePathEntries(paths), out(`workers-${workers}.tar.gz`), {
          pool,
        });
        digestByWorkers.push({ workers, digest: packed.digest });
      } finally {
        await pool.close();
      }
    }

    // (b) one layer per package, `concurrency` at a time, against the baseline one after another.
    const parallel = await alternate(
      options.runs,
      async () => {
        await mapLimited(paths, options.concurrency, (path, i) =>
          packLayer(storePathEntries([path]), out(`ours-${i}.tar.gz`)),
        );
        return 0;
      },
      async () => {
        let cpuSeconds = 0;
        for (const [i, path] of paths.entries()) {
          cpuSeconds += (await baselinePack([path], out(`baseline-${i}.tar.gz`))).cpuSeconds;
        }
        return cpuSeconds;
      },
    );

    // (c) peak memory for a tree of at least bigBytes, in a fresh process.
    const bigTree = join(work, "big");
    const treeBytes = await buildBigTree(dataset, bigTree, options.bigBytes);
    const child = await packInChild(bigTree, out("big.tar.gz"));

    return {
      loadAverage: {
        before: loadBefore,
        after: await loadAverage(),
        cores: availableParallelism(),
      },
      dataset: { packages: paths.length, files: dataset.files, mib: round(dataset.bytes / MiB) },
      single: {
        ours: single.ours,
        baseline: single.baseline,
        ratio: round(single.ours.median / single.baseline.median),
        cpuRatio: round(single.ours.cpuMedian / single.baseline.cpuMedian),
        gzipMiB: round(gzipBytes / MiB),
        baselineGzipMiB: round(baselineBytes / MiB),
        digestByWorkers,
      },
      parallel: {
        layers: paths.length,
        concurrency: options.concurrency,
        ours: parallel.ours,
        baselineSequential: parallel.baseline,
        ratio: round(parallel.ours.median / parallel.baseline.median),
        cpuRatio: round(parallel.ours.cpuMedian / parallel.baseline.cpuMedian),
      },
      memory: {
        treeMiB: round(treeBytes / MiB),
        peakRssMiB: round(child.peakRssKiB / 1024),
        rssBeforeMiB: round(child.rssBeforeKiB / 1024),
        limitMiB: rssLimitMiB,
        seconds: round(child.seconds),
      },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export function formatPackBench(r: PackBenchResult): string {
  const s = (t: Timing) =>
    `${t.median.toFixed(2)} s (${t.seconds.map((x) => x.toFixed(2)).join(" ")})`;
  const rows = [
    [
      "load average before/after",
      `${r.loadAverage.before} / ${r.loadAverage.after} on ${r.loadAverage.cores} cores`,
    ],
    ["dataset", `${r.dataset.packages} packages, ${r.dataset.files} files, ${r.dataset.mib} MiB`],
    ["(a) one layer: packLayer", `${s(r.single.ours)} → ${r.single.gzipMiB} MiB`],
    ["(a) one layer: tar | gzip -6", `${s(r.single.baseline)} → ${r.single.baselineGzipMiB} MiB`],
    [
      "(a) ratio ours/baseline (goal ≤ 0.55)",
      `${r.single.ratio}× wall ${r.single.ratio <= 0.55 ? "ok" : "MISSED"}, ${r.single.cpuRatio}× CPU`,
    ],
    [
      "(a) digest with 1, 2, 4 workers",
      new Set(r.single.digestByWorkers.map((d) => d.digest)).size === 1
        ? `one digest ${r.single.digestByWorkers[0]?.digest.slice(0, 19)}…`
        : `DIFFERENT: ${r.single.digestByWorkers.map((d) => `${d.workers}: ${d.digest}`).join(", ")}`,
    ],
    [`(b) ${r.parallel.layers} layers, packLayer ×${r.parallel.concurrency}`, s(r.parallel.ours)],
    [`(b) ${r.parallel.layers} layers, baseline sequential`, s(r.parallel.baselineSequential)],
    [
      "(b) ratio ours/baseline (goal ≤ 0.67)",
      `${r.parallel.ratio}× ${r.parallel.ratio <= 0.67 ? "ok" : "MISSED"}`,
    ],
    [
      `(c) peak RSS packing ${r.memory.treeMiB} MiB`,
      `${r.memory.peakRssMiB} MiB (at start ${r.memory.rssBeforeMiB} MiB)`,
    ],
    [
      `(c) limit ${r.memory.limitMiB} MiB`,
      `${r.memory.peakRssMiB < r.memory.limitMiB ? "ok" : "EXCEEDED"}, packed in ${r.memory.seconds} s`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k!.length));
  return rows.map(([k, v]) => `${k!.padEnd(width)}  ${v}`).join("\n");
}

/**
 * Runs both once untimed (page cache, JIT), then `runs` times each, interleaved so load drift hits
 * both. Each run resolves to the CPU seconds of its child processes; the process's own CPU is added.
 */
async function alternate(
  runs: number,
  ours: () => Promise<number>,
  baseline: () => Promise<number>,
): Promise<{ ours: Timing; baseline: Timing }> {
  await ours();
  await baseline();
  const oursRuns: Run[] = [];
  const baselineRuns: Run[] = [];
  for (let i = 0; i < runs; i++) {
    oursRuns.push(await timed(ours));
    baselineRuns.push(await timed(baseline));
  }
  return { ours: timing(oursRuns), baseline: timing(baselineRuns) };
}

interface Run {
  wall: number;
  cpu: number;
}

async function timed(run: () => Promise<number>): Promise<Run> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const childCpu = await run();
  const wall = (performance.now() - started) / 1000;
  const own = process.cpuUsage(cpuBefore);
  return { wall, cpu: childCpu + (own.user + own.system) / 1e6 };
}

function timing(runs: Run[]): Timing {
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return {
    seconds: runs.map((r) => round(r.wall)),
    median: round(median(runs.map((r) => r.wall))),
    cpuMedian: round(median(runs.map((r) => r.cpu))),
  };
}

interface ChildReport {
  seconds: number;
  rssBeforeKiB: number;
  peakRssKiB: number;
}

function packInChild(path: string, destination: string): Promise<ChildReport> {
  const script = fileURLToPath(new URL("./pack-rss-child.ts", import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, path, destination], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve(JSON.parse(stdout.trim()) as ChildReport)
        : reject(new Error(`child exit ${code}`)),
    );
  });
}

async function loadAverage(): Promise<number> {
  return Number((await readFile("/proc/loadavg", "utf8")).split(" ")[0]);
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
