// A byte span of a stored file as a response body. Any consumer can read it as a web stream; the
// origin's HTTP server instead takes the open file (take()) and sends it to the socket itself
// (origin/http/send-file.ts), without a web stream and without a fresh buffer per chunk.

import type { FileHandle } from "node:fs/promises";

/** An open file and the bytes [start, end) of it to send; whoever takes it closes `handle`. */
export interface FileSpan {
  handle: FileHandle;
  start: number;
  end: number;
  /** The storage key, for error messages. */
  key: string;
}

/** Reads of the stream fallback (tests, app.request()). */
const streamChunkBytes = 1024 * 1024;

export class FileBody extends ReadableStream<Uint8Array> {
  readonly #source: { file: FileSpan | null; pulled: boolean };

  constructor(file: FileSpan) {
    // Nothing is read before a consumer asks (highWaterMark 0), so take() can hand over a file
    // that no read has touched yet.
    const source: { file: FileSpan | null; pulled: boolean } = { file, pulled: false };
    let position = file.start;
    const close = async () => {
      const open = source.file;
      source.file = null;
      await open?.handle.close().catch(() => undefined);
    };
    super(
      {
        async pull(controller) {
          source.pulled = true;
          const open = source.file;
          if (!open) return;
          const length = Math.min(streamChunkBytes, open.end - position);
          if (length <= 0) {
            await close();
            controller.close();
            return;
          }
          const buffer = Buffer.allocUnsafe(length);
          const { bytesRead } = await open.handle.read(buffer, 0, length, position);
          if (bytesRead === 0) {
            await close();
            controller.error(new Error(`${open.key} ended ${open.end - position} bytes early`));
            return;
          }
          position += bytesRead;
          controller.enqueue(buffer.subarray(0, bytesRead));
        },
        cancel: close,
      },
      { highWaterMark: 0 },
    );
    this.#source = source;
  }

  /**
   * Hands over the open file if no one has read from this stream yet (null otherwise); the
   * stream is then locked and empty, and the caller must close the handle.
   */
  take(): FileSpan | null {
    if (this.locked || this.#source.pulled || !this.#source.file) return null;
    const file = this.#source.file;
    this.#source.file = null;
    // Lock the stream so that nothing reads it (or closes the handle through cancel) later.
    this.getReader();
    return file;
  }
}
