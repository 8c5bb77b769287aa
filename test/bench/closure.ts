// Cold pulls of closures of real size: the generated package set (closure-set.ts, built once and
// kept under a GC root), a fresh origin for every pull (filesystem storage in a temporary data
// directory, or the local S3 server), and per image the pull split by phase from the origin's
// "build phases" log line, its peak RSS (VmHWM), and its layer count against the budget, beside
// `tar -c --sort=name | gzip -6` of the same store paths, alternated run by run.
//
//   npx tsx test/bench/closure.ts [runs] [s3] [image…]

import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { mediaTypes } from "../../shared/media-types.ts";
import { mapLimited } from "../../origin/builder/limiter.ts";
import { exitedEarly, startOrigin } from "../support/origin-process.ts";
import { processCpuSeconds } from "../support/process-cpu.ts";
import { waitFor } from "../support/wait-for.ts";
import { originS3Env, startS3Server, type S3TestServer } from "../support/s3-server.ts";
import { closureImages, defaultClosureSetDir } from "./closure-set.ts";
import { ensureClosureSet, nixEnv, pathInfo, type ClosureSetFigures } from "./closure-set-build.ts";
import { baselinePack } from "./pack-baseline.ts";

const run = promisify(execFile);
const budget = 94;
const phaseNames = [
  "lookupMs",
  "realiseMs",
  "closureMs",
  "groupingMs",
  "layersMs",
  "packMs",
  "storeMs",
  "manifestsMs",
  "publishingMs",
] as const;

export interface ClosureImageResult {
  image: string;
  paths: number;
  narBytes: number;
  layers: number;
  budget: number;
  /** Medians over the runs, in ms: the origin's phases, the blob download, the whole pull. */
  phases: Record<(typeof phaseNames)[number] | "downloadMs" | "pullMs", number>;
  baselineMs: number;
  gzipBytes: number;
  baselineGzipBytes: number;
  peakRssMiB: number;
  ratio: number;
  /** The build alone (the manifest's answer, without the download) over the baseline. */
  buildRatio: number;
  /** Median CPU seconds of the origin (with the Nix processes it waited for) and of the baseline. */
  cpuSeconds: number;
  baselineCpuSeconds: number;
}

