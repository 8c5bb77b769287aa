// Forwarding one parsed request from the local front to workerd and its answer back. Hop-by-hop
// fields are dropped and Host is the checked one. A request body is read first and sent with the
// request in one write, up to 64 KiB; a larger one is not forwarded (Content-Length: 0): the
// Worker is a pull-only registry that answers every request with a body without reading it, and
// workerd resets a connection that still has unread body bytes, which loses its answer. The
// response is ended only once the client's request has been read to its end (or the drain
// limit is reached), so the client's connection never resets with unread bytes either.

import { request, type Agent, type IncomingMessage, type ServerResponse } from "node:http";
import { RegistryError } from "../shared/errors.ts";
import { endAfterRequest } from "../origin/http/drain.ts";
import { answerWithError } from "../origin/http/http-errors.ts";

/** Hop-by-hop fields (RFC 9110 §7.6.1): never forwarded, in either direction. */
const hopByHopFields = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];
/** Hop-by-hop fields and the ones the front decides itself. */
const requestFieldsNotForwarded = new Set([
  ...hopByHopFields,
  "host",
  "expect",
  // Set from the body actually forwarded.
  "content-length",
  // The edge never encodes responses; workerd answers an unsatisfiable Accept-Encoding
  // (`*;q=0`) with a plain-text 415, where RFC 9110 lets a server send identity instead.
  "accept-encoding",
  // The client's address, as Cloudflare sets it: from the socket, never from the client.
  "cf-connecting-ip",
]);
const responseFieldsNotForwarded = new Set(hopByHopFields);

export interface Upstream {
  host: string;
  port: number;
  agent: Agent;
  /** Bytes of unread request body dropped after the answer before the connection is cut. */
  maxDrainBytes: number;
}

export function forwardRequest(
  req: IncomingMessage,
  res: ServerResponse,
  target: { path: string; host: string },
  upstream: Upstream,
): void {
  const dropped = new Set(requestFieldsNotForwarded);
  for (const token of String(req.headers.connection ?? "").split(",")) {
    if (token.trim()) dropped.add(token.trim().toLowerCase());
  }
  const headers: string[] = ["Host", target.host];
  // The edge limits failed logins and cold builds per client address.
  headers.push("CF-Connecting-IP", clientAddress(req));
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    if (!dropped.has(name.toLowerCase())) headers.push(name, req.rawHeaders[i + 1]!);
  }
  const hasBody = "transfer-encoding" in req.headers || Number(req.headers["content-length"]) > 0;
  // workerd closes a connection after a request whose body the Worker did not read; do not
  // offer it for reuse.
  if (hasBody) headers.push("Connection", "close");
  void readSmallBody(req).then((body) => {
    headers.push("Content-Length", String(body.length));
    send(req, res, target, upstream, headers, body, true);
  });
}

/** The peer's address without IPv6's IPv4-mapped prefix (`::ffff:127.0.0.1`). */
function clientAddress(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? "unknown").replace(/^::ffff:(?=\d+\.)/, "");
}

/** Bodies up to this size are forwarded; larger ones are read and dropped. */
export const maxForwardedBodyBytes = 64 * 1024;

function readSmallBody(req: IncomingMessage): Promise<Buffer> {
  const chunked = "transfer-encoding" in req.headers;
  const declared = Number(req.headers["content-length"] ?? 0);
  if (!chunked && declared === 0) return Promise.resolve(Buffer.alloc(0));
  if (!chunked && declared > maxForwardedBodyBytes) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (body: Buffer) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onEnd);
      req.off("close", onEnd);
      req.pause();
      resolve(body);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxForwardedBodyBytes) done(Buffer.alloc(0));
      else chunks.push(chunk);
    };
    const onEnd = () => done(Buffer.concat(chunks));
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onEnd);
    req.once("close", onEnd);
  });
}

function send(
  req: IncomingMessage,
  res: ServerResponse,
  target: { path: string; host: string },
  upstream: Upstream,
  headers: string[],
  body: Buffer,
  mayRetry: boolean,
): void {
  // The client went away while its body was being read: nothing to answer.
  if (res.destroyed || req.socket.destroyed) return;
  const outgoing = request({
    host: upstream.host,
    port: upstream.port,
    method: req.method,
    path: target.path,
    headers,
    agent: mayRetry ? upstream.agent : false,
    setHost: false,
  });
  let answered = false;
  outgoing.on("response", (answer: IncomingMessage) => {
    answered = true;
    const fields: string[] = [];
    for (let i = 0; i < answer.rawHeaders.length; i += 2) {
      const name = answer.rawHeaders[i]!;
      if (!responseFieldsNotForwarded.has(name.toLowerCase()))
        fields.push(name, answer.rawHeaders[i + 1]!);
    }
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, fields);
    answer.pipe(res, { end: false });
    answer.on("end", () => endAfterRequest(req, res, upstream.maxDrainBytes));
    answer.on("error", () => res.destroy());
  });
  outgoing.on("error", () => {
    if (answered) {
      res.destroy();
      return;
    }
    if (res.headersSent || res.destroyed) return;
    if (mayRetry && outgoing.reusedSocket) {
      // A kept-alive connection that workerd closed just as it was reused: nothing reached the
      // Worker, so send it again on a new connection.
      send(req, res, target, upstream, headers, body, false);
      return;
    }
    const error = new RegistryError(
      "UNAVAILABLE",
      "the edge runtime (workerd) is not answering; try again later",
    );
    answerWithError(req, res, error, upstream.maxDrainBytes);
  });
  res.on("close", () => {
    // The client went away: let the Worker see its request cancelled.
    if (!res.writableFinished) outgoing.destroy();
  });
  outgoing.end(body);
}
