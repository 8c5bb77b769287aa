// The package index's JSON API at the edge (shared/package-api.ts): forwarded to the origin with
// the origin secret, answered as the origin answers (its registry errors included). Nothing is
// kept between requests; a private edge asks for the same token as for /v2/.

import type { Context } from "hono";
import { RegistryError } from "../shared/errors.ts";
import { requestTarget } from "../shared/request-target.ts";
import { authorizeRoute, edgeAccess } from "./auth/edge-guard.ts";
import type { Env } from "./env.ts";
import { readSettings } from "./env.ts";
import { OriginClient } from "./origin-client.ts";

export async function forwardPackageApi(c: Context<{ Bindings: Env }>): Promise<Response> {
  const access = edgeAccess(c.env);
  if (access) await authorizeRoute(c.req.raw, { kind: "base" }, access);
  if (!c.env.ORIGIN_URL) {
    throw new RegistryError("NOT_FOUND", "this edge has no origin, so it has no package index");
  }
  const url = requestTarget(c.req.url);
  const origin = new OriginClient(() => readSettings(c.env));
  const query = url.searchParams.toString();
  return origin.packageApi(`${url.pathname}${query ? `?${query}` : ""}`);
}
