// An HTTP proxy in front of a real origin for edge tests: records every request the edge makes,
// can flip a byte in blob bodies (a corrupt origin), slow blob bodies down, cut them off half-way
// (an origin that dies mid-transfer), and refuse connections (an origin down).

import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Transform } from "node:stream";

export interface OriginRequest {
  method: string;
  path: string;
}

export interface OriginProxy {
  url: string;
  requests: OriginRequest[];
  /** Flip one byte in the middle of every blob GET body. */
  corruptBlobs: boolean;
  /** Send blob GET bodies in slices of this many bytes, one per `delayMs` (null: at full speed). */
  throttleBlobs: { bytes: number; delayMs: number } | null;
  /** Cut this many of the next whole-blob GET bodies off after half their bytes. */
  cutNextBlobs: number;
  /** While down, every connection is cut at once (the edge sees a network error). */
  setDown(down: boolean): void;
  /** Requests whose path matches, since `since` (an index into `requests`). */
  count(pattern: RegExp, since?: number): number;
  stop(): Promise<void>;
}

function flipMiddleByte(length: number): Transform {
  const target = Math.floor(length / 2);
  let offset = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (offset <= target && target < offset + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[target - offset] = chunk[target - offset]! ^ 0xff;
      }
      offset += chunk.length;
      done(null, chunk);
    },
  });
}

function throttle({ bytes, delayMs }: { bytes: number; delayMs: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const slices: Buffer[] = [];
      for (let offset = 0; offset < chunk.length; offset += bytes)
        slices.push(chunk.subarray(offset, offset + bytes));
      const push = () => {
        const slice = slices.shift();
        if (!slice) return done();
        this.push(slice);
        setTimeout(push, delayMs);
      };
      push();
    },
  });
}

function cutAfter(limit: number, cut: () => void): Transform {
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (sent >= limit) return done();
      const part = chunk.subarray(0, limit - sent);
      sent += part.length;
      done(null, part);
      if (sent >= limit) setTimeout(cut, 50);
    },
  });
}

export async function startOriginProxy(target: string): Promise<OriginProxy> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  let down = false;
  const proxy: OriginProxy = {
    url: "",
    requests: [],
    corruptBlobs: false,
    throttleBlobs: null,
    cutNextBlobs: 0,
    setDown(value) {
      down = value;
      if (down) for (const socket of sockets) socket.destroy();
    },
    count(pattern, since = 0) {
      return proxy.requests.slice(since).filter((entry) => pattern.test(entry.path)).length;
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    proxy.requests.push({ method: req.method ?? "GET", path: req.url ?? "" });
    const forwarded = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer: IncomingMessage) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        const length = Number(answer.headers["content-length"]);
        const corrupt =
          proxy.corruptBlobs &&
          req.method === "GET" &&
          /\/blobs\/sha256:/.test(req.url ?? "") &&
          answer.statusCode === 200 &&
          length > 0;
        const blobBody =
          req.method === "GET" && /\/blobs\/sha256:/.test(req.url ?? "") && length > 0;
        let body: NodeJS.ReadableStream = corrupt ? answer.pipe(flipMiddleByte(length)) : answer;
        if (blobBody && proxy.throttleBlobs) body = body.pipe(throttle(proxy.throttleBlobs));
        if (blobBody && answer.statusCode === 200 && proxy.cutNextBlobs > 0) {
          proxy.cutNextBlobs--;
          body = body.pipe(cutAfter(Math.floor(length / 2), () => res.destroy()));
        }
        body.pipe(res);
      },
    );
    forwarded.on("error", () => res.destroy());
    req.pipe(forwarded);
  });
  server.on("connection", (socket) => {
    if (down) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
