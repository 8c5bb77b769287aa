// Cuts a response body down to the requested byte span, for servers that answer a Range request
// with more than was asked (a 200 with the whole object, or a 206 wider than the range).

import type { ByteSpan } from "./storage.ts";

/** The first byte offset a GET response body starts at, from its status and Content-Range. */
export function bodyStart(status: number, contentRange: string | null): number {
  if (status !== 206) return 0;
  const match = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(contentRange ?? "");
  if (!match) throw new Error(`unparseable Content-Range: ${contentRange}`);
  return Number(match[1]);
}

/** Yields exactly the bytes of `span` from a body that starts at offset `start`. */
export function sliceToSpan(
  body: ReadableStream<Uint8Array>,
  start: number,
  span: ByteSpan,
): ReadableStream<Uint8Array> {
  if (start > span.start)
    throw new Error(`response starts at byte ${start}, after the requested ${span.start}`);
  let skip = span.start - start;
  let remaining = span.end - span.start + 1;
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (remaining > 0) {
        const { done, value } = await reader.read();
        if (done) break;
        const from = Math.min(skip, value.byteLength);
        skip -= from;
        const piece = value.subarray(from, from + Math.min(remaining, value.byteLength - from));
        if (piece.byteLength === 0) continue;
        remaining -= piece.byteLength;
        controller.enqueue(piece);
        return;
      }
      controller.close();
      await reader.cancel();
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
