// The local stack's HTTP server in front of workerd, doing what Cloudflare's front line does in
// production: it parses every request itself (Node's strict HTTP parser) and forwards to workerd
// only well-formed origin-form requests with a Host that a URL can hold (front-target.ts), so
// nothing reaches workerd that it would answer with a plain-text 500. Everything else is answered
// here as registry JSON: malformed HTTP 400, oversized headers 431, unknown methods 501, HTTP
// versions other than 1.x 505, slow headers 408, CONNECT 405, `OPTIONS *` 200. TLS probes (registry clients try HTTPS first) are
// closed at once, so a pull does not stall for the client's TLS handshake timeout.
//
// Connections: an idle one closes after the keep-alive timeout, one that never completes its
// header block after the headers timeout; a response is never lost to an unread request body
// (front-forward.ts reads it to its end before the connection may close).

import { Agent, createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { RegistryError } from "../shared/errors.ts";
import { answerWithError, clientErrorOf, writeRawError } from "./front-errors.ts";
import { endAfterRequest } from "./front-drain.ts";
import { forwardRequest, type Upstream } from "./front-forward.ts";
import { forwardedTarget, type ForwardTarget } from "./front-target.ts";

const tlsHandshakeRecord = 0x16;

/** Methods forwarded to the Worker, which answers the ones that write with 405 itself. */
const forwardedMethods = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "TRACE",
]);

export interface FrontOptions {
  /** An idle keep-alive connection closes after this long (default 5 s). */
  keepAliveTimeoutMs?: number;
  /** A connection must send a complete header block within this (default 20 s). */
  headersTimeoutMs?: number;
  /** Request body bytes read and dropped after the answer, at most (default 64 MiB). */
  maxDrainBytes?: number;
}

export interface PlainHttpFront {
  port: number;
  stop(): Promise<void>;
}

export async function startPlainHttpFront(
  host: string,
  port: number,
  target: { host: string; port: number },
  options: FrontOptions = {},
): Promise<PlainHttpFront> {
  const headersTimeoutMs = options.headersTimeoutMs ?? 20_000;
  const upstream: Upstream = {
    ...target,
    agent: new Agent({ keepAlive: true, maxFreeSockets: 64 }),
    maxDrainBytes: options.maxDrainBytes ?? 64 * 1024 * 1024,
  };
  const sockets = new Set<Socket>();
  let ownHost = "";

  const server = createServer({
    // Below workerd's own limit, so an oversized header block gets a 431 here.
    maxHeaderSize: 16 * 1024,
    requireHostHeader: false,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
    headersTimeout: headersTimeoutMs,
    requestTimeout: Math.max(headersTimeoutMs, 120_000),
    connectionsCheckingInterval: Math.min(1_000, headersTimeoutMs),
  });

  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("close", () => sockets.delete(socket));
  });

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (req.httpVersionMajor !== 1) {
      const error = new RegistryError(
        "VERSION_NOT_SUPPORTED",
        `HTTP/${req.httpVersion} is not spoken here: use HTTP/1.1`,
      );
      answerWithError(req, res, error, upstream.maxDrainBytes, { close: true });
      return;
    }
    let forward: ForwardTarget;
    try {
      forward = forwardedTarget(
        {
          method: req.method ?? "",
          url: req.url ?? "",
          httpVersion: req.httpVersion,
          rawHeaders: req.rawHeaders,
        },
        ownHost,
      );
    } catch (error) {
      answerWithError(req, res, error as RegistryError, upstream.maxDrainBytes, { close: true });
      return;
    }
    if (forward.kind === "asterisk") {
      res.writeHead(200, { Allow: "GET, HEAD", "Content-Length": "0" });
      endAfterRequest(req, res, upstream.maxDrainBytes);
      return;
    }
    if (!forwardedMethods.has(req.method ?? "")) {
      const error = new RegistryError(
        "NOT_IMPLEMENTED",
        `${req.method} is not implemented: this registry answers GET and HEAD`,
        undefined,
        { headers: { Allow: "GET, HEAD" } },
      );
      answerWithError(req, res, error, upstream.maxDrainBytes);
      return;
    }
    forwardRequest(req, res, forward, upstream);
  });

  server.on("checkExpectation", (req: IncomingMessage, res: ServerResponse) => {
    const expect = String(req.headers.expect).slice(0, 60);
    const error = new RegistryError(
      "EXPECTATION_FAILED",
      `only "Expect: 100-continue" is understood, not "${expect}"`,
    );
    answerWithError(req, res, error, upstream.maxDrainBytes, { close: true });
  });

  server.on("connect", (req: IncomingMessage, socket: Socket) => {
    const error = new RegistryError(
      "UNSUPPORTED",
      "this registry is not a proxy: CONNECT is not supported",
      undefined,
      { headers: { Allow: "GET, HEAD" } },
    );
    writeRawError(socket, error, req.method);
  });

  server.on("upgrade", (req: IncomingMessage, socket: Socket) => {
    const error = new RegistryError(
      "BAD_REQUEST",
      "this registry speaks HTTP/1.1 without protocol upgrades",
    );
    writeRawError(socket, error, req.method);
  });

  server.on("clientError", (error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket) => {
    if (error.rawPacket?.[0] === tlsHandshakeRecord || !socket.writable) {
      socket.destroy();
      return;
    }
    writeRawError(socket as Socket, clientErrorOf(error));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  ownHost =
    address.family === "IPv6"
      ? `[${address.address}]:${address.port}`
      : `${address.address}:${address.port}`;
  return {
    port: address.port,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      upstream.agent.destroy();
      await closed;
    },
  };
}
