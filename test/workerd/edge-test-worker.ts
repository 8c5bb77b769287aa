// The edge app as the worker unit tests run it in workerd: the real app and the real stores over
// Miniflare's KV, R2 and Cache API, with the origin replaced by an in-memory one (memory-origin.ts)
// and a clock the test can move. Under /__test/ the test sets the origin's scenario, reads the
// requests the edge made to it, moves the clock and looks into the Cache API.

import { createApp } from "../../worker/app.ts";
import { EdgeCache } from "../../worker/edge-cache.ts";
import type { Env } from "../../worker/env.ts";
import { edgeDeps } from "../../worker/index.ts";
import { isDigest } from "../../shared/digest.ts";
import { MemoryOrigin } from "./memory-origin.ts";
import type { OriginScenario } from "./origin-scenario.ts";

const origin = new MemoryOrigin({ secret: "", builds: {}, manifests: {}, blobs: {}, tagLists: {} });
let clockOffsetMs = 0;

const app = createApp<Env>((request, env, ctx) => ({
  ...edgeDeps(request, env, ctx, origin.fetch),
  now: () => Date.now() + clockOffsetMs,
}));

async function control(request: Request): Promise<Response> {
  const url = new URL(request.url);
  switch (url.pathname) {
    case "/__test/origin":
      origin.reset((await request.json()) as OriginScenario);
      return new Response(null, { status: 204 });
    case "/__test/origin-calls":
      return Response.json(origin.calls);
    case "/__test/clock":
      clockOffsetMs += Number(url.searchParams.get("advanceMs"));
      return new Response(null, { status: 204 });
    case "/__test/cached": {
      const digest = url.searchParams.get("digest") ?? "";
      if (!isDigest(digest)) return new Response("bad digest", { status: 400 });
      const cache = new EdgeCache(caches.default, url.origin);
      const blob = await cache.matchBlob(digest);
      await blob?.body.cancel();
      const manifest = await cache.matchManifest(digest);
      return Response.json({ blob: blob !== null, manifest: manifest !== null });
    }
  }
  return new Response("no such control", { status: 404 });
}

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    if (new URL(request.url).pathname.startsWith("/__test/")) return control(request);
    return app.fetch(request, env, ctx);
  },
};
