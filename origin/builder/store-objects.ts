// Putting a build's objects into storage: a layer packed to a scratch file and uploaded (parts go
// up while later ones are packed where the backend can), and a config or manifest from its bytes.
// Each object is pinned before it is stored, so a collection running meanwhile spares it.

import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { digestHex, sha256Digest, type Digest } from "../../shared/digest.ts";
import type { LayerDescriptor } from "../../shared/manifest.ts";
import { blobKey } from "../../shared/storage-keys.ts";
import type { Logger } from "../log.ts";
import { packLayer } from "../pack/pack-layer.ts";
import type { TarEntrySpec } from "../pack/tar-entry.ts";
import type { BlobWriter } from "../storage/storage.ts";
import type { PhaseTimes } from "./phase-times.ts";

export interface StoreObjectsDeps {
  storage: BlobWriter & { readonly scratchDir: string };
  gzipLevel: number;
  log: Logger;
}

export async function packAndStore(
  deps: StoreObjectsDeps,
  entries: AsyncIterable<TarEntrySpec> | Iterable<TarEntrySpec>,
  label: string,
  signal: AbortSignal | undefined,
  pinned?: { add(digest: string): void },
  times?: PhaseTimes,
): Promise<LayerDescriptor> {
  const started = performance.now();
  const scratch = join(deps.storage.scratchDir, `${randomUUID()}.tar.gz`);
  // Where uploading takes time (S3/R2), parts go up while later ones are packed.
  const upload = deps.storage.startFileUpload?.(scratch, signal);
  let packed: Awaited<ReturnType<typeof packLayer>>;
  try {
    packed = await packLayer(entries, scratch, {
      gzipLevel: deps.gzipLevel,
      signal,
      onWritten: upload && ((chunk) => upload.written(chunk)),
    });
    signal?.throwIfAborted();
  } catch (error) {
    await upload?.abort();
    await rm(scratch, { force: true });
    throw error;
  }
  const packedAt = performance.now();
  const layer = { digest: packed.digest, diffId: packed.diffId, size: packed.size };
  pinned?.add(layer.digest);
  // The backend skips the upload when the blob is already stored (and removes the scratch file).
  const options = {
    sha256: digestHex(layer.digest),
    contentType: "application/octet-stream",
    signal,
  };
  if (upload) await upload.finish(blobKey(layer.digest), options);
  else await deps.storage.putFile(blobKey(layer.digest), scratch, options);
  const storedAt = performance.now();
  // Summed over layers packed at once, for the build's "build phases" line.
  times?.add("packMs", packedAt - started);
  times?.add("storeMs", storedAt - packedAt);
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
