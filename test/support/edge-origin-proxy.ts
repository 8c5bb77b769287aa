// An HTTP proxy in front of a real origin for edge tests: records every request the edge makes
// (what the edge does when the origin misbehaves is tested beside the Worker, worker/*.test.ts).

import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface OriginRequest {
  method: string;
  path: string;
}

export interface OriginProxy {
  url: string;
  requests: OriginRequest[];
  /** Requests whose path matches, since `since` (an index into `requests`). */
  count(pattern: RegExp, since?: number): number;
  stop(): Promise<void>;
}

export async function startOriginProxy(target: string): Promise<OriginProxy> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  const proxy: OriginProxy = {
    url: "",
    requests: [],
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
        answer.pipe(res);
      },
    );
    forwarded.on("error", () => res.destroy());
    req.pipe(forwarded);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
