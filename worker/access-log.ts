// One access-log line per request at the edge (event "request": method, path, status, bytes, ms,
// servedBy, the layer that answered: cache, kv, r2, origin or stale, and the user of a private edge), as a
// console JSON line for Workers Logs and `wrangler tail`, and as an Analytics Engine data point
// when the EDGE_ANALYTICS binding is present. The route records what only it knows in `served`.

import type { Context, MiddlewareHandler } from "hono";
import { matchRoute } from "../shared/routes.ts";
import { logEvent } from "./log.ts";

/** Where an answer came from: the first store along the way that had it. */
export type AnswerLayer = "cache" | "kv" | "r2" | "origin" | "stale";

/** What a request's route learned, read when its response is ready. One per request. */
export interface ServedNote {
  layer: AnswerLayer | null;
  user: string | null;
}

export type AccessLogVariables = { served: ServedNote };

/**
 * The data point's fields: blobs are the strings (route, method, layer, status class, colo),
 * doubles the numbers (status, bytes, ms); the index samples by route.
 */
export function dataPointOf(entry: {
  route: string;
  method: string;
  layer: string | null;
  status: number;
  bytes: number;
  ms: number;
  colo: string;
}): AnalyticsEngineDataPoint {
  return {
    indexes: [entry.route],
    blobs: [
      entry.route,
      entry.method,
      entry.layer ?? "",
      `${Math.floor(entry.status / 100)}xx`,
      entry.colo,
    ],
    doubles: [entry.status, entry.bytes, entry.ms],
  };
}

/** The access log, writing data points to the dataset `analyticsOf` gives (when there is one). */
export function accessLog<E extends { Variables: AccessLogVariables }>(
  analyticsOf: (c: Context<E>) => AnalyticsEngineDataset | null,
): MiddlewareHandler<E> {
  return async (c, next) => {
    const started = Date.now();
    const served: ServedNote = { layer: null, user: null };
    c.set("served", served);
    await next();
    const { method } = c.req;
    const path = c.req.path.slice(0, 300);
    const status = c.res.status;
    const length = Number(c.res.headers.get("content-length"));
    const bytes = method === "HEAD" || !Number.isFinite(length) ? 0 : length;
    // Time stands still in a Worker while it computes; this is the time spent waiting on I/O.
    const ms = Date.now() - started;
    const route = matchRoute(path)?.kind ?? (path === "/" ? "start_page" : "other");
    const colo = (c.req.raw as { cf?: { colo?: string } }).cf?.colo ?? "";
    logEvent("request", {
      method,
      path,
      status,
      bytes,
      ms,
      // Not "layer": that key names an image layer in every other log line.
      servedBy: served.layer,
      ...(served.user !== null ? { user: served.user } : {}),
      ...(colo ? { colo } : {}),
    });
    analyticsOf(c)?.writeDataPoint(
      dataPointOf({ route, method, layer: served.layer, status, bytes, ms, colo }),
    );
  };
}
