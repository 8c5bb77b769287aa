// Putting a build's objects into storage: a layer packed to a scratch file and uploaded (parts go
// up while later ones are packed where the backend can), and a config or manifest from its bytes.
// Each object is pinned before it is stored, so a collection running meanwhile spares it. A
// restore of a collected layer goes through the same packAndStore, with a check of its digest.

import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { digestHex, sha256Digest, type Digest } from "../../shared/digest.ts";
import type { LayerDescriptor } from "../../shared/manifest.ts";
import { blobKey } from "../../shared/storage-keys.ts";
import type { Logger } from "../log.ts";
import { packLayer, type PackOptions } from "../pack/pack-layer.ts";
import type { TarEntrySpec } from "../pack/tar-entry.ts";
import type { BlobWriter } from "../storage/storage.ts";
import type { PhaseTimes } from "./phase-times.ts";

export interface StoreObjectsDeps {
  storage: BlobWriter & { readonly scratchDir: string };
  gzipLevel: number;
  log: Logger;
}

export interface PackAndStoreOptions {
  signal?: AbortSignal;
  /** Pins the layer's digest before it is stored (the build's pin set). */
  pinned?: { add(digest: string): void };
  /** Sums pack and store time over the layers of a build. */
  times?: PhaseTimes;
  /** zlib level; default the deps' (a restore passes the level the layer was recorded with). */
  gzipLevel?: number;
  /** How the tar is compressed; default the current packer (a restore may need pack-v1's). */
  gzip?: PackOptions["gzip"];
  /**
   * Called once the layer is packed, before anything is stored: throwing stops it (the upload is
   * aborted and the scratch file removed), as a restore does when the digest is not the recorded one.
   */
  beforeStore?: (layer: LayerDescriptor) => void;
}

/**
 * Packs `entries` into a scratch file and stores it under its digest; where uploading takes time
 * (S3/R2), parts go up while later ones are packed. The one way a layer reaches storage, for a
 * build and for a restore alike.
 */
export async function packAndStore(
  deps: StoreObjectsDeps,
  entries: AsyncIterable<TarEntrySpec> | Iterable<TarEntrySpec>,
  label: string,
  options: PackAndStoreOptions = {},
): Promise<LayerDescriptor> {
  const { signal } = options;
  const started = performance.now();
  const scratch = join(deps.storage.scratchDir, `${randomUUID()}.tar.gz`);
  const upload = deps.storage.startFileUpload?.(scratch, signal);
  let layer: LayerDescriptor;
  try {
    const packed = await packLayer(entries, scratch, {
      gzipLevel: options.gzipLevel ?? deps.gzipLevel,
      gzip: options.gzip,
      signal,
      onWritten: upload && ((chunk) => upload.written(chunk)),
    });
    signal?.throwIfAborted();
    layer = { digest: packed.digest, diffId: packed.diffId, size: packed.size };
    options.beforeStore?.(layer);
  } catch (error) {
    await upload?.abort();
    await rm(scratch, { force: true });
    throw error;
  }
  const packedAt = performance.now();
  options.pinned?.add(layer.digest);
  // The backend skips the upload when the blob is already stored (and removes the scratch file).
  const putOptions = {
    sha256: digestHex(layer.digest),
    contentType: "application/octet-stream",
    signal,
    hashedAsWritten: true,
  };
  if (upload) await upload.finish(blobKey(layer.digest), putOptions);
  else await deps.storage.putFile(blobKey(layer.digest), scratch, putOptions);
  const storedAt = performance.now();
  // Summed over layers packed at once, for the build's "build phases" line.
  options.times?.add("packMs", packedAt - started);
  options.times?.add("storeMs", storedAt - packedAt);
  deps.log.info("layer stored", {
    layer: label,
    digest: layer.digest,
    ms: Math.round(storedAt - started),
    packMs: Math.round(packedAt - started),
  });
  return layer;
}

export async function storeBytes(
  storage: BlobWriter,
  bytes: Uint8Array<ArrayBuffer>,
  keyOf: (digest: Digest) => string,
  contentType: string | undefined,
  pinned?: { add(digest: string): void },
): Promise<{ digest: Digest; size: number }> {
  const digest = await sha256Digest(bytes);
  pinned?.add(digest);
  await storage.putBytes(keyOf(digest), bytes, { sha256: digestHex(digest), contentType });
  return { digest, size: bytes.byteLength };
}
