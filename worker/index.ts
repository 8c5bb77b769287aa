// The Worker's entry point (wrangler.toml `main`): the edge app as a module worker, with each
// request's dependencies built from the bindings. Only plain values outlive a request: the
// isolate's blob-copy records and the usage marks it has seen (no promise, stream or map of
// them; see README "Concurrent misses at the edge").

import { requestTarget } from "../shared/request-target.ts";
import { createApp } from "./app.ts";
import { edgeAccess } from "./auth/edge-guard.ts";
import { loginLimiter } from "./auth/login-limiter.ts";
import { IsolateCopyTable } from "./blob-copies.ts";
import { R2BlobStore } from "./blob-store.ts";
import { EdgeCache } from "./edge-cache.ts";
import type { EdgeDeps, RequestContext } from "./edge-deps.ts";
import { readSettings, type Env } from "./env.ts";
import { KvStore } from "./kv-store.ts";
import { R2ManifestStore } from "./manifest-store.ts";
import { OriginClient } from "./origin-client.ts";
import { rememberingMarks } from "./usage-marks.ts";

const copies = new IsolateCopyTable();
const usageMarksSeen = new Map<string, string>();

/**
 * Cache API entries live under the edge's own host (so a zone purge reaches them); a host that
 * is no valid URL host cannot name them, and gets a fixed one.
 */
function cacheBase(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    return "https://edge.invalid";
  }
}

/**
 * One request's dependencies from the bindings. `fetcher` reaches the origin (the unit tests
 * pass an in-memory one).
 */
export function edgeDeps(
  request: Request,
  env: Env,
  ctx: RequestContext,
  fetcher?: typeof fetch,
): EdgeDeps {
  const kv = new KvStore(env.MANIFESTS);
  const cache = new EdgeCache(caches.default, cacheBase(requestTarget(request.url).origin));
  return {
    tags: kv,
    usageMarks: rememberingMarks(kv, usageMarksSeen),
    manifests: new R2ManifestStore(env.BLOBS),
    blobs: new R2BlobStore(env.BLOBS),
    cache,
    copies,
    origin: new OriginClient(() => readSettings(env), Date.now, fetcher),
    originConfigured: Boolean(env.ORIGIN_URL),
    isPrivate: Boolean(env.HTPASSWD || env.TOKEN_KEY),
    access: () => edgeAccess(env),
    loginLimiter: loginLimiter(env.LOGIN_LIMITER, cache),
    buildLimiter: env.BUILD_LIMITER ?? null,
    analytics: env.EDGE_ANALYTICS ?? null,
    waitUntil: (promise) => ctx.waitUntil(promise),
    now: Date.now,
  };
}

export default createApp<Env>(edgeDeps);
