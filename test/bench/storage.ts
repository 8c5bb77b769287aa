// Upload throughput of the storage backends for one ~200 MiB layer: the filesystem backend versus
// the S3 backend against a local s3rver (with and without the verifying front server), median of 3.
// Run: npx tsx test/bench/storage.ts [sizeMiB]

import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { digestFromHex } from "../../shared/digest.ts";
import { blobKey } from "../../shared/storage-keys.ts";
import { FilesystemStorage } from "../../origin/storage/filesystem.ts";
import { S3Storage, type S3StorageOptions } from "../../origin/storage/s3.ts";
import type { Storage } from "../../origin/storage/storage.ts";
import { startS3Server } from "../support/s3-server.ts";

const MiB = 1024 * 1024;

interface Result {
  backend: string;
  runsMiBps: number[];
  medianMiBps: number;
}

/** Times putFile of `size` fresh bytes (a new key each run, so nothing is skipped) three times. */
async function measure(backend: string, storage: Storage, base: Buffer): Promise<Result> {
  const runsMiBps: number[] = [];
  for (let run = 0; run < 3; run++) {
    const bytes = Buffer.from(base);
    bytes.writeUInt32BE(run + 1, 0);
    bytes.write(backend.padEnd(32).slice(0, 32), 4);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const path = join(storage.scratchDir, `bench-${run}.tmp`);
    await writeFile(path, bytes);
    const started = process.hrtime.bigint();
    await storage.putFile(blobKey(digestFromHex(sha256)), path, {
      sha256,
      contentType: "application/vnd.oci.image.layer.v1.tar+gzip",
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    runsMiBps.push(Math.round((bytes.length / MiB / seconds) * 10) / 10);
  }
  const sorted = [...runsMiBps].sort((a, b) => a - b);
  return { backend, runsMiBps, medianMiBps: sorted[1]! };
}

async function benchS3(
  backend: string,
  base: Buffer,
  verify: boolean,
  tuning: Partial<S3StorageOptions>,
): Promise<Result> {
  const server = await startS3Server({ verify });
  const scratchDir = await mkdtemp(join(tmpdir(), "bench-s3-scratch-"));
  try {
    const storage = await new S3Storage({ ...server, scratchDir, ...tuning }).init();
    return await measure(backend, storage, base);
  } finally {
    await server.stop();
    await rm(scratchDir, { recursive: true, force: true });
  }
}

async function benchFilesystem(base: Buffer): Promise<Result> {
  const root = await mkdtemp(join(tmpdir(), "bench-fs-"));
  try {
    return await measure("filesystem", await new FilesystemStorage(root).init(), base);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const sizeMiB = Number(process.argv[2] ?? 200);
const base = randomBytes(sizeMiB * MiB);
const results = [
  await benchFilesystem(base),
  await benchS3("s3 multipart 64 MiB ×4, s3rver direct", base, false, {}),
  await benchS3("s3 single PUT, s3rver direct", base, false, {
    multipartThreshold: 5 * 1024 * MiB,
  }),
  await benchS3("s3 multipart 64 MiB ×4, verifying front", base, true, {}),
];
console.log(`upload of a ${sizeMiB} MiB file, MiB/s (median of 3)`);
for (const result of results) {
  console.log(
    `${result.backend.padEnd(44)} ${String(result.medianMiBps).padStart(8)}   runs ${result.runsMiBps.join(", ")}`,
  );
}
