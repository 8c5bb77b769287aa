// What a second platform costs: for each image, a fresh origin (empty data dir) answers the first
// pull with one platform (linux/amd64) and with two (linux/amd64,linux/arm64, an index). Printed:
// the time of that first answer (median of several runs; the Nix outputs are realised once up
// front, so this is the origin's own work: evaluation, closure, packing, publishing), storage
// after it, and what one client downloads (one platform's layers, whatever the index lists). Then
// a never-built package through a Nix remote builder (sshd on 127.0.0.1), cold Nix build included,
// against the same origin building it itself. `npx tsx test/bench/platforms.ts` runs it alone.

import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";
import { indexAccept, type IndexBody } from "../support/platform-pulls.ts";
import { writeProbeSet } from "../support/probe-set.ts";
import { startRemoteBuilder } from "../support/remote-builder.ts";

const images = ["shell/hello", "interp/numlib"];
const runs = 3;
const one = "linux/amd64";
const two = "linux/amd64,linux/arm64";

export interface PlatformRow {
  image: string;
  platforms: string;
  firstPullMs: number;
  storedBytes: number;
  /** Bytes of one platform's layers and config: what a client downloads. */
  clientBytes: number;
}

export interface PlatformBenchResult {
  rows: PlatformRow[];
  /** A cold build of a never-built package, locally and on the remote builder (ms). */
  coldBuild: { platforms: string; localMs: number; remoteMs: number }[];
}

async function storedBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/** Pulls `image` by tag with an index-capable Accept; resolves to the ms and what one client gets. */
async function firstPull(origin: OriginProcess, image: string) {
  const started = performance.now();
  const response = await fetch(`${origin.url}/v2/${image}/manifests/latest`, {
    headers: { Accept: indexAccept },
  });
  const body = (await response.json()) as IndexBody & {
    config?: { size: number };
    layers?: { size: number }[];
  };
  const ms = performance.now() - started;
  if (response.status !== 200) throw new Error(`${image}: ${JSON.stringify(body)}`);
  let manifest = body;
  if (body.manifests) {
    const amd64 = body.manifests.find((entry) => entry.platform.architecture === "amd64")!;
    manifest = (await (
      await fetch(`${origin.url}/v2/${image}/manifests/${amd64.digest}`)
    ).json()) as typeof body;
  }
  const clientBytes =
    (manifest.config?.size ?? 0) + (manifest.layers ?? []).reduce((sum, l) => sum + l.size, 0);
  return { ms, clientBytes };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function measure(image: string, platforms: string): Promise<PlatformRow> {
  const times: number[] = [];
  let stored = 0;
  let client = 0;
  for (let run = 0; run < runs; run++) {
    const origin = await startOrigin({ env: { NIXERY_PLATFORMS: platforms } });
    try {
      const pull = await firstPull(origin, image);
      times.push(pull.ms);
      stored = await storedBytes(join(origin.dataDir, "storage"));
      client = pull.clientBytes;
    } finally {
      await origin.stop();
    }
  }
  return { image, platforms, firstPullMs: median(times), storedBytes: stored, clientBytes: client };
}

async function coldBuild(platforms: string, remote: boolean): Promise<number> {
  const probes = await writeProbeSet();
  const builder = remote
    ? await startRemoteBuilder({
        systems: ["x86_64-linux", "aarch64-linux"],
        builderNixConf: ["extra-platforms = aarch64-linux"],
      })
    : null;
  const origin = await startOrigin({
    pkgsPath: probes.path,
    env: { NIXERY_PLATFORMS: platforms, ...(builder?.originEnv ?? {}) },
  });
  try {
    return (await firstPull(origin, "probe")).ms;
  } finally {
    await origin.stop();
    await builder?.stop();
    await probes.remove();
  }
}

export async function runPlatformBench(): Promise<PlatformBenchResult> {
  // Realise every output once, so the timed runs measure the origin rather than a first Nix build.
  for (const image of images) await measureWarmUp(image);
  const rows: PlatformRow[] = [];
  for (const image of images) {
    rows.push(await measure(image, one));
    rows.push(await measure(image, two));
  }
  const coldBuilds = [];
  for (const platforms of [one, two]) {
    const local: number[] = [];
    const remote: number[] = [];
    for (let run = 0; run < runs; run++) {
      local.push(await coldBuild(platforms, false));
      remote.push(await coldBuild(platforms, true));
    }
    coldBuilds.push({ platforms, localMs: median(local), remoteMs: median(remote) });
  }
  return { rows, coldBuild: coldBuilds };
}

async function measureWarmUp(image: string): Promise<void> {
  const origin = await startOrigin({ env: { NIXERY_PLATFORMS: two } });
  try {
    await firstPull(origin, image);
  } finally {
    await origin.stop();
  }
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(2);

export function formatPlatformBench(result: PlatformBenchResult): string {
  const lines = [
    `platforms (first pull on a fresh origin, median of ${runs})      first pull   stored MB   one client MB`,
  ];
  for (const image of images) {
    const [single, double] = result.rows.filter((row) => row.image === image);
    for (const row of [single!, double!]) {
      const ratio =
        row === double
          ? `  (${(double.firstPullMs / single!.firstPullMs).toFixed(2)}× time, ${(double.storedBytes / single!.storedBytes).toFixed(2)}× storage)`
          : "";
      lines.push(
        `${`${row.image} [${row.platforms}]`.padEnd(56)} ${`${row.firstPullMs.toFixed(0)} ms`.padStart(10)}   ${mb(row.storedBytes).padStart(9)}   ${mb(row.clientBytes).padStart(13)}${ratio}`,
      );
    }
  }
  for (const cold of result.coldBuild) {
    lines.push(
      `${`never-built probe [${cold.platforms}]`.padEnd(56)} local ${cold.localMs.toFixed(0)} ms, remote builder ${cold.remoteMs.toFixed(0)} ms (${(cold.remoteMs / cold.localMs).toFixed(2)}×)`,
    );
  }
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(formatPlatformBench(await runPlatformBench()));
}
