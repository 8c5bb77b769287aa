// The storage collector: mark and sweep over the bucket or directory.
//
// Mark: every object of every image requested within `unusedMs` (the origin's own requests, plus
// the edge's reports of pulls it answered itself, see /_origin/usage). Sweep: every stored object
// under blobs/ and manifests/ that is not marked, not pinned by a build in progress, and older
// than `graceMs` is deleted. That includes orphans: objects no recorded image holds at all, such
// as the layers of a build that crashed before it published, or copies the edge backfilled for
// an image since collected.
//
// Why deleting is safe: images are deterministic, and the database keeps what it takes to make a
// collected object again (published-images.ts). A request for a collected manifest or blob, by
// tag or by digest, restores it with the same digest (builder/restore.ts). Only the time of a rebuild is
// lost, never a pull.

import { digestFromHex, type Digest } from "../../shared/digest.ts";
import { manifestKey, blobKey } from "../../shared/storage-keys.ts";
import type { PublishedImages } from "../cache/published-images.ts";
import type { ObjectCollector } from "../storage/storage.ts";
import type { Pins } from "./pins.ts";

export interface CollectionOptions {
  storage: ObjectCollector;
  published: PublishedImages;
  pins: Pins;
  /** Images not requested for this long lose their objects. */
  unusedMs: number;
  /** Objects younger than this are never deleted (a build may be writing them). */
  graceMs: number;
  now?: () => number;
  signal?: AbortSignal;
}

export interface CollectionReport {
  startedAt: number;
  durationMs: number;
  /** Objects kept and deleted, and their bytes. */
  kept: { objects: number; bytes: number };
  deleted: { objects: number; bytes: number; keys: string[] };
  /** Recorded images still in use, and those whose objects were given up. */
  images: { inUse: number; unused: number };
}

/** At most this many deleted keys are listed in a report (the counts are always complete). */
const listedKeys = 1000;

export async function collectGarbage(options: CollectionOptions): Promise<CollectionReport> {
  const now = options.now ?? Date.now;
  const startedAt = now();
  const since = startedAt - options.unusedMs;
  const inUse = options.published.objectsInUse(since);
  const kept = { objects: 0, bytes: 0 };
  const deleted = { objects: 0, bytes: 0, keys: [] as string[] };

  for (const [prefix, keyOf] of [
    ["manifests/", manifestKey],
    ["blobs/", blobKey],
  ] as const) {
    for await (const object of options.storage.list(prefix)) {
      options.signal?.throwIfAborted();
      const digest = digestOfKey(object.key, prefix);
      const young = startedAt - object.modifiedAt < options.graceMs;
      // Keys that are not this layout's (another tool's files) are never touched.
      const foreign = digest === null || keyOf(digest) !== object.key;
      if (foreign || young || inUse.has(digest) || options.pins.has(digest)) {
        kept.objects++;
        kept.bytes += object.size;
        continue;
      }
      await options.storage.delete(object.key);
      deleted.objects++;
      deleted.bytes += object.size;
      if (deleted.keys.length < listedKeys) deleted.keys.push(object.key);
    }
  }
  return {
    startedAt,
    durationMs: now() - startedAt,
    kept,
    deleted,
    images: options.published.counts(since),
  };
}

/** `sha256:<hex>` for a key under `prefix` of the storage layout, else null. */
function digestOfKey(key: string, prefix: string): Digest | null {
  const match = /^sha256\/([0-9a-f]{64})$/.exec(key.slice(prefix.length));
  return match ? digestFromHex(match[1]!) : null;
}
