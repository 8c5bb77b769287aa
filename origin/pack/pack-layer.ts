// Packs tar entries into a gzipped layer file in one streaming pass, computing both registry
// digests on the way: tar-stream → sha256 of the tar (diffId) → gzip → sha256 + size (digest).
//
// Memory stays bounded whatever the layer size: files over 64 KiB are streamed (smaller ones are
// read in one synchronous call; write-entries.ts), every stage respects backpressure, and the
// producer also waits when tar headers (directories, symlinks, empty files, which tar-stream
// pushes without backpressure) run more than `maxTarAhead` bytes ahead of the consumer.
// Compression runs in blocks on a pool of worker threads (block-gzip.ts), so one layer
// uses every core while the main thread reads, hashes and writes.

import { createHash } from "node:crypto";
import { open, rm } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import type { Transform, TransformOptions } from "node:stream";
import { createGzip, type ZlibOptions } from "node:zlib";
import tarStream from "tar-stream";
import type { Pack } from "tar-stream";
import { digestFromHex, type Digest } from "../../shared/digest.ts";
import { blockGzip, gzipBlockBytes } from "./block-gzip.ts";
import { sharedDeflatePool, type DeflatePool } from "./deflate-pool.ts";
import type { TarEntrySpec } from "./tar-entry.ts";
import { writeEntries } from "./write-entries.ts";

export interface PackedLayer {
  /** sha256 of the gzipped bytes: the blob digest. */
  digest: Digest;
  /** sha256 of the uncompressed tar: the config's rootfs.diff_ids entry. */
  diffId: Digest;
  /** Bytes of the gzipped file. */
  size: number;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
}

/**
 * Which packer made a layer's bytes: recorded with every layer and part of its cache key, so a
 * change of output starts new keys. The gzip bytes also depend on the zlib that Node bundles, so
 * a Node upgrade does too. v1 was one zlib stream; v2 compresses in blocks (block-gzip.ts); v3
 * is v2 with zlib's memLevel 9 (less CPU, the same size within 0.2 %).
 */
export const packFormatVersion = `pack-v3-blocks${gzipBlockBytes / 1024}k-mem9-zlib${process.versions.zlib}`;

/**
 * How to make again a layer recorded with `packFormat` (restoring a collected layer), or null for
 * a packer this one cannot imitate. The digest check after packing still refuses other bytes
 * (another zlib version, say).
 */
export function gzipModeFor(packFormat: string): GzipMode | null {
  if (packFormat.startsWith("pack-v1-")) return "single-stream";
  if (packFormat.startsWith(`pack-v2-blocks${gzipBlockBytes / 1024}k-`)) return "blocks-mem8";
  if (packFormat.startsWith(`pack-v3-blocks${gzipBlockBytes / 1024}k-mem9-`)) return "blocks";
  return null;
}

/**
 * How the tar is compressed. "blocks": the current packer, 1 MiB blocks deflated in parallel
 * (block-gzip.ts) with memLevel 9. "blocks-mem8": the same with zlib's default memLevel, pack-v2's
 * bytes. "single-stream": one zlib stream on one core, pack-v1's bytes. The last two are kept so
 * that restoring a collected layer can make its bytes again.
 */
export type GzipMode = "blocks" | "blocks-mem8" | "single-stream";

export interface PackOptions {
  /** zlib level, 0–9; default 6 (as `gzip -6`). Part of what determines the digest. */
  gzipLevel?: number;
  /** Aborting stops packing: the promise rejects with the reason and the partial file is removed. */
  signal?: AbortSignal;
  /** How the tar is compressed, part of what determines the digest; default "blocks" (GzipMode). */
  gzip?: GzipMode;
  /** Workers for "blocks"; default the process's pool (one per core). Never changes the bytes. */
  pool?: DeflatePool;
  /**
   * Called with each chunk of the gzipped file, in order, once it is written to `destination`
   * (so the file's bytes up to there can be read back): an upload can start before packing ends.
   */
  onWritten?: (chunk: Uint8Array) => void;
}

const gzipInputBatchBytes = 128 * 1024;
const gzipOutputChunkBytes = 64 * 1024;
const gzipInputBufferBytes = 4 * 1024 * 1024;
const maxTarAhead = 1024 * 1024;

/**
 * A deep input buffer keeps the threadpool busy while the main thread stalls on small files'
 * open/read/close; the output chunk size only changes how zlib's output is split, never its bytes.
 */
