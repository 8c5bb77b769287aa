// The origin's HTTP application: start page, build endpoints for the edge, and the pull-only
// registry API from shared/registry-handler.ts. One error handler writes every error.

import { Hono, type MiddlewareHandler } from "hono";
import { tokenPath } from "../shared/auth-challenge.ts";
import { errorResponse, RegistryError } from "../shared/errors.ts";
import { originPrefix } from "../shared/origin-protocol.ts";
import { handleRegistryRequest } from "../shared/registry-handler.ts";
import {
  authorizeRegistry,
  buildNeedsLogin,
  pageGuard,
  tokenHandler,
  type AccessControl,
  type RegistryViewer,
} from "./auth/access-control.ts";
import type { BuildRecords } from "./cache/build-records.ts";
import type { Images } from "./builder/images.ts";
import type { Logger } from "./log.ts";
import { renderMetrics } from "./metrics.ts";
import { requestNotes } from "./http/access-log.ts";
import type { Traffic } from "./http/traffic.ts";
import { mapOriginError } from "./registry-errors.ts";
import { createOriginSource } from "./registry-source.ts";
import { RecentManifests } from "./storage/recent-manifests.ts";
import { buildRoutes } from "./routes/builds.ts";
import { packagesApiRoutes } from "./routes/packages-api.ts";
import type { PackageIndex } from "./index/package-index.ts";
import { packageApiPrefix } from "../shared/package-api.ts";
import { requireSecret } from "./routes/require-secret.ts";
import { upkeepRoutes } from "./routes/upkeep.ts";
import type { GarbageCollector } from "./gc/scheduler.ts";
import type { Readiness } from "./readiness.ts";
import type { BlobReader } from "./storage/storage.ts";
import type { ImageCatalog } from "./cache/image-catalog.ts";
import { WaitBudget } from "./web/wait-budget.ts";
import { webRoutes } from "./web/web-routes.ts";

export interface AppDeps {
  images: Images;
  storage: BlobReader & { readonly description: string };
  builds: BuildRecords;
  /** Whether storage, Nix and the package source answer now (for /healthz). */
  readiness: Readiness;
  /** Nix and git processes started since start, by command (for /metrics). */
  nixProcesses: ReadonlyMap<string, number>;
  /** The storage collector (runs on POST /_origin/gc, and its figures are in /metrics). */
  collector: GarbageCollector;
  originSecret: string | null;
  /**
   * Null: a public origin. Otherwise the registry API needs a user's token or the edge's secret,
   * and the start page and readiness details a login (NIXERY_HTPASSWD, or ORIGIN_PRIVATE).
   */
  access: AccessControl | null;
  log: Logger;
  /** The published images the pages show (recent, most pulled, an image's layers). */
  catalog: ImageCatalog;
  /** Waiting progress requests per client and in total (default 6 and 256). */
  progressWaits?: { perClient: number; total: number };
  /** The package index behind /api/packages (null or absent: the API answers NOT_FOUND). */
  packageIndex?: PackageIndex | null;
  /** Request, latency, memory and event-loop figures for /metrics (null: not recorded). */
  traffic?: Traffic | null;
}

/** How long one progress request waits for a change before answering as it is. */
const progressWaitMs = 20_000;

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  // Manifests read in the last minute, forgotten after every storage collection.
  const recent = new RecentManifests(
    () => deps.collector.totals.runs + deps.collector.totals.failures,
  );
  const source = createOriginSource(deps.images, deps.storage, undefined, null, recent);
  const open: MiddlewareHandler = (_c, next) => next();
  const page = deps.access ? pageGuard(deps.access) : open;
  const packageIndex = deps.packageIndex ?? null;

  if (deps.access) app.on(["GET", "HEAD", "POST"], tokenPath, tokenHandler(deps.access));

  // The start page, image pages and their JSON (shared/web); everything else passes through.
  const waits = deps.progressWaits ?? { perClient: 6, total: 256 };
  app.use(
    "*",
    webRoutes(
      {
        images: deps.images,
        catalog: deps.catalog,
        storage: deps.storage,
        waits: new WaitBudget(waits.perClient, waits.total),
        waitMs: progressWaitMs,
        describe: packageIndex
          ? (revision, attr) => packageIndex.describe(revision, attr)
          : undefined,
      },
      { secret: deps.originSecret, guard: deps.access ? page : null },
    ),
  );

  // Readiness: 503 while a dependency a pull needs is down. /livez only says the process answers.
  app.get("/healthz", page, async (c) => {
    const report = await deps.readiness.report();
    return c.json(
      { ok: report.ready, checks: report.checks, builds: deps.images.stats },
      report.ready ? 200 : 503,
      { "Cache-Control": "no-store" },
    );
  });
  app.get("/livez", (c) => c.text("ok\n", 200, { "Cache-Control": "no-store" }));

  app.get("/metrics", page, (c) =>
    c.text(
      renderMetrics({
        buildOutcomes: deps.builds.counts(),
        builds: deps.images.stats,
        counters: deps.images.counters,
        nixProcesses: deps.nixProcesses,
        collector: deps.collector.totals,
      }) + (deps.traffic?.render() ?? ""),
      200,
      { "Content-Type": "text/plain; version=0.0.4" },
    ),
  );

  if (deps.packageIndex) app.route(packageApiPrefix, packagesApiRoutes(deps.packageIndex, page));
  app.use(`${originPrefix}/*`, requireSecret(deps.originSecret));
  app.route("/", buildRoutes(deps.images));
  app.route("/", upkeepRoutes(deps.images, deps.collector));

  app.all("/v2/*", async (c) => {
    const access = deps.access;
    const viewer: RegistryViewer = access
      ? await authorizeRegistry(access, c)
      : { mayBuild: true, user: "" };
    const notes = requestNotes(c.env);
    if (notes && access) notes.user = viewer.user;
    const response = await handleRegistryRequest(
      c.req.raw,
      viewer.mayBuild
        ? notes
          ? createOriginSource(deps.images, deps.storage, undefined, notes, recent)
          : source
        : createOriginSource(
            deps.images,
            deps.storage,
            (name, tag) => buildNeedsLogin(access!, c, name, tag),
            notes,
            recent,
          ),
      access ? "private" : "public",
    );
    if (response) return response;
    throw new RegistryError("NOT_FOUND", `no registry route ${c.req.method} ${c.req.path}`);
  });

  app.notFound((c) =>
    errorResponse(
      new RegistryError("NOT_FOUND", `no route ${c.req.method} ${c.req.path.slice(0, 200)}`),
      c.req.method,
    ),
  );

  app.onError((error, c) => {
    const registryError = mapOriginError(error);
    if (registryError.code === "INTERNAL") {
      deps.log.error("request failed", { path: c.req.path, error: String(error?.stack ?? error) });
    }
    return errorResponse(registryError, c.req.method);
  });

  return app;
}
