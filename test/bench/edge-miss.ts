// Edge blob miss against an origin-direct pull of the same layer: an image whose big layer is
// ~100 MB of random bytes (incompressible, like a real big layer), pulled by a registry client
// (skopeo into an OCI layout: it fetches, verifies and writes every blob, as docker and podman
// do) from the origin, and through a fresh edge (empty R2 and cache; workerd behind the local
// stack's front) that has to fetch the layer from that origin, verify it, and copy it into R2.
// Also the raw transfer of the layer alone with curl (to /dev/null: the harshest measure, where
// only server throughput counts) from the origin, the fresh edge, and the edge once warm (R2).
// Medians of several runs; the misses are reported as ratios to the origin-direct pulls.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEdgeRuntime } from "../../stack/edge-runtime.ts";
import { startPlainHttpFront } from "../../stack/plain-http-front.ts";
import { command } from "../support/clients.ts";
import { startOrigin } from "../support/origin-process.ts";
import { randomLayerPackageSet } from "../support/random-layer-set.ts";

const runs = 5;
const layerMegabytes = 100;

export interface EdgeMissResult {
  layerBytes: number;
  /** The layer pulled by a client that checks its digest as it reads (curl | sha256sum). */
  originLayerPullSeconds: number;
  edgeMissLayerPullSeconds: number;
  /** edgeMissLayerPullSeconds / originLayerPullSeconds: the goal is ≤ 1.3. */
  layerPullRatio: number;
  layerPullRuns: number[];
  originLayerPullRuns: number[];
  /** skopeo copy of the whole image. */
  originPullSeconds: number;
  edgeMissPullSeconds: number;
  /** edgeMissPullSeconds / originPullSeconds. */
  pullRatio: number;
  pullRuns: number[];
  originPullRuns: number[];
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

/**
 * Seconds a client that checks the digest as it reads (what every registry client does with a
 * layer) takes to pull a blob: curl piped into sha256sum.
 */
async function verifyingPullSeconds(url: string, digest: string): Promise<number> {
  const started = process.hrtime.bigint();
  const result = await command("sh", ["-c", 'curl -sf "$0" | sha256sum', url], 300_000);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.code !== 0 || result.stdout.split(" ")[0] !== digest.slice("sha256:".length)) {
    throw new Error(`verifying pull of ${url}: exit ${result.code}, ${result.stdout.trim()}`);
  }
  return seconds;
}

/** Seconds a `skopeo copy` of the image into a fresh OCI layout takes. */
async function skopeoSeconds(host: string, into: string): Promise<number> {
  await rm(into, { recursive: true, force: true });
  const started = process.hrtime.bigint();
  const result = await command(
    "skopeo",
    [
      "copy",
      "--src-tls-verify=false",
      "--retry-times=0",
      `docker://${host}/randomdata:latest`,
      `oci:${into}:latest`,
    ],
    300_000,
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.code !== 0) throw new Error(`skopeo copy from ${host}: ${result.stderr}`);
  await rm(into, { recursive: true, force: true });
  return seconds;
}

export async function runEdgeMissBench(): Promise<EdgeMissResult> {
  const dir = await mkdtemp(join(tmpdir(), "nixery-edge-miss-"));
  const origin = await startOrigin({
    pkgsPath: await randomLayerPackageSet(dir, layerMegabytes),
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
    const originPullRuns: number[] = [];
    const pullRuns: number[] = [];
    const originLayerPullRuns: number[] = [];
    const layerPullRuns: number[] = [];
    const layout = join(dir, "layout");
    await skopeoSeconds(`127.0.0.1:${origin.port}`, layout);
    for (let run = 0; run < runs; run++) {
      originLayerPullRuns.push(await verifyingPullSeconds(`${origin.url}${path}`, layer.digest));
      const layerEdge = await startEdgeRuntime({
        originUrl: origin.url,
        port: 0,
        onLogLine: () => {},
      });
      try {
        const url = `${layerEdge.url!.origin}${path}`;
        layerPullRuns.push(await verifyingPullSeconds(url, layer.digest));
      } finally {
        await layerEdge.stop();
      }
      originPullRuns.push(await skopeoSeconds(`127.0.0.1:${origin.port}`, layout));
      const pullEdge = await startEdgeRuntime({
        originUrl: origin.url,
        port: 0,
        onLogLine: () => {},
      });
      const front = await startPlainHttpFront("127.0.0.1", 0, {
        host: "127.0.0.1",
        port: Number(pullEdge.url!.port),
      });
      try {
        pullRuns.push(await skopeoSeconds(`127.0.0.1:${front.port}`, layout));
      } finally {
        await front.stop();
        await pullEdge.stop();
      }
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
    const originPullSeconds = median(originPullRuns);
    const edgeMissPullSeconds = median(pullRuns);
    const originLayerPullSeconds = median(originLayerPullRuns);
    const edgeMissLayerPullSeconds = median(layerPullRuns);
    return {
      layerBytes: layer.size,
      originLayerPullSeconds,
      edgeMissLayerPullSeconds,
      layerPullRatio: edgeMissLayerPullSeconds / originLayerPullSeconds,
      layerPullRuns,
      originLayerPullRuns,
      originPullSeconds,
      edgeMissPullSeconds,
      pullRatio: edgeMissPullSeconds / originPullSeconds,
      pullRuns,
      originPullRuns,
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
  const ratio = (value: number, base: number) => `${(value / base).toFixed(2)}×`;
  return [
    `edge blob miss (${mb} MB random layer, median of ${runs})                 seconds   vs origin-direct`,
    `layer pull (curl | sha256sum), origin direct                 ${result.originLayerPullSeconds.toFixed(3)}     1.00×`,
    `layer pull (curl | sha256sum), fresh edge                    ${result.edgeMissLayerPullSeconds.toFixed(3)}     ${result.layerPullRatio.toFixed(2)}× (goal ≤ 1.30×)`,
    `whole image, skopeo, origin direct                           ${result.originPullSeconds.toFixed(3)}     1.00×`,
    `whole image, skopeo, fresh edge                              ${result.edgeMissPullSeconds.toFixed(3)}     ${result.pullRatio.toFixed(2)}×`,
    `layer alone, curl, origin direct                             ${result.originSeconds.toFixed(3)}     1.00×`,
    `layer alone, curl, fresh edge                                ${result.edgeMissSeconds.toFixed(3)}     ${ratio(result.edgeMissSeconds, result.originSeconds)}`,
    `layer alone, curl, edge warm (from R2)                       ${result.edgeWarmSeconds.toFixed(3)}     ${ratio(result.edgeWarmSeconds, result.originSeconds)}`,
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(formatEdgeMissBench(await runEdgeMissBench()));
}