function gzipOptions(level: number): ZlibOptions & TransformOptions {
  return { level, chunkSize: gzipOutputChunkBytes, writableHighWaterMark: gzipInputBufferBytes };
}

/**
 * Writes `entries` as a gzipped tar to `destination` and fsyncs it. On any failure (unreadable
 * file, a file changing size, disk full) the promise rejects and the partial file is removed.
 */
export async function packLayer(
  entries: AsyncIterable<TarEntrySpec> | Iterable<TarEntrySpec>,
  destination: string,
  options: PackOptions = {},
): Promise<PackedLayer> {
  options.signal?.throwIfAborted();
  const tar = tarStream.pack();
  tar.on("error", () => {}); // failures reach the caller through the promises below
  const flow = new TarFlow(tar);
  const tarHash = createHash("sha256");
  const gzipHash = createHash("sha256");
  let gzipSize = 0;

  const level = options.gzipLevel ?? 6;
  const singleStream = options.gzip === "single-stream";
  const file = await open(destination, "w");
  const compress: Transform | ReturnType<typeof blockGzip> = singleStream
    ? createGzip(gzipOptions(level))
    : blockGzip({
        level,
        memLevel: options.gzip === "blocks-mem8" ? 8 : 9,
        pool: options.pool ?? sharedDeflatePool(),
      });
  const consuming = pipeline(
    tarChunks(tar, flow, tarHash, singleStream ? gzipInputBatchBytes : 0),
    compress,
    async function (gzipped: AsyncIterable<Uint8Array>) {
      for await (const chunk of gzipped) {
        gzipHash.update(chunk);
        gzipSize += chunk.byteLength;
        for (let offset = 0; offset < chunk.byteLength;) {
          offset += (await file.write(chunk, offset)).bytesWritten;
        }
        options.onWritten?.(chunk);
      }
      await file.sync();
    },
  );
  const producing = writeEntries(entries, tar, () => flow.waitForConsumer()).then(() =>
    tar.finalize(),
  );
  const stop = (error: unknown) => {
    flow.abort();
    tar.destroy(error instanceof Error ? error : new Error(String(error)));
  };
  const onAbort = () => stop(options.signal?.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });

  try {
    await Promise.all([producing, consuming]);
    options.signal?.throwIfAborted();
  } catch (error) {
    stop(error);
    await Promise.allSettled([producing, consuming]);
    await rm(destination, { force: true });
    throw options.signal?.aborted ? options.signal.reason : error;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    await file.close();
  }
  return {
    digest: digestFromHex(gzipHash.digest("hex")),
    diffId: digestFromHex(tarHash.digest("hex")),
    size: gzipSize,
    tarSize: flow.consumed,
  };
}

/** Counts bytes pushed into the tar stream and bytes taken out, so the producer can wait for the consumer. */
class TarFlow {
  pushed = 0;
  consumed = 0;
  private aborted = false;
  private wake: (() => void) | null = null;

  constructor(tar: Pack) {
    // Every byte tar-stream emits goes through push(); counting there is exact.
    const push = tar.push.bind(tar);
    tar.push = (chunk: unknown) => {
      if (chunk instanceof Uint8Array) this.pushed += chunk.byteLength;
      return push(chunk);
    };
  }

  took(bytes: number): void {
    this.consumed += bytes;
    if (this.pushed - this.consumed <= maxTarAhead) this.release();
  }

  abort(): void {
    this.aborted = true;
    this.release();
  }

  async waitForConsumer(): Promise<void> {
    while (!this.aborted && this.pushed - this.consumed > maxTarAhead) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.aborted) throw new Error("layer packing aborted");
  }

  private release(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

/**
 * Reads the tar stream and hashes it; with `minBatchBytes`, hands on batches of at least that
 * many bytes (each write into a zlib stream is a threadpool job).
 */
async function* tarChunks(
  tar: Pack,
  flow: TarFlow,
  tarHash: ReturnType<typeof createHash>,
  minBatchBytes: number,
) {
  let batch: Buffer[] = [];
  let batchBytes = 0;
  for await (const chunk of tar as AsyncIterable<Buffer>) {
    flow.took(chunk.byteLength);
    tarHash.update(chunk);
    batch.push(chunk);
    batchBytes += chunk.byteLength;
    if (batchBytes >= minBatchBytes) {
      yield batch.length === 1 ? chunk : Buffer.concat(batch, batchBytes);
      batch = [];
      batchBytes = 0;
    }
  }
  if (batchBytes > 0) yield Buffer.concat(batch, batchBytes);
}
