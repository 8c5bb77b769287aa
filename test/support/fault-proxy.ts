// A TCP proxy on 127.0.0.1 for fault tests: forwards to a target and, while a limit is set, cuts
// every connection once the client has sent that many bytes over it (an upload dying mid-body).

import { createServer, connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface FaultProxy {
  /** http://127.0.0.1:<port>, standing in for the target's endpoint. */
  endpoint: string;
  /** Cut connections after `bytes` sent by the client; null forwards faithfully. */
  cutAfter(bytes: number | null): void;
  /** Connections cut so far. */
  readonly cuts: number;
  stop(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const { hostname, port } = new URL(target);
  let limit: number | null = null;
  let cuts = 0;
  const sockets = new Set<Socket>();

  const server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    let sent = 0;
    client.on("data", (chunk: Buffer) => {
      sent += chunk.length;
      if (limit !== null && sent > limit) {
        cuts++;
        upstream.write(chunk.subarray(0, Math.max(0, chunk.length - (sent - limit))));
        client.destroy();
        upstream.destroy();
        return;
      }
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on("drain", () => client.resume());
    upstream.on("data", (chunk: Buffer) => {
      if (!client.write(chunk)) upstream.pause();
    });
    client.on("drain", () => upstream.resume());
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
    for (const socket of [client, upstream]) {
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
      socket.on("close", () => sockets.delete(socket));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });

  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cutAfter(bytes) {
      limit = bytes;
    },
    get cuts() {
      return cuts;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
