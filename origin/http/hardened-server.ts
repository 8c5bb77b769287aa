// A Node HTTP server that answers everything a client can send, hostile or not, with a registry
// JSON error or a correct HTTP-level one, and hands only well-formed origin-form requests with a
// Host that a URL can hold (request-line.ts) to its handler. Used by the origin itself and by the
// local stack's front before workerd (stack/plain-http-front.ts).
//
// Answered here: malformed HTTP 400, oversized headers 431, unknown methods 501, HTTP versions
// other than 1.x 505, slow headers 408, CONNECT 405, upgrades 400, `OPTIONS *` 200; TLS probes
// (registry clients try HTTPS first) are closed at once. An idle keep-alive connection closes
// after the keep-alive timeout, one that never completes its header block after the headers
// timeout; a response is never lost to an unread request body (drain.ts).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { RegistryError } from "../../shared/errors.ts";
import { endAfterRequest } from "./drain.ts";
import { answerWithError, clientErrorOf, writeRawError } from "./http-errors.ts";
import { forwardedTarget, type ForwardTarget } from "./request-line.ts";

const tlsHandshakeRecord = 0x16;

/** Methods handed to the handler, which answers the ones that write with 405 itself. */
const handledMethods = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "TRACE",
]);

export interface HardenedServerOptions {
  /** An idle keep-alive connection closes after this long (default 5 s). */
  keepAliveTimeoutMs?: number;
  /** A connection must send a complete header block within this (default 20 s). */
  headersTimeoutMs?: number;
  /** Request body bytes read and dropped after an answer given here, at most (default 64 MiB). */
  maxDrainBytes?: number;
}

/** Handles a checked request: `target.path` is origin-form, `target.host` URL-safe. */
export type CheckedRequestHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  target: Extract<ForwardTarget, { kind: "origin" }>,
) => void;

export interface HardenedServer {
  server: Server;
  port: number;
  /** Stops listening and closes every connection. */
  stop(): Promise<void>;
}

/** Listens on host:port; rejects with Node's error (e.g. EADDRINUSE) if it cannot. */
export async function startHardenedServer(
  host: string,
  port: number,
  handle: CheckedRequestHandler,
  options: HardenedServerOptions = {},
): Promise<HardenedServer> {
  const headersTimeoutMs = options.headersTimeoutMs ?? 20_000;
  const maxDrainBytes = options.maxDrainBytes ?? 64 * 1024 * 1024;
  const sockets = new Set<Socket>();
  let ownHost = "";

  const server = createServer({
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
      answerWithError(req, res, error, maxDrainBytes, { close: true });
      return;
    }
    let target: ForwardTarget;
    try {
      target = forwardedTarget(
        {
          method: req.method ?? "",
          url: req.url ?? "",
          httpVersion: req.httpVersion,
          rawHeaders: req.rawHeaders,
        },
        ownHost,
      );
    } catch (error) {
      answerWithError(req, res, error as RegistryError, maxDrainBytes, { close: true });
      return;
    }
    if (target.kind === "asterisk") {
      res.writeHead(200, { Allow: "GET, HEAD", "Content-Length": "0" });
      endAfterRequest(req, res, maxDrainBytes);
      return;
    }
    if (!handledMethods.has(req.method ?? "")) {
      const error = new RegistryError(
        "NOT_IMPLEMENTED",
        `${req.method} is not implemented: this registry answers GET and HEAD`,
        undefined,
        { headers: { Allow: "GET, HEAD" } },
      );
      answerWithError(req, res, error, maxDrainBytes);
      return;
    }
    handle(req, res, target);
  });

  server.on("checkExpectation", (req: IncomingMessage, res: ServerResponse) => {
    const expect = String(req.headers.expect).slice(0, 60);
    const error = new RegistryError(
      "EXPECTATION_FAILED",
      `only "Expect: 100-continue" is understood, not "${expect}"`,
    );
    answerWithError(req, res, error, maxDrainBytes, { close: true });
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
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  ownHost =
    address.family === "IPv6"
      ? `[${address.address}]:${address.port}`
      : `${address.address}:${address.port}`;
  return {
    server,
    port: address.port,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