export interface ClosureBenchResult {
  set: ClosureSetFigures;
  storage: "filesystem" | "s3";
  runs: number;
  images: ClosureImageResult[];
  load: [string, string];
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const loadAverage = async () => (await readFile("/proc/loadavg", "utf8")).split(" ")[0]!;

/**
 * A fresh origin indexes its package set in the background at start (one evaluation of every
 * package): a cost of the origin's start, not of a pull. One origin builds the index here, and
 * every pull's origin starts with a copy of it, so that the pulls measure the pull alone.
 */
async function buildPackageIndex(dir: string, work: string): Promise<string> {
  const dataDir = join(work, "index-origin");
  const origin = await startOrigin({ pkgsPath: dir, dataDir });
  try {
    await waitFor(
      "the package index of the generated set",
      () => origin.logs.some((entry) => entry.event === "package index ready"),
      { timeoutMs: 600_000, failIf: () => exitedEarly(origin) },
    );
  } finally {
    await origin.stop();
  }
  return dataDir;
}

async function copyPackageIndex(from: string, to: string): Promise<void> {
  for (const name of await readdir(from)) {
    if (name.startsWith("package-index.sqlite")) await copyFile(join(from, name), join(to, name));
  }
}

const downloadConcurrency = 3;

/** One cold pull from a fresh origin: manifest (the build), then every blob, three at a time. */
async function coldPull(
  dir: string,
  image: string,
  s3: S3TestServer | null,
  indexDir: string,
): Promise<{
  phases: Record<string, number>;
  layers: number;
  gzipBytes: number;
  peakRssMiB: number;
  cpuSeconds: number;
}> {
  const dataDir = await mkdtemp(join(tmpdir(), "bench-closure-origin-"));
  await copyPackageIndex(indexDir, dataDir);
  const origin = await startOrigin({ pkgsPath: dir, dataDir, env: s3 ? originS3Env(s3) : {} });
  try {
    const cpuBefore = await processCpuSeconds(origin.process.pid!);
    const started = performance.now();
    const response = await fetch(`${origin.url}/v2/${image}/manifests/latest`, {
      headers: { Accept: mediaTypes.dockerManifest },
    });
    if (response.status !== 200)
      throw new Error(`${image}: ${response.status} ${await response.text()}`);
    const manifest = (await response.json()) as { layers: { digest: string; size: number }[] };
    const built = performance.now();
    // Three layers at a time, as docker pulls (its max-concurrent-downloads).
    await mapLimited(manifest.layers, downloadConcurrency, async (layer) => {
      const blob = await fetch(`${origin.url}/v2/${image}/blobs/${layer.digest}`);
      if (blob.status !== 200) throw new Error(`${image} ${layer.digest}: ${blob.status}`);
      for await (const _ of blob.body!);
    });
    const done = performance.now();
    const status = await readFile(`/proc/${origin.process.pid}/status`, "utf8");
    const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
    const line = origin.logs.find((entry) => entry.event === "build phases");
    if (!line) throw new Error(`${image}: no "build phases" log line`);
    const phases: Record<string, number> = {};
    for (const name of phaseNames) phases[name] = Number(line[name] ?? 0);
    phases.downloadMs = done - built;
    phases.pullMs = done - started;
    return {
      phases,
      layers: manifest.layers.length,
      gzipBytes: manifest.layers.reduce((sum, layer) => sum + layer.size, 0),
      peakRssMiB: peakKiB / 1024,
      cpuSeconds: (await processCpuSeconds(origin.process.pid!)) - cpuBefore,
    };
  } finally {
    await origin.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export async function runClosureBench(
  runs = 3,
  storage: "filesystem" | "s3" = "filesystem",
  only: readonly string[] = [],
): Promise<ClosureBenchResult> {
  const loadBefore = await loadAverage();
  const dir = defaultClosureSetDir;
  const set = await ensureClosureSet(dir);
  const s3 = storage === "s3" ? await startS3Server() : null;
  const work = await mkdtemp(join(tmpdir(), "bench-closure-"));
  const images: ClosureImageResult[] = [];
  try {
    const indexDir = await buildPackageIndex(dir, work);
    const names = closureImages.map((image) => image.name);
    for (const name of names.filter((name) => only.length === 0 || only.includes(name))) {
      const { stdout } = await run("nix-build", [dir, "-A", name, "--no-out-link"], {
        env: nixEnv,
      });
      const closure = await pathInfo([stdout.trim()]);
      const paths = [...closure.keys()].sort();
      const pulls: Awaited<ReturnType<typeof coldPull>>[] = [];
      const baselines: { ms: number; size: number; cpuSeconds: number }[] = [];
      for (let i = 0; i < runs; i++) {
        const started = performance.now();
        const { size, cpuSeconds } = await baselinePack(paths, join(work, "baseline.tar.gz"));
        baselines.push({ ms: performance.now() - started, size, cpuSeconds });
        await rm(join(work, "baseline.tar.gz"));
        pulls.push(await coldPull(dir, name, s3, indexDir));
      }
      const phases = Object.fromEntries(
        [...phaseNames, "downloadMs", "pullMs"].map((phase) => [
          phase,
          median(pulls.map((pull) => pull.phases[phase]!)),
        ]),
      ) as ClosureImageResult["phases"];
      const baselineMs = median(baselines.map((b) => b.ms));
      images.push({
        image: name,
        paths: paths.length,
        narBytes: [...closure.values()].reduce((sum, path) => sum + path.narSize, 0),
        layers: pulls[0]!.layers,
        budget: budget + 1,
        phases,
        baselineMs,
        gzipBytes: pulls[0]!.gzipBytes,
        baselineGzipBytes: baselines[0]!.size,
        peakRssMiB: Math.max(...pulls.map((pull) => pull.peakRssMiB)),
        cpuSeconds: median(pulls.map((pull) => pull.cpuSeconds)),
        baselineCpuSeconds: median(baselines.map((b) => b.cpuSeconds)),
        ratio: Math.round((phases.pullMs / baselineMs) * 100) / 100,
        buildRatio: Math.round(((phases.pullMs - phases.downloadMs) / baselineMs) * 100) / 100,
      });
    }
  } finally {
    await s3?.stop();
    await rm(work, { recursive: true, force: true });
  }
  const { all: _, ...figures } = set;
  return { set: figures, storage, runs, images, load: [loadBefore, await loadAverage()] };
}

export function formatClosureBench(r: ClosureBenchResult): string {
  const s = (ms: number) => (ms / 1000).toFixed(2);
  const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;
  const header = [
    "image",
    "paths",
    "layers",
    "lookup",
    "realise",
    "closure",
    "group",
    "pack+store",
    "(Σpack",
    "Σstore)",
    "manifests",
    "publish",
    "download",
    "pull",
    "tar|gzip",
    "ratio",
    "build",
    "peak RSS",
    "CPU s",
    "tar|gzip CPU",
  ];
  const rows = r.images.map((image) => [
    image.image,
    String(image.paths),
    `${image.layers}/${image.budget}`,
    s(image.phases.lookupMs),
    s(image.phases.realiseMs),
    s(image.phases.closureMs),
    s(image.phases.groupingMs),
    s(image.phases.layersMs),
    s(image.phases.packMs),
    s(image.phases.storeMs),
    s(image.phases.manifestsMs),
    s(image.phases.publishingMs),
    s(image.phases.downloadMs),
    s(image.phases.pullMs),
    s(image.baselineMs),
    `${image.ratio.toFixed(2)}×`,
    `${image.buildRatio.toFixed(2)}×`,
    `${Math.round(image.peakRssMiB)} MiB`,
    image.cpuSeconds.toFixed(1),
    image.baselineCpuSeconds.toFixed(1),
  ]);
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padStart(widths[i]!)).join("  ");
  const set = r.set;
  return [
    `closure of real size: ${set.paths} store paths, ${set.files} files, ${set.symlinks} symlinks, ` +
      `${gb(set.bytes)}, depth ${set.depth} (set written in ${set.writeSeconds.toFixed(1)} s, ` +
      `nix-build ${set.buildSeconds.toFixed(1)} s)`,
    `cold pulls from a fresh origin (${r.storage} storage), seconds, medians of ${r.runs} runs; ` +
      `Σpack and Σstore are summed over layers packed concurrently; load ${r.load.join(" → ")}`,
    line(header),
    ...rows.map(line),
    ...r.images.map(
      (image) =>
        `  ${image.image}: ${gb(image.narBytes)} in the closure, ${gb(image.gzipBytes)} in layers, ` +
        `${gb(image.baselineGzipBytes)} by tar|gzip -6 (${(image.narBytes / image.baselineGzipBytes).toFixed(2)}:1)`,
    ),
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // [runs] [s3] [image…]: e.g. `3 data-stack` or `1 s3 desktop-app`.
  const [runs = "3", ...rest] = process.argv.slice(2);
  const storage = rest[0] === "s3" ? "s3" : "filesystem";
  const only = rest.filter((arg) => arg !== "s3");
  console.log(formatClosureBench(await runClosureBench(Number(runs), storage, only)));
}
