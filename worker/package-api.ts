// The package index's JSON API at the edge (shared/package-api.ts), one route for browsers and
// scripts alike: forwarded to the origin with the origin secret, answered as the origin answers
// (its registry errors included). Nothing is kept between requests. A private edge decides once
// who may search: a registry token (Bearer, as for /v2/) or a user's login (Basic, as the pages).

import type { Context } from "hono";
import { RegistryError } from "../shared/errors.ts";
import { requestTarget } from "../shared/request-target.ts";
import { authorizeRoute } from "./auth/edge-guard.ts";
import { requireLogin } from "./auth/page-login.ts";
import type { EdgeDeps } from "./edge-deps.ts";
import { OriginUnreachable } from "./origin-errors.ts";

export async function forwardPackageApi(
  c: Context<{ Variables: { deps: EdgeDeps } }>,
): Promise<Response> {
  const deps = c.get("deps");
  const request = c.req.raw;
  if (request.method !== "GET" && request.method !== "HEAD") {
    throw new RegistryError("UNSUPPORTED", `${request.method} is not supported here; use GET`);
  }
  const access = deps.access();
  if (access) {
    if (/^bearer\s/i.test(request.headers.get("authorization") ?? "")) {
      await authorizeRoute(request, { kind: "base" }, access);
    } else {
      await requireLogin(request, access, deps.loginLimiter);
    }
  }
  if (!deps.originConfigured) {
    throw new RegistryError("NOT_FOUND", "this edge has no origin, so it has no package index");
  }
  const url = requestTarget(request.url);
  const query = url.searchParams.toString();
  let response: Response;
  try {
    response = await deps.origin.packageApi(`${url.pathname}${query ? `?${query}` : ""}`, {
      signal: request.signal,
    });
  } catch (error) {
    if (!(error instanceof OriginUnreachable)) throw error;
    throw new RegistryError(
      "ORIGIN_UNAVAILABLE",
      "the package index is on the image builder, which is unreachable; try again later",
    );
  }
  response.headers.set("X-Content-Type-Options", "nosniff");
  return request.method === "HEAD" ? new Response(null, response) : response;
}
