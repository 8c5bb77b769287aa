// Pulls the edge answers from its own caches never reach the origin, yet the origin's storage
// collector must count them as uses of the image, or it would collect an image that is pulled
// every day. So the edge reports each manifest it serves to the origin (POST /_origin/usage), at
// most once a day per manifest: a usage mark (KV `used/<digest>` = the day, UTC; kv-store.ts)
// records that the report for that day was accepted. A report that fails (origin down) writes no
// mark and is tried again by the next pull; a day is a thirtieth of the collector's default
// window, so no image in use can age out. Runs under waitUntil, never on a response's path.

import type { OriginReader, UsageMarkStore } from "./edge-deps.ts";
import { logEvent } from "./log.ts";

const rememberedLimit = 10_000;

export function dayOf(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

export async function reportUse(
  marks: UsageMarkStore,
  origin: Pick<OriginReader, "reportUsage">,
  digest: string,
  now: number,
): Promise<"reported" | "already" | "failed"> {
  const day = dayOf(now);
  if (await marks.isMarked(digest, day)) return "already";
  try {
    await origin.reportUsage([digest]);
  } catch (error) {
    logEvent("usage report failed", {
      digest,
      reason: error instanceof Error ? error.message : String(error),
    });
    return "failed";
  }
  await marks.mark(digest, day);
  return "reported";
}

/**
 * The marks this isolate already read or wrote, in front of `store`: a manifest pulled often
 * costs one KV read a day per isolate. `remembered` holds plain values only (digest → day), so
 * worker/index.ts may keep one for the isolate's life.
 */
export function rememberingMarks(
  store: UsageMarkStore,
  remembered: Map<string, string>,
): UsageMarkStore {
  const remember = (digest: string, day: string) => {
    if (remembered.size >= rememberedLimit) remembered.clear();
    remembered.set(digest, day);
  };
  return {
    async isMarked(digest, day) {
      if (remembered.get(digest) === day) return true;
      const marked = await store.isMarked(digest, day);
      if (marked) remember(digest, day);
      return marked;
    },
    async mark(digest, day) {
      await store.mark(digest, day);
      remember(digest, day);
    },
  };
}
