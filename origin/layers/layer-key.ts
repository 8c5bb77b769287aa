// The identity of a layer: a hash of the store paths it holds, tagged with the packer's format
// version, so the same paths packed by a changed packer get a new key instead of a stale cache hit.

import { createHash } from "node:crypto";

const versionPattern = /^[A-Za-z0-9._-]+$/;

/**
 * `<formatVersion>:<sha256 hex of the sorted paths joined with "\n">`. Input order does not matter;
 * duplicate paths, paths containing a newline and an empty layer are refused as caller bugs.
 */
export function layerKey(paths: readonly string[], formatVersion: string): string {
  if (!versionPattern.test(formatVersion)) {
    throw new RangeError(
      `layer format version must match ${versionPattern}, got ${JSON.stringify(formatVersion)}`,
    );
  }
  if (paths.length === 0) throw new RangeError("a layer key needs at least one store path");
  const sorted = [...paths].sort();
  for (const [i, path] of sorted.entries()) {
    if (path.length === 0 || path.includes("\n")) {
      throw new RangeError(`store path ${JSON.stringify(path)} cannot be part of a layer key`);
    }
    if (i > 0 && sorted[i - 1] === path) throw new RangeError(`store path ${path} is listed twice`);
  }
  const hex = createHash("sha256").update(sorted.join("\n")).digest("hex");
  return `${formatVersion}:${hex}`;
}
