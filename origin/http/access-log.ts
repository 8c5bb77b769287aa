// One JSON access-log line per request (event "request": method, path, status, bytes, ms, cache
// outcome, user) and its figures for /metrics, taken where the response ends on the socket, so
// streamed blobs count their real length and ms covers the whole transfer. The app adds what only
// it knows (the cache outcome, the user) to the request's notes. Lines are written in batches, one
// write per turn of the event loop, never synchronously per request.

import type { IncomingMessage, ServerResponse } from "node:http";
import { formatLogLine } from "../../shared/log-line.ts";
import type { Traffic } from "./traffic.ts";

/** What the app learned while answering: filled in by the route, read when the response ends. */
export interface RequestNotes {
  /** How a manifest or blob was found: hit, build, failed, stored, restored. */
  cache?: string;
  /** The user a private instance served ("edge" for the shared secret). */
  user?: string;
}

const notesOf = new WeakMap<IncomingMessage, RequestNotes>();

/** The notes of the request behind a Hono context's `c.env.incoming` (none in app.request()). */
export function requestNotes(env: unknown): RequestNotes | null {
  const incoming = (env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return (incoming && notesOf.get(incoming)) ?? null;
}

/** Writes whole lines, batched: one write per event-loop turn however many requests ended. */
export function batchedLines(write: (text: string) => void): (line: string) => void {
  let pending: string[] = [];
  const flush = () => {
    const text = pending.join("");
    pending = [];
    write(text);
  };
  return (line) => {
    if (pending.push(line) === 1) setImmediate(flush);
  };
}

export type RequestHandler<T> = (req: IncomingMessage, res: ServerResponse, target: T) => void;

/** Wraps a request handler so that every request leaves one log line and its metrics. */
export function withAccessLog<T>(
  handler: RequestHandler<T>,
  sink: { line: (text: string) => void; traffic: Traffic | null },
): RequestHandler<T> {
  return (req, res, target) => {
    const started = process.hrtime.bigint();
    const notes: RequestNotes = {};
    notesOf.set(req, notes);
    const method = req.method ?? "";
    // The path without the query (a token request's query names the account).
    const url = req.url ?? "";
    const query = url.indexOf("?");
    const path = (query === -1 ? url : url.slice(0, query)).slice(0, 300);
    // Body bytes: what the socket sent while this response was written, less its head (the
    // server sets headers with writeHead, which getHeader does not see). Requests on one
    // keep-alive socket follow each other; only pipelined ones (rare) could blur the count.
    const socket = req.socket;
    const socketStart = socket.bytesWritten;
    res.once("close", () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const finished = res.writableFinished;
      const status = finished || res.headersSent ? res.statusCode : 0;
      const head = (res as unknown as { _header?: string | null })._header;
      const sent = socket.bytesWritten - socketStart - (head ? Buffer.byteLength(head) : 0);
      const bytes = method === "HEAD" ? 0 : Math.max(0, sent);
      sink.traffic?.record(method, path, status, bytes, seconds);
      sink.line(
        `${formatLogLine("info", "request", {
          method,
          path,
          status,
          bytes,
          ms: Math.round(seconds * 10000) / 10,
          ...(notes.cache ? { cache: notes.cache } : {}),
          ...(notes.user !== undefined ? { user: notes.user } : {}),
          ...(finished ? {} : { aborted: true }),
        })}\n`,
      );
    });
    handler(req, res, target);
  };
}
