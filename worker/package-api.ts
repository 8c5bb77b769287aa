// The package index's JSON API at the edge (shared/package-api.ts): forwarded to the origin with
// the origin secret, answered as the origin answers (its registry errors included). Nothing is
// kept between requests; a private edge asks for the same token as for /v2/.

import type { Context } from "hono";
import { RegistryError } from "../shared/errors.ts";
import { requestTarget } from "../shared/request-target.ts";
import { authorizeRoute } from "./auth/edge-guard.ts";
import type { EdgeDeps } from "./edge-deps.ts";

export async function forwardPackageApi(
  c: Context<{ Variables: { deps: EdgeDeps } }>,
): Promise<Response> {
  const deps = c.get("deps");
  const access = deps.access();
  if (access) await authorizeRoute(c.req.raw, { kind: "base" }, access);
  if (!deps.originConfigured) {
    throw new RegistryError("NOT_FOUND", "this edge has no origin, so it has no package index");
  }
  const url = requestTarget(c.req.url);
  const query = url.searchParams.toString();
  return deps.origin.packageApi(`${url.pathname}${query ? `?${query}` : ""}`);
}
