// Which manifests storage holds, remembered for a minute: a warm tag request then costs no
// storage round trip (an S3 HEAD is tens of milliseconds), yet objects removed behind the origin's
// back are noticed soon. A manifest the storage collector removed is written back from the
// database (a restore, same bytes) rather than rebuilt. A manifest-cache entry counts only while
// every manifest it names is stored.

import type { Digest } from "../../shared/digest.ts";
import type { ImageRequest } from "../../shared/image-name.ts";
import type { TagManifests } from "../../shared/origin-protocol.ts";
import { manifestKey } from "../../shared/storage-keys.ts";
import type { ManifestCache, ManifestEntry } from "../cache/manifest-cache.ts";
import type { BlobReader } from "../storage/storage.ts";
import { indexManifestDigests } from "./platform-index.ts";
import type { Restored } from "./restore.ts";
import { toTagManifests } from "./tag-entry.ts";

const memoMs = 60_000;
const memoLimit = 10_000;

export interface StoredManifestsDeps {
  storage: BlobReader;
  manifests: ManifestCache;
  /** Writes a collected object back (object-upkeep.ts). */
  restorer: { restore(digest: Digest): Promise<Restored> };
  now: () => number;
}

export class StoredManifests {
  readonly #seen = new Map<Digest, number>();

  constructor(private readonly deps: StoredManifestsDeps) {}

  /**
   * The manifest-cache entry under `key` while it is fresh and every manifest it names (with an
   * index: the index and each platform's) still exists in storage; a stale one is dropped.
   */
  async validEntry(key: string): Promise<ManifestEntry | null> {
    const entry = this.deps.manifests.get(key, this.deps.now());
    if (!entry) return null;
    const digests = new Set([
      entry.manifests.docker.digest,
      entry.manifests.oci.digest,
      ...(entry.index ? indexManifestDigests(entry.index) : []),
    ]);
    const stored = await Promise.all([...digests].map((digest) => this.has(digest)));
    if (stored.every(Boolean)) return entry;
    this.deps.manifests.delete(key);
    return null;
  }

  /** The cached answer under the tag's key, without building; null when unknown or expired. */
  async validAnswer(key: string, image: ImageRequest, tag: string): Promise<TagManifests | null> {
    const entry = await this.validEntry(key);
    return entry ? toTagManifests(image, tag, entry, this.deps.now()) : null;
  }

  async has(digest: Digest): Promise<boolean> {
    const seen = this.#seen.get(digest);
    if (seen !== undefined && this.deps.now() - seen < memoMs) return true;
    const stored =
      (await this.deps.storage.stat(manifestKey(digest))) !== null ||
      (await this.deps.restorer.restore(digest).catch(() => null)) === "manifest";
    if (stored) {
      if (this.#seen.size >= memoLimit) this.#seen.clear();
      this.#seen.set(digest, this.deps.now());
    } else {
      this.#seen.delete(digest);
    }
    return stored;
  }
}
