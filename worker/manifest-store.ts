// Manifest bytes by digest in R2 (manifestKey): the only code that touches R2 for manifests.

import { digestHex, type Digest } from "../shared/digest.ts";
import { manifestMediaTypeOf } from "../shared/manifest.ts";
import type { StoredManifest } from "../shared/registry-handler.ts";
import { manifestKey } from "../shared/storage-keys.ts";
import type { ManifestStore } from "./edge-deps.ts";

export class R2ManifestStore implements ManifestStore {
  readonly #bucket: R2Bucket;

  constructor(bucket: R2Bucket) {
    this.#bucket = bucket;
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
