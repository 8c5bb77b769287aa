// Runs the storage collector every `intervalMs` and on request (POST /_origin/gc, `npm run gc`),
// never two collections at once, and keeps the figures /metrics reports.

import type { Logger } from "../log.ts";
import { collectGarbage, type CollectionOptions, type CollectionReport } from "./collector.ts";

export interface CollectorTotals {
  runs: number;
  failures: number;
  secondsTotal: number;
  bytesFreed: number;
  objectsFreed: number;
  /** What storage held after the last collection (null before the first). */
  stored: { objects: number; bytes: number } | null;
  last: CollectionReport | null;
}

export class GarbageCollector {
  #running: Promise<CollectionReport> | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  readonly totals: CollectorTotals = {
    runs: 0,
    failures: 0,
    secondsTotal: 0,
    bytesFreed: 0,
    objectsFreed: 0,
    stored: null,
    last: null,
  };

  constructor(
    private readonly options: Omit<CollectionOptions, "signal"> & { signal?: AbortSignal },
    private readonly log: Logger,
  ) {}

  /** Collects now, or joins the collection already running. */
  collect(): Promise<CollectionReport> {
    this.#running ??= this.#run().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  /** Starts collecting every `intervalMs` (0: never), first after `firstDelayMs`. */
  schedule(intervalMs: number, firstDelayMs = 60_000): void {
    if (intervalMs <= 0) return;
    const tick = () => {
      this.collect().catch(() => undefined);
    };
    setTimeout(tick, Math.min(firstDelayMs, intervalMs)).unref();
    this.#timer = setInterval(tick, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  async #run(): Promise<CollectionReport> {
    try {
      const report = await collectGarbage(this.options);
      this.totals.runs++;
      this.totals.secondsTotal += report.durationMs / 1000;
      this.totals.bytesFreed += report.deleted.bytes;
      this.totals.objectsFreed += report.deleted.objects;
      this.totals.stored = report.kept;
      this.totals.last = report;
      this.log.info("storage collected", {
        ms: report.durationMs,
        deletedObjects: report.deleted.objects,
        deletedBytes: report.deleted.bytes,
        keptObjects: report.kept.objects,
        keptBytes: report.kept.bytes,
        unusedImages: report.images.unused,
      });
      return report;
    } catch (error) {
      this.totals.failures++;
      this.log.error("storage collection failed", {
        error: error instanceof Error ? error.message : String(error),
      });
      throw error;
    }
  }
}
