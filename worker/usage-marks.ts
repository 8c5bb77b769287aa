// Pulls the edge answers from its own caches never reach the origin, yet the origin's storage
// collector must count them as uses of the image, or it would collect an image that is pulled
// every day. So the edge reports each manifest it serves to the origin (POST /_origin/usage), at
// most once a day per manifest: a KV mark `used/<digest>` = the day (UTC) records that the report
// for that day was accepted. A report that fails (origin down) writes no mark and is tried again
// by the next pull; a day is a thirtieth of the collector's default window, so no image in use can
// age out. Runs under waitUntil, never on a response's path.

import { usageMarkKey } from "../shared/storage-keys.ts";
import { logEvent } from "./log.ts";
import type { OriginClient } from "./origin-client.ts";

/** Manifests this isolate already saw marked today: plain values only (no I/O crosses requests). */
const markedToday = new Map<string, string>();
const markedLimit = 10_000;

export function dayOf(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

export async function reportUse(
  kv: KVNamespace,
  origin: OriginClient,
  digest: string,
  now = Date.now(),
): Promise<"reported" | "already" | "failed"> {
  const day = dayOf(now);
  if (markedToday.get(digest) === day) return "already";
  const key = usageMarkKey(digest);
  if ((await kv.get(key)) === day) {
    remember(digest, day);
    return "already";
  }
  try {
    await origin.reportUsage([digest]);
  } catch (error) {
    logEvent("usage report failed", {
      digest,
      reason: error instanceof Error ? error.message : String(error),
    });
    return "failed";
  }
  // Kept two days, so yesterday's mark never suppresses today's report.
  await kv.put(key, day, { expirationTtl: 2 * 24 * 3600 });
  remember(digest, day);
  return "reported";
}

function remember(digest: string, day: string): void {
  if (markedToday.size >= markedLimit) markedToday.clear();
  markedToday.set(digest, day);
}
