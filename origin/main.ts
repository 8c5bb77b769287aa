// Starts the origin: reads the environment (the only place that does), checks every dependency
// once (one line and exit status 2 for each misconfiguration), wires the pieces together and
// serves HTTP. A bug in a request is logged and the origin keeps serving.

import { getRequestListener } from "@hono/node-server";
import { rm } from "node:fs/promises";
import { platformName } from "../shared/platform.ts";
import { errorResponse, RegistryError } from "../shared/errors.ts";
import { startHardenedServer, type HardenedServer } from "./http/hardened-server.ts";
import { withFileResponses, type NodeBindings } from "./http/send-file.ts";
import { createApp } from "./app.ts";
import { nixSystems } from "../shared/image-name.ts";
import { IndexStore } from "./index/index-store.ts";
import { PackageIndex } from "./index/package-index.ts";
import { batchedLines, withAccessLog } from "./http/access-log.ts";
import { Traffic } from "./http/traffic.ts";
import { checkSshKey, openAccessControl } from "./auth/setup.ts";
import { BuildRecords } from "./cache/build-records.ts";
import { LayerCache } from "./cache/layer-cache.ts";
import { ManifestCache } from "./cache/manifest-cache.ts";
import { ConfigError, parseConfig, type Config } from "./config.ts";
import { ImageService } from "./builder/image-service.ts";
import { LayerPopularity } from "./cache/layer-popularity.ts";
import { Layering } from "./layers/layering.ts";
import { createLogger, stdoutLines, type Logger } from "./log.ts";
import { countingRunner, createNixRunner } from "./nix/runner.ts";
import {
  checkNix,
  checkSource,
  detectNixChecked,
  claimDataDir,
  describe,
  loadPopularityChecked,
  openDatabaseIn,
  StartupError,
} from "./preflight.ts";
import { Readiness } from "./readiness.ts";
import { PublishedImages } from "./cache/published-images.ts";
import { PullCounts } from "./cache/pull-counts.ts";
import { ImageCatalog } from "./cache/image-catalog.ts";
import { Pins } from "./gc/pins.ts";
import { GarbageCollector } from "./gc/scheduler.ts";
import { writeHolderUrl } from "./data-dir-lock.ts";
import { Limiter } from "./builder/limiter.ts";
import { newerThanTested } from "./nix/version.ts";
import { openStorage } from "./storage/open-storage.ts";
import { collectOnce } from "./cli/collect-once.ts";

/**
 * Listens through the hardened server (every malformed or odd request gets registry JSON, the app
 * sees only checked origin-form requests), turning "port in use" and friends into a StartupError.
 */
async function listen(
  app: { fetch: (request: Request, env: NodeBindings) => Response | Promise<Response> },
  config: Config,
  log: Logger,
  access: { line: (text: string) => void; traffic: Traffic },
): Promise<HardenedServer> {
  const listener = getRequestListener(withFileResponses(app.fetch), {
    errorHandler: (error) => {
      log.error("request could not be read", { error: stackOf(error) });
      return errorResponse(new RegistryError("BAD_REQUEST", "the request could not be read"));
    },
  });
  try {
    return await startHardenedServer(
      config.host,
      config.port,
      withAccessLog((req, res, target: { path: string; host: string }) => {
        req.url = target.path;
        req.headers.host = target.host;
        listener(req, res).catch((error: unknown) => {
          log.error("request failed outside the app", { error: stackOf(error) });
          if (!res.headersSent) {
            res.writeHead(500, { "Content-Type": "application/json" });
            res.end(JSON.stringify(new RegistryError("INTERNAL").toBody()));
          } else {
            res.destroy();
          }
        });
      }, access),
    );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "EADDRINUSE"
        ? `${config.host}:${config.port} is already in use; stop what listens there or choose another PORT`
        : `cannot listen on ${config.host}:${config.port} (${describe(error)})`;
    throw new StartupError("PORT", String(config.port), reason);
  }
}

/** A bug must not become an outage: log what escaped and keep serving. */
function keepServingOnBugs(log: Logger): void {
  process.on("unhandledRejection", (reason) => {
    log.error("unhandled rejection (a bug; the origin keeps serving)", { error: stackOf(reason) });
  });
  process.on("uncaughtException", (error) => {
    log.error("uncaught exception (a bug; the origin keeps serving)", { error: stackOf(error) });
  });
}

