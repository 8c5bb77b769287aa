// Pack + upload of one large layer to the local S3 server (test/support/s3-server.ts, verifying
// signatures and payloads; in a process of its own, as R2 is never on the origin's event loop,
// though it shares this machine's cores) against packing alone, in one run, median of 3 each,
// interleaved:
//   pack alone                  packLayer to a scratch file
//   pack, then upload           packLayer, then putFile (the upload after packing, as before)
//   pack and upload overlapped  packLayer feeding startFileUpload (s3-staged.ts), then finish
// Part of `npm run bench` (1 GiB); alone: npx tsx test/bench/pack-upload.ts [layerMiB, default 256]

import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { digestHex } from "../../shared/digest.ts";
import { blobKey } from "../../shared/storage-keys.ts";
import { packLayer } from "../../origin/pack/pack-layer.ts";
import { storePathEntries } from "../../origin/pack/store-entries.ts";
import { S3Storage } from "../../origin/storage/s3.ts";
import { buildBigTree, buildDataset } from "./pack-dataset.ts";
import { processCpuSeconds } from "../support/process-cpu.ts";
import { startS3ServerProcess } from "../support/s3-server-process.ts";

const MiB = 1024 * 1024;
const runs = 3;

export interface PackUploadResult {
  layerMiB: number;
  gzipMiB: number;
  /** Seconds per variant, run by run. */
  seconds: Record<Variant, number[]>;
  /** CPU seconds the S3 server's process used per variant, median over the runs. */
  serverCpu: Record<Variant, number>;
  /** CPU seconds of this process (the packer and the upload, all threads), median over the runs. */
  clientCpu: Record<Variant, number>;
  medians: Record<Variant, number>;
  /** Median of "pack and upload overlapped" over the median of "pack alone". */
  ratio: number;
  /** Median of "pack, then upload" over the median of "pack alone" (the upload after packing). */
  sequentialRatio: number;
  load: [number, number];
}

type Variant = "pack alone" | "pack, then upload" | "pack and upload overlapped";

export async function runPackUploadBench(layerMiB: number): Promise<PackUploadResult> {
  const work = await mkdtemp(join(tmpdir(), "bench-pack-upload-"));
  const server = await startS3ServerProcess();
  try {
    const dataset = await buildDataset(join(work, "data"), 64 * MiB);
    const tree = join(work, "tree");
    const treeBytes = await buildBigTree(dataset, tree, layerMiB * MiB);
    const storage = await new S3Storage({ ...server, scratchDir: join(work, "scratch") }).init();
    const scratch = () => join(storage.scratchDir, "layer.tar.gz");
    let gzipBytes = 0;

    const variants: Record<Variant, () => Promise<void>> = {
      "pack alone": async () => {
        gzipBytes = (await packLayer(storePathEntries([tree]), scratch())).size;
        await rm(scratch());
      },
      "pack, then upload": async () => {
        const packed = await packLayer(storePathEntries([tree]), scratch());
        const key = blobKey(packed.digest);
        await storage.putFile(key, scratch(), { sha256: digestHex(packed.digest) });
        await storage.delete(key);
      },
      "pack and upload overlapped": async () => {
        const upload = storage.startFileUpload(scratch());
        const packed = await packLayer(storePathEntries([tree]), scratch(), {
          onWritten: (chunk) => upload.written(chunk),
        });
        const key = blobKey(packed.digest);
        await upload.finish(key, { sha256: digestHex(packed.digest) });
        if (!(await storage.has(key))) throw new Error("the overlapped upload stored nothing");
        await storage.delete(key);
      },
    };

    const seconds = {} as Record<Variant, number[]>;
    const serverCpuRuns = {} as Record<Variant, number[]>;
    const clientCpuRuns = {} as Record<Variant, number[]>;
    const loadBefore = loadavg()[0]!;
    for (let run = 0; run < runs; run++) {
      for (const [name, variant] of Object.entries(variants) as [Variant, () => Promise<void>][]) {
        const cpuBefore = await processCpuSeconds(server.pid);
        const clientBefore = process.cpuUsage();
        const started = process.hrtime.bigint();
        await variant();
        (seconds[name] ??= []).push(Number(process.hrtime.bigint() - started) / 1e9);
        const client = process.cpuUsage(clientBefore);
        (clientCpuRuns[name] ??= []).push((client.user + client.system) / 1e6);
        (serverCpuRuns[name] ??= []).push((await processCpuSeconds(server.pid)) - cpuBefore);
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
    const medianOf = (runs: Record<Variant, number[]>) =>
      Object.fromEntries(
        Object.entries(runs).map(([name, values]) => [name, median(values)]),
      ) as Record<Variant, number>;
    const serverCpu = medianOf(serverCpuRuns);
    const clientCpu = medianOf(clientCpuRuns);
    const medians = Object.fromEntries(
      Object.entries(seconds).map(([name, values]) => [name, median(values)]),
    ) as Record<Variant, number>;
    const base = medians["pack alone"];
    return {
      layerMiB: Math.round(treeBytes / MiB),
      gzipMiB: Math.round(gzipBytes / MiB),
      seconds,
      serverCpu,
      clientCpu,
      medians,
      ratio: medians["pack and upload overlapped"] / base,
      sequentialRatio: medians["pack, then upload"] / base,
      load: [loadBefore, loadavg()[0]!],
    };
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

export function formatPackUploadBench(r: PackUploadResult): string {
  const base = r.medians["pack alone"];
  return [
    `pack + upload of one ${r.layerMiB} MiB layer (${r.gzipMiB} MiB gzipped) to the local S3 ` +
      `server, median of ${runs}; load ${r.load[0].toFixed(2)} → ${r.load[1].toFixed(2)}`,
    ...Object.entries(r.seconds).map(
      ([name, values]) =>
        `${name.padEnd(28)} ${r.medians[name as Variant].toFixed(2).padStart(7)} s  ` +
        `${(r.medians[name as Variant] / base).toFixed(2)}×   runs ${values.map((v) => v.toFixed(2)).join(", ")}` +
        `   CPU: packer ${r.clientCpu[name as Variant].toFixed(2)} s ` +
        `(${(r.clientCpu[name as Variant] / r.clientCpu["pack alone"]).toFixed(2)}×), ` +
        `S3 server ${r.serverCpu[name as Variant].toFixed(2)} s`,
    ),
    "The S3 server runs in a process of its own on the same two cores: its CPU (checking and " +
      "spooling parts, s3rver's writes, completing and copying the object) is time the packer " +
      "cannot use here, which R2 never takes from an origin.",
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(formatPackUploadBench(await runPackUploadBench(Number(process.argv[2] ?? 256))));
}
