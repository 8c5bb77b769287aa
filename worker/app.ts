// The edge's Hono app: the start page, the token endpoint of a private edge, the shared registry
// handler over the edge's composed RegistrySource (after the token check, when private), one
// access-log line per request, and the one error handler that writes every error as registry
// JSON. It is built from a function that gives each request its dependencies
// (worker/edge-deps.ts): the bindings in production, an in-memory origin in the unit tests.

import { Hono } from "hono";
import { tokenPath } from "../shared/auth-challenge.ts";
import { errorResponse, RegistryError, toRegistryError } from "../shared/errors.ts";
import { handleRegistryRequest } from "../shared/registry-handler.ts";
import { requestTarget } from "../shared/request-target.ts";
import { matchRoute } from "../shared/routes.ts";
import { accessLog } from "./access-log.ts";
import { answerTokenRequest, authorizeRoute, buildNeedsLogin } from "./auth/edge-guard.ts";
import { clientKey, noBuilds, rateLimitedBuilds } from "./cold-build-admission.ts";
import type { EdgeAppEnv, EdgeDeps, EdgeDepsFor } from "./edge-deps.ts";
import { logEvent } from "./log.ts";
import { forwardPackageApi } from "./package-api.ts";
import { packageApiPrefix } from "../shared/package-api.ts";
import { EdgeRegistrySource } from "./registry-source.ts";
import { edgeWebRoutes } from "./web-routes.ts";
import { reportUse } from "./usage-marks.ts";

function repositoryOf(pathname: string): string {
  const route = matchRoute(pathname);
  return route && "name" in route ? route.name : "";
}

export function createApp<Bindings extends object>(
  depsFor: EdgeDepsFor<Bindings>,
): Hono<EdgeAppEnv<Bindings>> {
  const app = new Hono<EdgeAppEnv<Bindings>>();
  app.use(async (c, next) => {
    c.set("deps", depsFor(c.req.raw, c.env, c.executionCtx));
    await next();
  });
  app.use(accessLog<EdgeAppEnv<Bindings>>((c) => c.get("deps").analytics));

  // The start page, image pages and their data (asked of the origin); registry routes pass on.
  app.use(edgeWebRoutes<Bindings>());

  app.on(["GET", "HEAD", "POST"], tokenPath, async (c) => {
    const deps = c.get("deps");
    const access = deps.access();
    if (!access) throw new RegistryError("NOT_FOUND", "this registry is public: it needs no token");
    return answerTokenRequest(c.req.raw, access, deps.loginLimiter);
  });

  app.all(packageApiPrefix, forwardPackageApi);
  app.all(`${packageApiPrefix}/*`, forwardPackageApi);

  app.all("*", async (c) => {
    const deps = c.get("deps");
    const request = c.req.raw;
    const url = requestTarget(request.url);
    const route = matchRoute(url.pathname);
    // A private edge checks the token before anything else is asked (Cache API, KV, R2, the
    // origin): nothing it holds reaches a request without one.
    const access = deps.access();
    const claims = access && route ? await authorizeRoute(request, route, access) : null;
    const anonymous = claims !== null && claims.sub === "";
    if (claims) c.get("served").user = claims.sub;
    const source = new EdgeRegistrySource({
      tags: deps.tags,
      manifests: deps.manifests,
      blobs: deps.blobs,
      cache: deps.cache,
      copies: deps.copies,
      origin: deps.origin,
      waitUntil: deps.waitUntil,
      now: deps.now,
      repository: repositoryOf(url.pathname),
      admission:
        access && anonymous
          ? noBuilds((name, tag) => buildNeedsLogin(request, access, name, tag))
          : rateLimitedBuilds(deps.buildLimiter, clientKey(request, claims?.sub || null)),
    });
    const response = await handleRegistryRequest(request, source, access ? "private" : "public");
    c.get("served").layer = source.answeredBy;
    if (!response)
      throw new RegistryError("NOT_FOUND", `no such route: ${url.pathname.slice(0, 100)}`);
    // A manifest served counts as a use of its image for the origin's storage collector.
    const served = response.headers.get("docker-content-digest");
    if (response.ok && served && route?.kind === "manifest" && deps.originConfigured) {
      deps.waitUntil(
        reportUse(deps.usageMarks, deps.origin, served, deps.now()).catch(() => undefined),
      );
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
