// Blobs (layers, configs) in R2 by digest: the only code that touches R2 for blobs. Writes carry
// the expected sha256, which R2 checks, and a fixed length, so a corrupt or short body is refused.

import { digestHex, type Digest } from "../shared/digest.ts";
import type { ByteRange, RangeRequest } from "../shared/range.ts";
import { blobKey } from "../shared/storage-keys.ts";
import type { BlobReader, BlobWriter, StoredBlob } from "./edge-deps.ts";

/** R2's single-PUT limit; larger blobs are served from the origin without being stored. */
export const maxSinglePutBytes = 5 * 1024 ** 3 - 1;

export class R2BlobStore implements BlobReader, BlobWriter {
  readonly #bucket: R2Bucket;

  constructor(bucket: R2Bucket) {
    this.#bucket = bucket;
  }

  async size(digest: Digest): Promise<number | null> {
    const object = await this.#bucket.head(blobKey(digest));
    return object ? object.size : null;
  }

  /**
   * Reads a blob, or the span the request's Range picks, in one R2 operation: the Range goes to
   * R2 as a hint, and the span is checked against the size R2 reports. Only when R2 did not
   * apply the hint (local R2 ignores out-of-bounds ranges) is the exact span read again.
   * Null when R2 does not have the blob.
   */
  async read(digest: Digest, range: RangeRequest): Promise<StoredBlob | null> {
    const key = blobKey(digest);
    let object: R2ObjectBody | null;
    try {
      object = await this.#bucket.get(key, range.hint ? { range: range.hint } : {});
    } catch (error) {
      // R2 refuses an unsatisfiable range; answer it as the handler would (416 with the size).
      const head = range.hint ? await this.#bucket.head(key) : null;
      if (head) range.resolve(head.size);
      throw error;
    }
    if (!object) return null;
    let span: ByteRange | null;
    try {
      span = range.resolve(object.size);
    } catch (error) {
      await object.body.cancel();
      throw error;
    }
    const wanted = span ?? { start: 0, end: object.size - 1 };
    const served = servedSpan(object);
    if (served.start === wanted.start && served.end === wanted.end) {
      return { size: object.size, range: span, body: object.body };
    }
    await object.body.cancel();
    const exact = await this.#bucket.get(key, {
      range: span ? { offset: span.start, length: span.end - span.start + 1 } : undefined,
    });
    if (!exact) return null;
    return { size: object.size, range: span, body: exact.body };
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

/** The bytes an R2 read returned, as a span of the object. */
function servedSpan(object: R2ObjectBody): ByteRange {
  const applied = object.range as { offset?: number; length?: number; suffix?: number } | undefined;
  if (!applied) return { start: 0, end: object.size - 1 };
  let start: number;
  let length: number;
  if (applied.suffix !== undefined) {
    start = Math.max(0, object.size - applied.suffix);
    length = object.size - start;
  } else {
    start = applied.offset ?? 0;
    length = applied.length ?? object.size - start;
  }
  return { start, end: Math.min(object.size - 1, start + length - 1) };
}
