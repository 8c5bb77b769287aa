// Blobs (layers, configs) in R2 by digest: the only code that touches R2 for blobs. Writes carry
// the expected sha256, which R2 checks, and a fixed length, so a corrupt or short body is refused.

import { digestHex, type Digest } from "../shared/digest.ts";
import type { ByteRange } from "../shared/range.ts";
import { blobKey } from "../shared/storage-keys.ts";

export interface StoredBlob {
  size: number;
  range: ByteRange | null;
  body: ReadableStream<Uint8Array>;
}

/** R2's single-PUT limit; larger blobs are served from the origin without being stored. */
export const maxSinglePutBytes = 5 * 1024 ** 3 - 1;

export class BlobStore {
  readonly #bucket: R2Bucket;

  constructor(bucket: R2Bucket) {
    this.#bucket = bucket;
  }

  async size(digest: Digest): Promise<number | null> {
    const object = await this.#bucket.head(blobKey(digest));
    return object ? object.size : null;
  }

  /** Reads a blob, or the span `resolve(size)` picks; null when R2 does not have it. */
  async read(
    digest: Digest,
    resolve: (size: number) => ByteRange | null,
  ): Promise<StoredBlob | null> {
    const object = await this.#bucket.get(blobKey(digest));
    if (!object) return null;
    let range: ByteRange | null;
    try {
      range = resolve(object.size);
    } catch (error) {
      await object.body.cancel();
      throw error;
    }
    if (!range) return { size: object.size, range: null, body: object.body };
    await object.body.cancel();
    const span = await this.#bucket.get(blobKey(digest), {
      range: { offset: range.start, length: range.end - range.start + 1 },
    });
    if (!span) return null;
    return { size: object.size, range, body: span.body };
  }

  /**
   * Stores a stream of exactly `size` bytes at the digest's key. R2 verifies the sha256 and the
   * fixed-length stream refuses a short body, so nothing partial or corrupt becomes visible.
   */
  async put(digest: Digest, body: ReadableStream<Uint8Array>, size: number): Promise<void> {
    const fixed = new FixedLengthStream(size);
    const piped = body.pipeTo(fixed.writable);
    const [put] = await Promise.allSettled([
      this.#bucket.put(blobKey(digest), fixed.readable, {
        sha256: digestHex(digest),
        httpMetadata: { contentType: "application/octet-stream" },
      }),
      piped,
    ]);
    if (put.status === "rejected") throw put.reason;
    await piped;
  }
}
