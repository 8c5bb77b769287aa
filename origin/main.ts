// Starts the origin: reads the environment (the only place that does), wires the pieces
// together and serves HTTP. Exits with a clear message on bad configuration.

import { serve } from "@hono/node-server";
import { mkdir, rm } from "node:fs/promises";
import { resolve } from "node:path";
import { createApp } from "./app.ts";
import { BuildRecords } from "./cache/build-records.ts";
import { openDatabase } from "./cache/database.ts";
import { LayerCache } from "./cache/layer-cache.ts";
import { ManifestCache } from "./cache/manifest-cache.ts";
import { ConfigError, parseConfig, type Config } from "./config.ts";
import { ImageService } from "./builder/image-service.ts";
import { LayerPopularity } from "./cache/layer-popularity.ts";
import { Layering } from "./layers/layering.ts";
import { loadPopularity } from "./layers/popularity.ts";
import { createLogger } from "./log.ts";
import { createNixRunner } from "./nix/runner.ts";
import { resolveSource } from "./nix/source.ts";
import { FilesystemStorage } from "./storage/filesystem.ts";
import { S3Storage } from "./storage/s3.ts";
import type { Storage } from "./storage/storage.ts";

async function openStorage(config: Config): Promise<Storage> {
  const setting = config.storage;
  if (setting.backend === "filesystem") return new FilesystemStorage(setting.path).init();
  return new S3Storage({
    endpoint: setting.endpoint,
    bucket: setting.bucket,
    region: setting.region,
    accessKeyId: setting.accessKeyId,
    secretAccessKey: setting.secretAccessKey,
    forcePathStyle: setting.forcePathStyle,
    partSize: setting.partSizeBytes,
    presignRedirects: setting.presignSeconds ? { expiresSeconds: setting.presignSeconds } : null,
    scratchDir: resolve(config.dataDir, "scratch"),
  }).init();
}

async function main(): Promise<void> {
  const log = createLogger();
  let config: Config;
  try {
    config = parseConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  await mkdir(config.dataDir, { recursive: true });
  // GC roots left by builds of a previous run that did not finish (e.g. a crash) would keep
  // their store paths alive forever; no build is running yet, so they can all go.
  await rm(config.gcRootDir, { recursive: true, force: true });
  const db = openDatabase(config.databasePath);
  const storage = await openStorage(config);
  const runner = createNixRunner({ env: config.childEnv });
  // Without a popularity file the layer order is learned from the images this origin publishes.
  const popularity =
    config.popularitySource === null ? null : await loadPopularity(config.popularitySource);
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
    },
  });

  let revisionCache: { at: number; value: Promise<string | null> } | null = null;
  const currentRevision = () => {
    if (!revisionCache || Date.now() - revisionCache.at > 60_000) {
      const value = resolveSource(config.source, "latest", runner).then((s) => s.revision);
      revisionCache = { at: Date.now(), value };
    }
    return revisionCache.value;
  };

  const app = createApp({
    images,
    storage,
    builds,
    originSecret: config.originSecret,
    originPrivate: config.originPrivate,
    currentRevision,
    log,
  });
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
    log.info("origin listening", {
      url: `http://${config.host}:${info.port}`,
      port: info.port,
      source: images.sourceId,
      storage: storage.description,
    });
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("origin stopping", { signal, builds: images.stats });
    server.close();
    // Stop running Nix builds (SIGTERM reaches their builders) and let them record the outcome.
    shutdownController.abort(new Error(`origin stopping (${signal})`));
    await Promise.race([images.drain(), new Promise((resolve) => setTimeout(resolve, 15_000))]);
    db.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

await main();
