// Mounts the shared web pages (shared/web/web-handler.ts) on the origin: a private origin asks
// for a login before any of them but the script and style, and the data comes from this origin.
// A request from the edge (with the origin's secret) says for which client it asks, so the wait
// budget is shared out per browser, not per edge.

import type { MiddlewareHandler } from "hono";
import { isPublicAsset, isWebRequest, handleWebRequest } from "../../shared/web/web-handler.ts";
import { requestTarget } from "../../shared/request-target.ts";
import { clientAddress } from "../auth/access-control.ts";
import { presentsSecret } from "../routes/require-secret.ts";
import { originWebData, type OriginWebDeps } from "./origin-web-data.ts";

/** The header in which the edge names the client it asks for (trusted only with the secret). */
export const clientHeader = "X-Nixery-Client";

export function webRoutes(
  deps: OriginWebDeps,
  options: { secret: string | null; guard: MiddlewareHandler | null },
): MiddlewareHandler {
  return async (c, next) => {
    const request = c.req.raw;
    const { pathname } = requestTarget(request.url);
    if (!isWebRequest(request, pathname)) return next();
    // The guard throws the login challenge when the request has no valid login.
    if (options.guard && !isPublicAsset(pathname)) await options.guard(c, async () => {});
    const forwarded = c.req.header(clientHeader);
    const client =
      forwarded && presentsSecret(c.req.header("authorization"), options.secret)
        ? `edge:${forwarded.slice(0, 64)}`
        : clientAddress(c);
    const response = await handleWebRequest(request, pathname, originWebData(deps, client), {
      role: "origin",
      isPrivate: options.guard !== null,
    });
    return response ?? next();
  };
}
