// A raw HTTP/1.1 client for hostile-input tests: writes exact bytes on a TCP connection to
// 127.0.0.1 and parses whatever comes back (several pipelined responses, Content-Length or
// chunked bodies, bodies ended by close), so malformed requests can be sent as they are.

import { connect } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface Exchange {
  responses: RawResponse[];
  /** The server closed the connection (FIN) before the timeout. */
  closed: boolean;
  /** A socket error (e.g. ECONNRESET), if any. */
  error: string | null;
  /** Milliseconds from connecting until the connection closed (or the timeout). */
  ms: number;
}

export interface ExchangeOptions {
  /** Stop after this many responses (default: read until the server closes). */
  responses?: number;
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Requests whose answers have no body (HEAD), by position. */
  headOnly?: boolean[];
  /** Keep the connection open without writing anything more (default true). */
  endAfterWrite?: boolean;
}

/** Parses as many complete responses as `data` holds; `final` means the connection ended. */
export function parseResponses(data: Buffer, headOnly: boolean[], final: boolean): RawResponse[] {
  const responses: RawResponse[] = [];
  let offset = 0;
  while (offset < data.length) {
    const headerEnd = data.indexOf("\r\n\r\n", offset);
    if (headerEnd < 0) break;
    const lines = data.subarray(offset, headerEnd).toString("latin1").split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1] ?? NaN);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0)
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let bodyStart = headerEnd + 4;
    let body: Buffer;
    const noBody =
      headOnly[responses.length] === true || status === 304 || status === 204 || status < 200;
    if (noBody) {
      body = Buffer.alloc(0);
    } else if (headers["transfer-encoding"]?.toLowerCase().includes("chunked")) {
      const chunks: Buffer[] = [];
      let cursor = bodyStart;
      let complete = false;
      for (;;) {
        const lineEnd = data.indexOf("\r\n", cursor);
        if (lineEnd < 0) break;
        const size = parseInt(data.subarray(cursor, lineEnd).toString("latin1"), 16);
        if (Number.isNaN(size)) break;
        if (size === 0) {
          const trailerEnd = data.indexOf("\r\n\r\n", lineEnd);
          if (trailerEnd < 0 && data.indexOf("\r\n", lineEnd + 2) !== lineEnd + 2) break;
          cursor = trailerEnd >= 0 ? trailerEnd + 4 : lineEnd + 4;
          complete = true;
          break;
        }
        if (lineEnd + 2 + size + 2 > data.length) break;
        chunks.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        cursor = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(chunks);
      bodyStart = cursor;
      responses.push({ status, headers, body });
      offset = cursor;
      continue;
    } else if (headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"]);
      if (bodyStart + length > data.length) break;
      body = data.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    } else {
      if (!final) break;
      body = data.subarray(bodyStart);
      bodyStart = data.length;
    }
    responses.push({ status, headers, body });
    offset = bodyStart;
  }
  return responses;
}

export function exchange(
  port: number,
  bytes: Buffer | string,
  options: ExchangeOptions = {},
): Promise<Exchange> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const headOnly = options.headOnly ?? [];
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | null = null;
    let done = false;
    const socket = connect(port, "127.0.0.1");
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({
        responses: parseResponses(Buffer.concat(chunks), headOnly, closed),
        closed,
        error,
        ms: Date.now() - started,
      });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on("connect", () => {
      socket.write(bytes);
    });
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      if (
        options.responses !== undefined &&
        parseResponses(Buffer.concat(chunks), headOnly, false).length >= options.responses
      ) {
        finish(false);
      }
    });
    socket.on("error", (cause: NodeJS.ErrnoException) => {
      error = cause.code ?? cause.message;
    });
    socket.on("close", () => finish(error === null));
  });
}
