// A TCP front for the edge that closes TLS connections at once. Registry clients (skopeo, podman)
// try HTTPS before plain HTTP; workerd's plain socket waits for a request line that never comes,
// so each pull would stall for the client's 10 s TLS handshake timeout. Everything else is
// piped to workerd unchanged.

import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

const tlsHandshakeRecord = 0x16;

export interface PlainHttpFront {
  port: number;
  stop(): Promise<void>;
}

export async function startPlainHttpFront(
  host: string,
  port: number,
  target: { host: string; port: number },
): Promise<PlainHttpFront> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  };
  const server: Server = createServer((client) => {
    track(client);
    client.once("data", (first: Buffer) => {
      if (first[0] === tlsHandshakeRecord) {
        client.destroy();
        return;
      }
      const upstream = connect(target.port, target.host);
      track(upstream);
      upstream.setNoDelay(true);
      upstream.write(first);
      client.pipe(upstream);
      upstream.pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", close);
      upstream.on("error", close);
      client.on("close", close);
      upstream.on("close", close);
    });
    client.setNoDelay(true);
    client.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
