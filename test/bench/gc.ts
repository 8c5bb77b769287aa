// Storage lifecycle benchmark: a fresh origin builds a run of images; after the collector's window
// only some of them are requested again, and one collection runs. Prints storage before and after,
// what the collection cost, and what requesting a collected image costs (its objects restored)
// against building it the first time.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mediaTypes } from "../../shared/media-types.ts";
import { FilesystemStorage } from "../../origin/storage/filesystem.ts";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";
import { originPaths } from "../../shared/origin-protocol.ts";

const secret = "bench-gc";
const unusedSeconds = 4;
/** Images of the offline fixture set; the first `kept` are requested again before collecting. */
const images = [
  "shell/hello",
  "shell/goodbye",
  "jq",
  "tools.xev",
  "jq/hello",
  "haskellpackages.pandoclite",
  "1password",
  "moreutils/nano",
  "shell/jq",
  "goodbye/tools.xev",
  "bigdata",
  "bigdata/hello",
];
const kept = 4;
/** The collected image pulled again: its 26 MB layer is packed again from the store. */
const restored = "bigdata";

export interface GcBenchResult {
  images: number;
  imagesKept: number;
  before: { objects: number; bytes: number };
  after: { objects: number; bytes: number };
  collectionMs: number;
  firstBuildMs: number;
  restoreMs: number;
}

async function pullAll(origin: OriginProcess, name: string): Promise<void> {
  const response = await fetch(`${origin.url}/v2/${name}/manifests/latest`, {
    headers: { Accept: mediaTypes.dockerManifest },
  });
  if (response.status !== 200)
    throw new Error(`${name}: ${response.status} ${await response.text()}`);
  const manifest = (await response.json()) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  for (const digest of [manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)]) {
    const blob = await fetch(`${origin.url}/v2/${name}/blobs/${digest}`);
    if (blob.status !== 200) throw new Error(`${name} ${digest}: ${blob.status}`);
    await blob.arrayBuffer();
  }
}

async function usage(storage: FilesystemStorage): Promise<{ objects: number; bytes: number }> {
  let objects = 0;
  let bytes = 0;
  for (const prefix of ["blobs/", "manifests/"]) {
    for await (const object of storage.list(prefix)) {
      objects++;
      bytes += object.size;
    }
  }
  return { objects, bytes };
}

export async function runGcBench(): Promise<GcBenchResult> {
  const dataDir = await mkdtemp(join(tmpdir(), "nixery-bench-gc-"));
  const origin = await startOrigin({
    dataDir,
    env: {
      ORIGIN_SECRET: secret,
      NIXERY_GC_UNUSED_SECONDS: String(unusedSeconds),
      NIXERY_GC_GRACE_SECONDS: "0",
      NIXERY_GC_INTERVAL_SECONDS: "0",
    },
  });
  try {
    const storage = await new FilesystemStorage(join(dataDir, "storage")).init();
    let firstBuildMs = 0;
    for (const name of images) {
      const started = performance.now();
      await pullAll(origin, name);
      if (name === restored) firstBuildMs = performance.now() - started;
    }
    await new Promise((resolve) => setTimeout(resolve, unusedSeconds * 1000 + 500));
    for (const name of images.slice(0, kept)) await pullAll(origin, name);
    const before = await usage(storage);
    const started = performance.now();
    const response = await fetch(`${origin.url}${originPaths.gc.path()}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${secret}` },
    });
    if (response.status !== 200) throw new Error(`gc: ${await response.text()}`);
    const collectionMs = performance.now() - started;
    const after = await usage(storage);
    const restoreStarted = performance.now();
    await pullAll(origin, restored);
    const restoreMs = performance.now() - restoreStarted;
    return {
      images: images.length,
      imagesKept: kept,
      before,
      after,
      collectionMs,
      firstBuildMs,
      restoreMs,
    };
  } finally {
    await origin.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export function formatGcBench(result: GcBenchResult): string {
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  return [
    "storage lifecycle (filesystem backend, one fresh origin):",
    `  ${result.images} images built, ${result.imagesKept} requested again after the window`,
    `  before collecting: ${result.before.objects} objects, ${mb(result.before.bytes)}`,
    `  after collecting:  ${result.after.objects} objects, ${mb(result.after.bytes)} (${((result.after.bytes / result.before.bytes) * 100).toFixed(0)}%)`,
    `  collection took ${result.collectionMs.toFixed(0)} ms`,
    `  a collected image pulled again: ${result.restoreMs.toFixed(0)} ms (first build and pull: ${result.firstBuildMs.toFixed(0)} ms; ratio ${(result.restoreMs / result.firstBuildMs).toFixed(2)})`,
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(formatGcBench(await runGcBench()));
}
