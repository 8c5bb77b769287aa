// Starts the origin: reads the environment (the only place that does), checks every dependency
// once (one line and exit status 2 for each misconfiguration), wires the pieces together and
// serves HTTP. A bug in a request is logged and the origin keeps serving.

import { serve } from "@hono/node-server";
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import type { Server } from "node:http";
import { createApp } from "./app.ts";
import { BuildRecords } from "./cache/build-records.ts";
import { LayerCache } from "./cache/layer-cache.ts";
import { ManifestCache } from "./cache/manifest-cache.ts";
import { ConfigError, parseConfig, type Config } from "./config.ts";
import { ImageService } from "./builder/image-service.ts";
import { createLogger, type Logger } from "./log.ts";
import { countingRunner, createNixRunner } from "./nix/runner.ts";
import {
  checkNix,
  checkSource,
  claimDataDir,
  describe,
  loadPopularityChecked,
  openDatabaseIn,
  StartupError,
} from "./preflight.ts";
import { Readiness } from "./readiness.ts";
import { FilesystemStorage } from "./storage/filesystem.ts";
import { S3Storage } from "./storage/s3.ts";
import type { Storage } from "./storage/storage.ts";
import { UploadJournal } from "./storage/upload-journal.ts";

async function openStorage(config: Config): Promise<Storage> {
  const setting = config.storage;
  if (setting.backend === "filesystem") {
    try {
      const storage = await new FilesystemStorage(setting.path).init();
      await storage.check();
      return storage;
    } catch (error) {
      throw new StartupError(
        "STORAGE_PATH",
        setting.path,
        `cannot write there (${describe(error)})`,
      );
    }
  }
  const storage = await new S3Storage({
    endpoint: setting.endpoint,
    bucket: setting.bucket,
    region: setting.region,
    accessKeyId: setting.accessKeyId,
    secretAccessKey: setting.secretAccessKey,
    forcePathStyle: setting.forcePathStyle,
    partSize: setting.partSizeBytes,
    presignRedirects: setting.presignSeconds ? { expiresSeconds: setting.presignSeconds } : null,
    scratchDir: resolve(config.dataDir, "scratch"),
    journal: await new UploadJournal(resolve(config.dataDir, "uploads")).init(),
  }).init();
  await storage.check().catch((error: unknown) => {
    throw new StartupError(
      "S3_BUCKET",
      `${setting.bucket} at S3_ENDPOINT=${setting.endpoint}`,
      `unreachable or refused (${describe(error)})`,
    );
  });
  return storage;
}

/** Listens, turning "port in use" and friends into a StartupError. */
function listen(
  app: { fetch: (request: Request) => Response | Promise<Response> },
  config: Config,
) {
  return new Promise<{ server: Server; port: number }>((resolveListen, reject) => {
    const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) =>
      resolveListen({ server: server as Server, port: info.port }),
    ) as Server;
    server.once("error", (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === "EADDRINUSE"
          ? `${config.host}:${config.port} is already in use; stop what listens there or choose another PORT`
          : `cannot listen on ${config.host}:${config.port} (${describe(error)})`;
      reject(new StartupError("PORT", String(config.port), reason));
    });
  });
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

async function start(config: Config, log: Logger): Promise<void> {
  const lock = await claimDataDir(config.dataDir);
  // No other origin uses this data dir (it is locked), so whatever GC roots and scratch files it
  // holds are left by an earlier run that did not finish (a crash): they can all go.
  await rm(config.gcRootDir, { recursive: true, force: true });
  const db = openDatabaseIn(config.dataDir, config.databasePath);
  const runner = countingRunner(createNixRunner({ env: config.childEnv }));
  const nixVersion = await checkNix(runner, config.childEnv.PATH ?? "");
  await checkSource(config.source, runner);
  const popularity = await loadPopularityChecked(config.popularitySource);
  const storage = await openStorage(config);
  const leftovers = await storage.cleanUpAfterCrash();
  if (leftovers.scratchFiles > 0 || leftovers.abortedUploads > 0) {
    log.info("removed leftovers of an earlier run", leftovers);
  }

  const builds = new BuildRecords(db);
  const shutdownController = new AbortController();
  const images = new ImageService({
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
    pipeline: {
      runner,
      storage,
      layerCache: new LayerCache(db),
      popularity,
      layerOptions: {
        budget: config.layerBudget,
        bigThreshold: config.bigPathBytes,
        popularThreshold: config.popularThreshold,
      },
      packConcurrency: config.packConcurrency,
      gzipLevel: config.gzipLevel,
      nixTimeoutMs: config.nixTimeoutSeconds * 1000,
      gcRootDir: config.gcRootDir,
      log,
    },
  });
  const readiness = new Readiness({
    storage: () => storage.check(),
    nix: async () => {
      await checkNix(runner, config.childEnv.PATH ?? "");
    },
    source: async () => {
      await images.currentRevision();
    },
  });

  const app = createApp({
    images,
    storage,
    builds,
    readiness,
    nixProcesses: runner.counts,
    originSecret: config.originSecret,
    originPrivate: config.originPrivate,
    log,
  });
  const { server, port } = await listen(app, config);
  log.info("origin listening", {
    url: `http://${config.host}:${port}`,
    port,
    source: images.sourceId,
    storage: storage.description,
    nix: nixVersion,
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("origin stopping", { signal, builds: images.stats });
    server.close();
    // Stop running Nix builds and packing (SIGTERM reaches their builders); let them record it.
    shutdownController.abort(new Error(`origin stopping (${signal})`));
    await Promise.race([images.drain(), new Promise((done) => setTimeout(done, 15_000))]);
    db.close();
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
  const log = createLogger();
  keepServingOnBugs(log);
  try {
    await start(parseConfig(process.env), log);
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
