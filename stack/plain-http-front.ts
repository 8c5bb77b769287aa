// The local stack's HTTP server in front of workerd, doing what Cloudflare's front line does in
// production: the origin's hardened server (origin/http/hardened-server.ts: Node's strict parser,
// registry JSON for every malformed or odd request, timeouts, TLS probes closed) forwards to
// workerd only well-formed origin-form requests with a Host that a URL can hold, so nothing
// reaches workerd that it would answer with a plain-text 500. A response is never lost to an
// unread request body (front-forward.ts reads it to its end before the connection may close).

import { Agent } from "node:http";
import { startHardenedServer, type HardenedServerOptions } from "../origin/http/hardened-server.ts";
import { forwardRequest, type Upstream } from "./front-forward.ts";

export type FrontOptions = HardenedServerOptions;

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
  const upstream: Upstream = {
    ...target,
    agent: new Agent({ keepAlive: true, maxFreeSockets: 64 }),
    maxDrainBytes: options.maxDrainBytes ?? 64 * 1024 * 1024,
  };
  const server = await startHardenedServer(
    host,
    port,
    (req, res, forward) => forwardRequest(req, res, forward, upstream),
    options,
  );
  return {
    port: server.port,
    async stop() {
      upstream.agent.destroy();
      await server.stop();
    },
  };
}
