// Manifest-cache entries for a tag's answer, and the answer clients get from one: how long it may
// be cached (a pinned revision for a year, a moving tag for what is left of its time-to-live),
// and which build outcome an error is recorded as.

import type { ImageRequest } from "../../shared/image-name.ts";
import type { TagIndex, TagManifests } from "../../shared/origin-protocol.ts";
import type { BuildOutcome } from "../cache/build-records.ts";
import type { ManifestEntry } from "../cache/manifest-cache.ts";
import { PackagesNotFound } from "../nix/lookup-errors.ts";
import { NixBuildTimedOut, TagNotFound } from "../nix/errors.ts";
import type { ResolvedSource } from "../nix/source.ts";

/** A pinned answer never changes; caches may keep it for a year. */
const pinnedMaxAgeSeconds = 31536000;

export function entryFor(
  image: ImageRequest,
  tag: string,
  source: ResolvedSource,
  manifests: TagManifests["manifests"],
  index: TagIndex | null,
  now: number,
  tagTtlSeconds: number,
): ManifestEntry {
  return {
    image: image.name,
    tag,
    revision: source.revision,
    pinned: source.pinned,
    manifests,
    index,
    createdAt: now,
    expiresAt: source.pinned ? null : now + tagTtlSeconds * 1000,
  };
}

export function toTagManifests(
  image: ImageRequest,
  tag: string,
  entry: ManifestEntry,
  now: number,
): TagManifests {
  const maxAgeSeconds = entry.pinned
    ? pinnedMaxAgeSeconds
    : Math.max(0, Math.floor(((entry.expiresAt ?? 0) - now) / 1000));
  return {
    name: image.name,
    tag,
    revision: entry.revision,
    pinned: entry.pinned,
    maxAgeSeconds,
    manifests: entry.manifests,
    ...(entry.index ? { index: entry.index } : {}),
  };
}

export function outcomeOf(error: unknown): BuildOutcome {
  if (error instanceof PackagesNotFound || error instanceof TagNotFound) return "not_found";
  if (error instanceof NixBuildTimedOut) return "timeout";
  return "failed";
}
