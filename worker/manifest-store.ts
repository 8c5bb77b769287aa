// Manifests at the edge: tag records in KV (shared/tag-record.ts) and manifest bytes by digest in
// R2 (manifestKey). The only code that touches KV, and R2 for manifests.

import { digestHex, type Digest } from "../shared/digest.ts";
import { manifestMediaTypeOf } from "../shared/manifest.ts";
import type { StoredManifest } from "../shared/registry-handler.ts";
import { manifestKey, tagKey } from "../shared/storage-keys.ts";
import { parseTagRecord, type TagRecord } from "../shared/tag-record.ts";

export class ManifestStore {
  readonly #kv: KVNamespace;
  readonly #bucket: R2Bucket;

  constructor(kv: KVNamespace, bucket: R2Bucket) {
    this.#kv = kv;
    this.#bucket = bucket;
  }

  async getTagRecord(canonicalName: string, tag: string): Promise<TagRecord | null> {
    return parseTagRecord(await this.#kv.get(tagKey(canonicalName, tag)));
  }

  /**
   * Records a tag resolution. Records never expire in KV: an expired one is still served
   * (marked stale) while the origin is unreachable. Callers store the manifests first.
   */
  async putTagRecord(canonicalName: string, record: TagRecord): Promise<void> {
    await this.#kv.put(tagKey(canonicalName, record.tag), JSON.stringify(record));
  }

  async getManifest(digest: Digest): Promise<StoredManifest | null> {
    const object = await this.#bucket.get(manifestKey(digest));
    if (!object) return null;
    const bytes = new Uint8Array(await object.arrayBuffer());
    const mediaType = object.httpMetadata?.contentType ?? manifestMediaTypeOf(bytes);
    if (!mediaType) return null;
    return { digest, mediaType, bytes };
  }

  async hasManifest(digest: Digest): Promise<boolean> {
    return (await this.#bucket.head(manifestKey(digest))) !== null;
  }

  /** Stores verified manifest bytes; R2 checks the sha256 again. */
  async putManifest(manifest: StoredManifest): Promise<void> {
    await this.#bucket.put(manifestKey(manifest.digest), manifest.bytes, {
      sha256: digestHex(manifest.digest),
      httpMetadata: { contentType: manifest.mediaType },
    });
  }
}
