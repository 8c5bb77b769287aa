// Sends blob bodies that are stored files (origin/storage/file-body.ts) from the file to the
// socket directly, instead of through a web stream and @hono/node-server's stream writer, which
// cost a fresh 1 MiB buffer per chunk and, at warm-blob rates, over a quarter of the time in
// garbage collection. Chunks are read into buffers of a small shared pool; a buffer goes back to
// the pool only once the socket has taken its bytes (the write callback), so a buffer in flight
// is never overwritten. At most `writesInFlight` chunks per response are out of the file and not
// yet on the socket: a client that reads slowly makes the origin wait, never buffer the file.
// A client that disconnects ends the send and closes the file at once; a file that cannot be read
// to its end cuts the connection (the status line is long gone), as the stream writer did.

import { ServerResponse } from "node:http";
import type { Http2Bindings, HttpBindings } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { FileBody, type FileSpan } from "../storage/file-body.ts";

const chunkBytes = 1024 * 1024;
const writesInFlight = 2;
/** Free buffers kept for the next responses (more are allocated under load, then dropped). */
const pooledBuffers = 8;
const pool: Buffer[] = [];

function takeBuffer(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(chunkBytes);
}

function giveBuffer(buffer: Buffer): void {
  if (pool.length < pooledBuffers) pool.push(buffer);
}

export type NodeBindings = HttpBindings | Http2Bindings;

type Fetch = (request: Request, env: NodeBindings) => Response | Promise<Response>;

/**
 * Wraps the app's fetch for @hono/node-server: a GET of a blob answered with a FileBody is
 * written here (status, the app's headers, the file) and the server is told it was sent.
 */
export function withFileResponses(fetch: Fetch): Fetch {
  return (request, env) => {
    // Only blob GETs can carry a file; every other request is passed through untouched (reading
    // `body` of a response would also cost @hono/node-server's fast path).
    if (request.method !== "GET" || !request.url.includes("/blobs/")) return fetch(request, env);
    return sendIfFile(request, env, fetch);
  };
}

async function sendIfFile(request: Request, env: NodeBindings, fetch: Fetch): Promise<Response> {
  const response = await fetch(request, env);
  const res = env.outgoing;
  if (!(res instanceof ServerResponse)) return response;
  const body = response.body;
  const file = body instanceof FileBody ? body.take() : null;
  if (!file) return response;
  try {
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    res.writeHead(response.status, headers);
  } catch (error) {
    await file.handle.close().catch(() => undefined);
    throw error;
  }
  void sendFile(res, file);
  return RESPONSE_ALREADY_SENT;
}

/** Writes the file span as the body of `res` (head already set) and ends it; never rejects. */
export async function sendFile(res: ServerResponse, file: FileSpan): Promise<void> {
  let gone = res.destroyed;
  const closed = new Promise<void>((resolve) => {
    res.once("close", () => {
      gone = true;
      resolve();
    });
  });
  const pending: Promise<void>[] = [];
  let position = file.start;
  try {
    while (position < file.end && !gone) {
      const buffer = takeBuffer();
      const length = Math.min(chunkBytes, file.end - position);
      let bytesRead: number;
      try {
        ({ bytesRead } = await file.handle.read(buffer, 0, length, position));
      } catch (error) {
        giveBuffer(buffer);
        throw error;
      }
      if (bytesRead === 0 || gone) {
        giveBuffer(buffer);
        if (gone) break;
        throw new Error(`${file.key} ended ${file.end - position} bytes early`);
      }
      position += bytesRead;
      pending.push(writeChunk(res, buffer, bytesRead, closed));
      if (pending.length >= writesInFlight) await pending.shift();
    }
    await Promise.all(pending);
    if (!gone) res.end();
  } catch (error) {
    res.destroy(error as Error);
  } finally {
    await file.handle.close().catch(() => undefined);
  }
}

/** Resolves once the socket took the chunk (the buffer is then reused) or the response closed. */
function writeChunk(
  res: ServerResponse,
  buffer: Buffer,
  length: number,
  closed: Promise<void>,
): Promise<void> {
  return new Promise((resolve) => {
    let settled = false;
    res.write(buffer.subarray(0, length), (error) => {
      if (settled) return;
      settled = true;
      // A buffer whose write failed may still be referenced somewhere: it is dropped, not reused.
      if (!error) giveBuffer(buffer);
      resolve();
    });
    void closed.then(() => {
      settled = true;
      resolve();
    });
  });
}
