// `npm run gc`: one storage collection, printed. When an origin holds the data dir it is asked to
// collect (POST /_origin/gc, with ORIGIN_SECRET); otherwise the collection runs here, under the
// data dir's lock. main.ts reads the configuration and calls this.

import { originPaths } from "../../shared/origin-protocol.ts";
import { PublishedImages } from "../cache/published-images.ts";
import type { Config } from "../config.ts";
import { holderUrl, type DataDirLock } from "../data-dir-lock.ts";
import { claimDataDir, openDatabaseIn, StartupError } from "../preflight.ts";
import { openStorage } from "../storage/open-storage.ts";
import { collectGarbage, type CollectionReport } from "./collector.ts";
import { Pins } from "./pins.ts";

export async function collectOnce(config: Config): Promise<void> {
  let report: CollectionReport;
  let lock: DataDirLock | null = null;
  try {
    lock = await claimDataDir(config.dataDir);
  } catch (error) {
    const url = holderUrl(config.dataDir);
    if (!(error instanceof StartupError) || !url) throw error;
    process.stderr.write(
      `an origin is running on ${config.dataDir}; asking it (${url}) to collect\n`,
    );
    const endpoint = `${url}${originPaths.gc.path()}`;
    const response = await fetch(endpoint, {
      method: "POST",
      headers: config.originSecret ? { Authorization: `Bearer ${config.originSecret}` } : {},
    });
    if (!response.ok)
      throw new Error(`${endpoint} answered ${response.status}: ${await response.text()}`);
    report = (await response.json()) as CollectionReport;
  }
  if (lock) {
    const db = openDatabaseIn(config.dataDir, config.databasePath);
    const storage = await openStorage(config);
    report = await collectGarbage({
      storage,
      published: new PublishedImages(db),
      pins: new Pins(),
      unusedMs: config.gcUnusedSeconds * 1000,
      graceMs: config.gcGraceSeconds * 1000,
    });
    db.close();
    lock.release();
  }
  process.stdout.write(formatReport(report!));
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
