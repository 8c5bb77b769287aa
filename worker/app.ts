// The edge's Hono app: the start page, the token endpoint of a private edge, the shared registry
// handler over the edge's composed RegistrySource (after the token check, when private), and
// the one error handler that writes every error as registry JSON.

import { Hono } from "hono";
import { tokenPath } from "../shared/auth-challenge.ts";
import { errorResponse, RegistryError, toRegistryError } from "../shared/errors.ts";
import { handleRegistryRequest } from "../shared/registry-handler.ts";
import { requestHost, requestTarget } from "../shared/request-target.ts";
import { matchRoute } from "../shared/routes.ts";
import {
  answerTokenRequest,
  authorizeRoute,
  buildNeedsLogin,
  edgeAccess,
} from "./auth/edge-guard.ts";
import { accessLog, type AccessLogVariables } from "./access-log.ts";
import { BlobStore } from "./blob-store.ts";
import { clientKey, noBuilds, rateLimitedBuilds } from "./cold-build-admission.ts";
import { EdgeCache } from "./edge-cache.ts";
import { readSettings, type Env } from "./env.ts";
import { logEvent } from "./log.ts";
import { ManifestStore } from "./manifest-store.ts";
import { OriginClient } from "./origin-client.ts";
import { forwardPackageApi } from "./package-api.ts";
import { packageApiPrefix } from "../shared/package-api.ts";
import { EdgeRegistrySource } from "./registry-source.ts";
import { renderStartPage } from "./start-page.ts";
import { reportUse } from "./usage-marks.ts";

function repositoryOf(pathname: string): string {
  const route = matchRoute(pathname);
  return route && "name" in route ? route.name : "";
}

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

export function createApp(): Hono<{ Bindings: Env; Variables: AccessLogVariables }> {
  const app = new Hono<{ Bindings: Env; Variables: AccessLogVariables }>();
  app.use(accessLog());

  app.on(["GET", "HEAD"], "/", (c) => {
    const isPrivate = Boolean(c.env.HTPASSWD || c.env.TOKEN_KEY);
    return c.html(renderStartPage(requestHost(c.req.url), Boolean(c.env.ORIGIN_URL), isPrivate));
  });

  app.on(["GET", "HEAD", "POST"], tokenPath, async (c) => {
    const access = edgeAccess(c.env);
    if (!access) throw new RegistryError("NOT_FOUND", "this registry is public: it needs no token");
    const cache = new EdgeCache(caches.default, cacheBase(requestTarget(c.req.url).origin));
    return answerTokenRequest(c.req.raw, access, c.env, cache);
  });

  app.get(packageApiPrefix, forwardPackageApi);
  app.get(`${packageApiPrefix}/*`, forwardPackageApi);

  app.all("*", async (c) => {
    const request = c.req.raw;
    const url = requestTarget(request.url);
    const route = matchRoute(url.pathname);
    // A private edge checks the token before anything else is asked (Cache API, KV, R2, the
    // origin): nothing it holds reaches a request without one.
    const access = edgeAccess(c.env);
    const claims = access && route ? await authorizeRoute(request, route, access) : null;
    const origin = new OriginClient(() => readSettings(c.env));
    const anonymous = claims !== null && claims.sub === "";
    if (claims) c.get("served").user = claims.sub;
    const source = new EdgeRegistrySource({
      manifests: new ManifestStore(c.env.MANIFESTS, c.env.BLOBS),
      blobs: new BlobStore(c.env.BLOBS),
      cache: new EdgeCache(caches.default, cacheBase(url.origin)),
      origin,
      waitUntil: (promise) => c.executionCtx.waitUntil(promise),
      repository: repositoryOf(url.pathname),
      admission:
        access && anonymous
          ? noBuilds((name, tag) => buildNeedsLogin(request, access, name, tag))
          : rateLimitedBuilds(c.env.BUILD_LIMITER, clientKey(request, claims?.sub || null)),
    });
    const response = await handleRegistryRequest(request, source, access ? "private" : "public");
    c.get("served").layer = source.answeredBy;
    if (!response)
      throw new RegistryError("NOT_FOUND", `no such route: ${url.pathname.slice(0, 100)}`);
    // A manifest served counts as a use of its image for the origin's storage collector.
    const served = response.headers.get("docker-content-digest");
    if (
      response.ok &&
      served &&
      matchRoute(url.pathname)?.kind === "manifest" &&
      c.env.ORIGIN_URL
    ) {
      c.executionCtx.waitUntil(reportUse(c.env.MANIFESTS, origin, served).catch(() => undefined));
    }
    return response;
  });

  app.onError((error, c) => {
    const registryError = toRegistryError(error);
    if (registryError.status >= 500) {
      logEvent(
        "request failed",
        {
          path: c.req.path,
          code: registryError.code,
          reason: error instanceof Error ? error.message : String(error),
        },
        "error",
      );
    }
    return errorResponse(registryError, c.req.method);
  });

  return app;
}
