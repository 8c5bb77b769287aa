// Digest verification for bytes that come from the origin. Streams are hashed as they pass and the
// last chunk is held back until the digest matches, so a reader never receives a complete body
// with wrong bytes: a corrupt or truncated body ends in a stream error instead.

import { digestHex, sha256Digest, type Digest } from "../shared/digest.ts";

export class DigestMismatch extends Error {
  override name = "DigestMismatch";
  constructor(expected: Digest, actual: string, expectedSize: number | null, actualSize: number) {
    super(
      `content does not match ${expected}: got sha256:${actual}` +
        (expectedSize === null ? "" : `, ${actualSize} of ${expectedSize} bytes`),
    );
  }
}

function toHex(buffer: ArrayBuffer): string {
  let hex = "";
  for (const byte of new Uint8Array(buffer)) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** Checks a small, fully read payload (manifests); throws DigestMismatch. */
export async function verifyBytes(bytes: Uint8Array<ArrayBuffer>, expected: Digest): Promise<void> {
  const actual = await sha256Digest(bytes);
  if (actual !== expected) {
    throw new DigestMismatch(expected, digestHex(actual), bytes.byteLength, bytes.byteLength);
  }
}

/**
 * A pass-through that hashes every chunk (crypto.DigestStream, native in workerd) and releases
 * the final chunk only after the whole body has `expectedSize` bytes and hashes to `expected`.
 */
export function verifyingTransform(
  expected: Digest,
  expectedSize: number,
): TransformStream<Uint8Array, Uint8Array> {
  const hasher = new crypto.DigestStream("SHA-256");
  const writer = hasher.getWriter();
  let held: Uint8Array | null = null;
  let seen = 0;
  return new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      if (chunk.byteLength === 0) return;
      seen += chunk.byteLength;
      // Not awaited per chunk (the native hasher keeps up; awaiting halves throughput);
      // flush() waits for every write through close().
      writer.write(chunk).catch(() => {});
      if (held) controller.enqueue(held);
      held = chunk;
    },
    async flush(controller) {
      await writer.close();
      const actual = toHex(await hasher.digest);
      if (seen !== expectedSize || actual !== digestHex(expected)) {
        throw new DigestMismatch(expected, actual, expectedSize, seen);
      }
      if (held) controller.enqueue(held);
    },
  });
}

/** Wraps a stream of known length so workerd sends (and enforces) Content-Length. */
export function withLength(
  body: ReadableStream<Uint8Array>,
  size: number,
): ReadableStream<Uint8Array> {
  const fixed = new FixedLengthStream(size);
  body.pipeTo(fixed.writable).catch(() => {
    // The reader of `fixed.readable` sees the error (a truncated body); nothing more to do here.
  });
  return fixed.readable;
}
