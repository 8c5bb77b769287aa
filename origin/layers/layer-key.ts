// The identity of a layer: a hash of the store paths it holds. The content id names a group of
// paths wherever it appears (layer order and learned popularity use it); the layer key adds the
// packer's format version, so the same paths packed by a changed packer get a new cache key
// instead of a stale cache hit.

import { createHash } from "node:crypto";

const versionPattern = /^[A-Za-z0-9._-]+$/;

/**
 * The sha256 hex of the sorted paths joined with "\n". Input order does not matter; duplicate
 * paths, paths containing a newline and an empty layer are refused as caller bugs.
 */
export function layerContentId(paths: readonly string[]): string {
  if (paths.length === 0) throw new RangeError("a layer key needs at least one store path");
  const sorted = [...paths].sort();
  for (const [i, path] of sorted.entries()) {
    if (path.length === 0 || path.includes("\n")) {
      throw new RangeError(`store path ${JSON.stringify(path)} cannot be part of a layer key`);
    }
    if (i > 0 && sorted[i - 1] === path) throw new RangeError(`store path ${path} is listed twice`);
  }
  return createHash("sha256").update(sorted.join("\n")).digest("hex");
}

/** `<formatVersion>:<layerContentId(paths)>`: the layer cache's key. */
export function layerKey(paths: readonly string[], formatVersion: string): string {
  if (!versionPattern.test(formatVersion)) {
    throw new RangeError(
      `layer format version must match ${versionPattern}, got ${JSON.stringify(formatVersion)}`,
    );
  }
  return `${formatVersion}:${layerContentId(paths)}`;
}
