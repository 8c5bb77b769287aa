// `npm run gc`: one storage collection, printed. When an origin holds the data dir it is asked to
// collect (POST /_origin/gc, with ORIGIN_SECRET); otherwise the collection runs here, under the
// data dir's lock. main.ts reads the configuration and calls this.

import { originPaths } from "../../shared/origin-protocol.ts";
import { PublishedImages } from "../cache/published-images.ts";
import type { Config } from "../config.ts";
import { holderUrl, type DataDirLock } from "../data-dir-lock.ts";
import { collectGarbage, type CollectionReport } from "../gc/collector.ts";
import { Pins } from "../gc/pins.ts";
import { claimDataDir, openDatabaseIn, StartupError } from "../preflight.ts";
import { openStorage } from "../storage/open-storage.ts";

export async function collectOnce(config: Config): Promise<void> {
  const lock = await claimOrFindHolder(config);
  const report =
    typeof lock === "string"
      ? await askHolder(lock, config.originSecret)
      : await collectHere(config, lock);
  process.stdout.write(formatReport(report));
}

/** The data dir's lock, or the URL of the origin that holds it. */
async function claimOrFindHolder(config: Config): Promise<DataDirLock | string> {
  try {
    return await claimDataDir(config.dataDir);
  } catch (error) {
    const url = holderUrl(config.dataDir);
    if (!(error instanceof StartupError) || !url) throw error;
    process.stderr.write(
      `an origin is running on ${config.dataDir}; asking it (${url}) to collect\n`,
    );
    return url;
  }
}

async function askHolder(url: string, secret: string | null): Promise<CollectionReport> {
  const endpoint = `${url}${originPaths.gc.path()}`;
  const response = await fetch(endpoint, {
    method: "POST",
    headers: secret ? { Authorization: `Bearer ${secret}` } : {},
  });
  if (!response.ok) {
    throw new Error(`${endpoint} answered ${response.status}: ${await response.text()}`);
  }
  return (await response.json()) as CollectionReport;
}

async function collectHere(config: Config, lock: DataDirLock): Promise<CollectionReport> {
  try {
    const db = openDatabaseIn(config.dataDir, config.databasePath);
    try {
      return await collectGarbage({
        storage: await openStorage(config),
        published: new PublishedImages(db),
        pins: new Pins(),
        unusedMs: config.gcUnusedSeconds * 1000,
        graceMs: config.gcGraceSeconds * 1000,
      });
    } finally {
      db.close();
    }
  } finally {
    lock.release();
  }
}

function formatReport(report: CollectionReport): string {
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  const lines = [
    `collected storage in ${report.durationMs} ms`,
    `removed ${report.deleted.objects} objects (${mb(report.deleted.bytes)})`,
    ...report.deleted.keys.map((key) => `  ${key}`),
    ...(report.deleted.keys.length < report.deleted.objects ? ["  …"] : []),
    `kept ${report.kept.objects} objects (${mb(report.kept.bytes)})`,
    `images in use: ${report.images.inUse}; unused (objects given up, restored on request): ${report.images.unused}`,
  ];
  return `${lines.join("\n")}\n`;
}
