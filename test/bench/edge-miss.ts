// Edge blob miss against an origin-direct pull of the same layer: a layer of ~100 MB of random
// bytes (incompressible, like a real big layer) pulled with curl from the origin, and through a
// fresh edge (empty R2 and cache, workerd) that has to fetch it from that origin, verify it, and
// copy it into R2 on the way. Also the edge's warm pull (from R2) of the same layer. Medians of
// several runs; the miss is reported as a ratio to the origin-direct pull.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEdgeRuntime } from "../../stack/edge-runtime.ts";
import { command } from "../support/clients.ts";
import { fixturePackageSet } from "../support/nix-env.ts";
import { startOrigin } from "../support/origin-process.ts";

const runs = 5;
const layerMegabytes = 100;

export interface EdgeMissResult {
  layerBytes: number;
  originSeconds: number;
  edgeMissSeconds: number;
  edgeWarmSeconds: number;
  /** edgeMissSeconds / originSeconds */
  missRatio: number;
  missRuns: number[];
  originRuns: number[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Seconds curl takes to download a URL to /dev/null (fails on an HTTP error or short body). */
async function curlSeconds(url: string, expectedBytes: number): Promise<number> {
  const result = await command(
    "curl",
    ["-sf", "-o", "/dev/null", "-w", "%{time_total} %{size_download}", url],
    300_000,
  );
  const [seconds, size] = result.stdout.trim().split(" ").map(Number);
  if (result.code !== 0 || size !== expectedBytes) {
    throw new Error(`curl ${url}: exit ${result.code}, ${size} of ${expectedBytes} bytes`);
  }
  return seconds!;
}

async function randomLayerPackageSet(dir: string): Promise<string> {
  await writeFile(
    join(dir, "default.nix"),
    `args@{ system ? builtins.currentSystem, ... }:
let base = import ${fixturePackageSet}/default.nix args;
in base // {
  randomdata = derivation {
    inherit system;
    name = "randomdata-1.0";
    builder = "\${base.busybox}/bin/sh";
    args = [ "-e" "-c" "mkdir -p $out/share/randomdata; head -c ${layerMegabytes * 1024 * 1024} /dev/urandom > $out/share/randomdata/data" ];
    PATH = "\${base.busybox}/bin";
  } // { meta = { }; };
}
`,
  );
  return dir;
}

export async function runEdgeMissBench(): Promise<EdgeMissResult> {
  const dir = await mkdtemp(join(tmpdir(), "nixery-edge-miss-"));
  const origin = await startOrigin({
    pkgsPath: await randomLayerPackageSet(dir),
    env: { NIXERY_BIG_PATH_BYTES: "10000000" },
  });
  try {
    const response = await fetch(`${origin.url}/v2/randomdata/manifests/latest`);
    const manifest = (await response.json()) as { layers: { digest: string; size: number }[] };
    const layer = manifest.layers.reduce((a, b) => (b.size > a.size ? b : a));
    const path = `/v2/randomdata/blobs/${layer.digest}`;
    await curlSeconds(`${origin.url}${path}`, layer.size); // page cache warm for both
    const originRuns: number[] = [];
    const missRuns: number[] = [];
    const warmRuns: number[] = [];
    for (let run = 0; run < runs; run++) {
      originRuns.push(await curlSeconds(`${origin.url}${path}`, layer.size));
      const edge = await startEdgeRuntime({ originUrl: origin.url, port: 0, onLogLine: () => {} });
      try {
        const base = edge.url!.toString().replace(/\/$/, "");
        missRuns.push(await curlSeconds(`${base}${path}`, layer.size));
        // Let the copy into R2 finish (it runs under waitUntil), then pull again from R2.
        const bucket = await edge.miniflare.getR2Bucket("BLOBS");
        for (
          let i = 0;
          i < 600 && !(await bucket.head(`blobs/sha256/${layer.digest.slice(7)}`));
          i++
        )
          await new Promise((resolve) => setTimeout(resolve, 50));
        warmRuns.push(await curlSeconds(`${base}${path}`, layer.size));
      } finally {
        await edge.stop();
      }
    }
    const originSeconds = median(originRuns);
    const edgeMissSeconds = median(missRuns);
    return {
      layerBytes: layer.size,
      originSeconds,
      edgeMissSeconds,
      edgeWarmSeconds: median(warmRuns),
      missRatio: edgeMissSeconds / originSeconds,
      missRuns,
      originRuns,
    };
  } finally {
    await origin.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatEdgeMissBench(result: EdgeMissResult): string {
  const mb = (result.layerBytes / 1e6).toFixed(0);
  return [
    `edge blob miss (${mb} MB random layer, curl, median of ${runs})   seconds   vs origin-direct`,
    `origin direct                                          ${result.originSeconds.toFixed(3)}     1.00×`,
    `edge miss (origin → verify → client, copy into R2)     ${result.edgeMissSeconds.toFixed(3)}     ${result.missRatio.toFixed(2)}× (goal ≤ 1.30×)`,
    `edge warm (from R2)                                    ${result.edgeWarmSeconds.toFixed(3)}     ${(result.edgeWarmSeconds / result.originSeconds).toFixed(2)}×`,
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(formatEdgeMissBench(await runEdgeMissBench()));
}
