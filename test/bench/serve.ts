// Serving benchmark: warm manifest requests and warm blob throughput from the origin and from the
// edge (workerd), each beside the reference registry (Debian's docker-registry, distribution 2.8)
// serving the same image in the same run. Load comes from wrk on 127.0.0.1 only, in short bounded
// runs; medians of several runs, reported as ratios to the reference.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { mediaTypes } from "../../shared/media-types.ts";
import { startEdgeRuntime } from "../../stack/edge-runtime.ts";
import { command } from "../support/clients.ts";
import { startOrigin } from "../support/origin-process.ts";

const image = "bigdata/hello";
const runs = 3;
const seconds = 3;

export interface ServeResult {
  target: string;
  manifestRps1: number;
  manifestRps8: number;
  blobMBps: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** wrk for a few seconds; returns requests/s and bytes/s. */
async function wrk(
  url: string,
  connections: number,
  accept: string,
): Promise<{ rps: number; bps: number }> {
  const result = await command("wrk", [
    `-t${Math.min(connections, 2)}`,
    `-c${connections}`,
    `-d${seconds}s`,
    "-H",
    `Accept: ${accept}`,
    url,
  ]);
  if (result.code !== 0) throw new Error(`wrk failed: ${result.stderr}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(result.stdout)?.[1] ?? NaN);
  const transfer = /Transfer\/sec:\s+([\d.]+)([KMG]?B)/.exec(result.stdout);
  const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[transfer?.[2] ?? "B"] ?? 1;
  return { rps, bps: Number(transfer?.[1] ?? NaN) * unit };
}

async function measure(target: string, base: string, blobDigest: string): Promise<ServeResult> {
  const manifestUrl = `${base}/v2/${image}/manifests/latest`;
  const blobUrl = `${base}/v2/${image}/blobs/${blobDigest}`;
  // Warm every cache on the way (edge: Cache API, KV, R2) before measuring.
  for (const url of [manifestUrl, blobUrl, manifestUrl, blobUrl]) {
    const response = await fetch(url, { headers: { Accept: mediaTypes.dockerManifest } });
    await response.arrayBuffer();
  }
  const one: number[] = [];
  const eight: number[] = [];
  const blob: number[] = [];
  for (let run = 0; run < runs; run++) {
    one.push((await wrk(manifestUrl, 1, mediaTypes.dockerManifest)).rps);
    eight.push((await wrk(manifestUrl, 8, mediaTypes.dockerManifest)).rps);
    blob.push((await wrk(blobUrl, 1, "*/*")).bps / 1e6);
  }
  return { target, manifestRps1: median(one), manifestRps8: median(eight), blobMBps: median(blob) };
}

async function startReferenceRegistry(
  dir: string,
): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const config = join(dir, "registry.yml");
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "registry")}\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const child = spawn("docker-registry", ["serve", config], { stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 100; attempt++) {
    if (
      await fetch(`${url}/v2/`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { url, process: child };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("docker-registry did not start");
}

export async function runServeBench(): Promise<ServeResult[]> {
  const dir = await mkdtemp(join(tmpdir(), "nixery-serve-bench-"));
  // Both servers log every request, and nobody reads either log (the origin's access log is
  // drained unread, docker-registry's goes to /dev/null), so the harness takes no CPU from them.
  const origin = await startOrigin({
    env: { NIXERY_BIG_PATH_BYTES: "10000000" },
    unreadLogs: true,
  });
  const reference = await startReferenceRegistry(dir);
  const edge = await startEdgeRuntime({ originUrl: origin.url, port: 0, onLogLine: () => {} });
  try {
    const manifest = JSON.parse(
      await (await fetch(`${origin.url}/v2/${image}/manifests/latest`)).text(),
    ) as { layers: { digest: string; size: number }[] };
    const biggest = manifest.layers.reduce((a, b) => (b.size > a.size ? b : a));
    const push = await command("skopeo", [
      "copy",
      "--src-tls-verify=false",
      "--dest-tls-verify=false",
      `docker://127.0.0.1:${origin.port}/${image}:latest`,
      `docker://${reference.url.slice("http://".length)}/${image}:latest`,
    ]);
    if (push.code !== 0) throw new Error(`push to docker-registry failed: ${push.stderr}`);
    const edgeUrl = edge.url!.toString().replace(/\/$/, "");
    console.error(
      `serving benchmark: blob of ${(biggest.size / 1e6).toFixed(1)} MB, ${runs}×${seconds} s per figure`,
    );
    return [
      await measure("docker-registry (reference)", reference.url, biggest.digest),
      await measure("origin", origin.url, biggest.digest),
      await measure("edge (workerd)", edgeUrl, biggest.digest),
    ];
  } finally {
    await edge.stop();
    reference.process.kill("SIGTERM");
    await origin.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatServeBench(results: ServeResult[]): string {
  const reference = results[0]!;
  const ratio = (value: number, base: number) => `${(value / base).toFixed(2)}×`;
  const lines = [
    "serving (warm, loopback, medians)      manifest req/s (1 conn)   manifest req/s (8 conn)   blob MB/s (1 conn)",
  ];
  for (const result of results) {
    lines.push(
      `${result.target.padEnd(38)} ${`${result.manifestRps1.toFixed(0)} (${ratio(result.manifestRps1, reference.manifestRps1)})`.padEnd(25)} ${`${result.manifestRps8.toFixed(0)} (${ratio(result.manifestRps8, reference.manifestRps8)})`.padEnd(25)} ${result.blobMBps.toFixed(0)} (${ratio(result.blobMBps, reference.blobMBps)})`,
    );
  }
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(formatServeBench(await runServeBench()));
}
