// The edge's record of a tag resolution (stored in KV under tagKey): which manifest each flavour
// maps to (and, for a name built for several platforms, its index and every platform's manifests)
// and until when the answer is fresh. Stale records are kept to serve while the origin is down.

import { isDigest } from "./digest.ts";
import type { ManifestFlavour } from "./media-types.ts";
import type { TagIndex, TagManifests } from "./origin-protocol.ts";

export interface TagRecord extends TagManifests {
  /** Epoch milliseconds when the origin answered. */
  resolvedAt: number;
  /** Epoch milliseconds after which the origin must be asked again (unless it is unreachable). */
  expiresAt: number;
}

export function tagRecordFrom(result: TagManifests, now: number): TagRecord {
  return { ...result, resolvedAt: now, expiresAt: now + result.maxAgeSeconds * 1000 };
}

export function isFresh(record: TagRecord, now: number): boolean {
  return now < record.expiresAt;
}

/** Seconds a cache may still keep this answer (0 when stale). */
export function remainingSeconds(record: TagRecord, now: number): number {
  return Math.max(0, Math.floor((record.expiresAt - now) / 1000));
}

/** Parses a stored record; anything malformed reads as absent (a KV miss is never proof of absence anyway). */
export function parseTagRecord(text: string | null): TagRecord | null {
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!value || typeof value !== "object") return null;
  const record = value as Partial<TagRecord>;
  if (typeof record.expiresAt !== "number" || typeof record.resolvedAt !== "number") return null;
  if (typeof record.name !== "string" || typeof record.tag !== "string") return null;
  if (!isManifestPair(record.manifests)) return null;
  if (record.index !== undefined) {
    const index = record.index as Partial<TagIndex> | null;
    if (!index || !isManifestPair(index.manifests) || !Array.isArray(index.platforms)) return null;
    for (const platform of index.platforms as unknown[]) {
      const entry = platform as Partial<TagIndex["platforms"][number]> | null;
      if (!entry || typeof entry.platform !== "string" || !isManifestPair(entry.manifests)) {
        return null;
      }
    }
  }
  return record as TagRecord;
}

/** A `{docker, oci}` pair of manifest references. */
function isManifestPair(value: unknown): boolean {
  const manifests = value as Partial<TagRecord["manifests"]> | undefined;
  const flavours: ManifestFlavour[] = ["docker", "oci"];
  return flavours.every((flavour) => {
    const entry = manifests?.[flavour];
    return (
      !!entry &&
      typeof entry.digest === "string" &&
      isDigest(entry.digest) &&
      typeof entry.size === "number"
    );
  });
}