async function start(
  config: Config,
  log: Logger,
  writeLine: (line: string) => void,
): Promise<void> {
  const lock = await claimDataDir(config.dataDir);
  // No other origin uses this data dir (it is locked), so whatever GC roots and scratch files it
  // holds are left by an earlier run that did not finish (a crash): they can all go.
  await rm(config.gcRootDir, { recursive: true, force: true });
  const db = openDatabaseIn(config.dataDir, config.databasePath);
  const runner = countingRunner(createNixRunner({ env: config.childEnv }));
  // The Nix version decides command flags; found once, before anything is built.
  const nix = await detectNixChecked(runner, config.childEnv.PATH ?? "");
  if (newerThanTested(nix.version)) {
    log.warn("nix is newer than the newest version tested (2.34)", { version: nix.version.text });
  }
  await checkSshKey(config, runner);
  await checkSource(config.source, runner);
  const access = await openAccessControl(config, log);
  // Without a popularity file the layer order is learned from the images this origin publishes.
  const popularity =
    config.popularitySource === null ? null : await loadPopularityChecked(config.popularitySource);
  const storage = await openStorage(config);
  const leftovers = await storage.cleanUpAfterCrash();
  if (Object.values(leftovers).some((count) => count > 0)) {
    log.info("removed leftovers of an earlier run", { ...leftovers });
  }

  const builds = new BuildRecords(db);
  const published = new PublishedImages(db);
  const pulls = new PullCounts(db);
  const pins = new Pins();
  const shutdownController = new AbortController();
  // The package index (search, suggestions) lives in its own database file: it is large, rebuilt
  // per revision, and may be deleted at any time.
  const indexStore = new IndexStore(config.packageIndexPath);
  const packageIndex: PackageIndex = new PackageIndex({
    store: indexStore,
    runner,
    resolve: (tag) => images.resolveTag(tag),
    system: nixSystems[config.hostArch],
    log,
    signal: shutdownController.signal,
  });

  const images: ImageService = new ImageService({
    signal: shutdownController.signal,
    source: config.source,
    runner,
    manifests: new ManifestCache(db),
    builds,
    storage,
    tagTtlSeconds: config.tagTtlSeconds,
    maxConcurrentBuilds: config.maxConcurrentBuilds,
    maxQueuedBuilds: config.maxQueuedBuilds,
    failureTtlSeconds: config.failureTtlSeconds,
    log,
    published,
    // Uses are written often enough that none is lost to the collector's window.
    touchEveryMs: Math.min(10 * 60 * 1000, (config.gcUnusedSeconds * 1000) / 4),
    platforms: config.platforms,
    hostArch: config.hostArch,
    pulls,
    pipeline: {
      runner,
      storage,
      layerCache: new LayerCache(db),
      layering: new Layering({
        popularity,
        history: new LayerPopularity(db),
        options: {
          budget: config.layerBudget,
          bigThreshold: config.bigPathBytes,
          popularThreshold: config.popularThreshold,
        },
      }),
      packConcurrency: config.packConcurrency,
      gzipLevel: config.gzipLevel,
      nixTimeoutMs: config.nixTimeoutSeconds * 1000,
      gcRootDir: config.gcRootDir,
      log,
      published,
      pins,
      nix,
      policy: config.policy,
      // Explaining a name that does not evaluate costs an import of the package set; one at a time.
      explainSlots: new Limiter(1),
      packageHints: (source, names) => packageIndex.hints(source, names),
    },
  });
  const collector = new GarbageCollector(
    {
      storage,
      published,
      pins,
      unusedMs: config.gcUnusedSeconds * 1000,
      graceMs: config.gcGraceSeconds * 1000,
      signal: shutdownController.signal,
    },
    log,
  );
  const readiness = new Readiness({
    storage: () => storage.check(),
    nix: async () => {
      await checkNix(runner, config.childEnv.PATH ?? "");
    },
    source: async () => {
      await images.currentRevision();
    },
  });

  const traffic = new Traffic();
  const app = createApp({
    packageIndex,
    traffic,
    images,
    storage,
    builds,
    readiness,
    nixProcesses: runner.counts,
    collector,
    originSecret: config.originSecret,
    access,
    log,
    catalog: new ImageCatalog(db),
  });
  const server = await listen(app, config, log, { line: batchedLines(writeLine), traffic });
  const port = server.port;
  log.info("origin listening", {
    url: `http://${config.host}:${port}`,
    port,
    source: images.sourceId,
    platforms: config.platforms.map(platformName),
    storage: storage.description,
    nix: nix.version.text,
    substituters: nix.substituters,
    access: access ? (access.users ? "users" : "edge only") : "public",
  });
  writeHolderUrl(
    config.dataDir,
    `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${port}`,
  );
  collector.schedule(config.gcIntervalSeconds * 1000);
  // Index the default tag's revision now, in the background (one build at a time, stopped with the
  // origin), so that the first unknown name already gets close names; never waited on.
  void packageIndex.start("latest");

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("origin stopping", { signal, builds: images.stats });
    // Stop accepting; answers in flight finish while builds are stopped below.
    server.server.close();
    server.server.closeIdleConnections();
    collector.stop();
    // Stop running Nix builds and packing (SIGTERM reaches their builders); let them record it.
    shutdownController.abort(new Error(`origin stopping (${signal})`));
    await Promise.race([
      Promise.all([images.drain(), packageIndex.drain()]),
      new Promise((done) => setTimeout(done, 15_000)),
    ]);
    pulls.flush();
    db.close();
    indexStore.close();
    lock.release();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

function stackOf(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

async function main(): Promise<void> {
  const writeLine = stdoutLines();
  const log = createLogger(writeLine);
  keepServingOnBugs(log);
  try {
    const config = parseConfig(process.env);
    if (process.argv[2] === "gc") {
      await collectOnce(config);
      process.exit(0);
    }
    await start(config, log, writeLine);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof StartupError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`origin failed to start: ${stackOf(error)}\n`);
    process.exit(1);
  }
}

await main();
