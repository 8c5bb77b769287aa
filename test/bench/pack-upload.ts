// Pack + upload of one large layer to the local S3 server (test/support/s3-server.ts, verifying
// signatures and payloads) against packing alone, in one run, median of 3 each, interleaved:
//   pack alone                  packLayer to a scratch file
//   pack, then upload           packLayer, then putFile (the upload after packing, as before)
//   pack and upload overlapped  packLayer feeding startFileUpload (s3-staged.ts), then finish
// Run: npx tsx test/bench/pack-upload.ts [layerMiB, default 256]

import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { digestHex } from "../../shared/digest.ts";
import { blobKey } from "../../shared/storage-keys.ts";
import { packLayer } from "../../origin/pack/pack-layer.ts";
import { storePathEntries } from "../../origin/pack/store-entries.ts";
import { S3Storage } from "../../origin/storage/s3.ts";
import { buildBigTree, buildDataset } from "./pack-dataset.ts";
import { startS3Server } from "../support/s3-server.ts";

const MiB = 1024 * 1024;
const layerMiB = Number(process.argv[2] ?? 256);
const runs = 3;

const work = await mkdtemp(join(tmpdir(), "bench-pack-upload-"));
const server = await startS3Server();
try {
  const dataset = await buildDataset(join(work, "data"), 64 * MiB);
  const tree = join(work, "tree");
  const treeBytes = await buildBigTree(dataset, tree, layerMiB * MiB);
  const storage = await new S3Storage({ ...server, scratchDir: join(work, "scratch") }).init();
  const scratch = () => join(storage.scratchDir, "layer.tar.gz");
  let gzipBytes = 0;

  const variants: Record<string, () => Promise<void>> = {
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

  const seconds: Record<string, number[]> = {};
  const loadBefore = loadavg()[0]!;
  for (let run = 0; run < runs; run++) {
    for (const [name, variant] of Object.entries(variants)) {
      const started = process.hrtime.bigint();
      await variant();
      (seconds[name] ??= []).push(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
  const base = median(seconds["pack alone"]!);
  console.log(
    `pack + upload of one ${Math.round(treeBytes / MiB)} MiB layer (${Math.round(gzipBytes / MiB)} MiB gzipped) ` +
      `to the local S3 server, median of ${runs}; load ${loadBefore.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`,
  );
  for (const [name, values] of Object.entries(seconds)) {
    console.log(
      `${name.padEnd(28)} ${median(values).toFixed(2).padStart(7)} s  ${(median(values) / base).toFixed(2)}×` +
        `   runs ${values.map((v) => v.toFixed(2)).join(", ")}`,
    );
  }
} finally {
  await server.stop();
  await rm(work, { recursive: true, force: true });
}
