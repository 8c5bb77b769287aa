// Cache keys for manifests. Unlike Nixery's, every key carries the source, the architecture and
// the package list, serialised as a JSON array so that no two different inputs share a key. A
// nonroot image adds a `+nonroot` marker (no package name has a `+`); a root image's keys are
// the same as before the marker existed.

import { createHash } from "node:crypto";
import { imageVariant, type Architecture, type ImageRequest } from "../../shared/image-name.ts";

const keyVersion = "v1";

function hashParts(parts: readonly string[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex");
}

/** Key of a tag's answer: valid for the tag's time-to-live (forever when pinned). */
export function tagCacheKey(sourceId: string, tag: string, image: ImageRequest): string {
  return hashParts([keyVersion, "tag", sourceId, tag, imageVariant(image), ...image.packages]);
}

/** Key of an immutable revision's image: valid forever. */
export function revisionCacheKey(sourceId: string, revision: string, image: ImageRequest): string {
  return hashParts([keyVersion, "rev", sourceId, revision, imageVariant(image), ...image.packages]);
}

/** Key of a tag's index over several platforms (in index order). */
export function indexTagCacheKey(
  sourceId: string,
  tag: string,
  platforms: readonly Architecture[],
  image: ImageRequest,
): string {
  return hashParts([
    keyVersion,
    "tag-index",
    sourceId,
    tag,
    platforms.join(","),
    ...(image.nonroot ? ["+nonroot"] : []),
    ...image.packages,
  ]);
}

/** Key of an immutable revision's index over several platforms. */
export function indexRevisionCacheKey(
  sourceId: string,
  revision: string,
  platforms: readonly Architecture[],
  image: ImageRequest,
): string {
  return hashParts([
    keyVersion,
    "rev-index",
    sourceId,
    revision,
    platforms.join(","),
    ...(image.nonroot ? ["+nonroot"] : []),
    ...image.packages,
  ]);
}
