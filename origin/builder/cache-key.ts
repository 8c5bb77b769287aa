// Cache keys for manifests. Unlike Nixery's, every key carries the source, the architecture and
// the package list, serialised as a JSON array so that no two different inputs share a key.

import { createHash } from "node:crypto";
import type { ImageRequest } from "../../shared/image-name.ts";

const keyVersion = "v1";

function hashParts(parts: readonly string[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex");
}

/** Key of a tag's answer: valid for the tag's time-to-live (forever when pinned). */
export function tagCacheKey(sourceId: string, tag: string, image: ImageRequest): string {
  return hashParts([keyVersion, "tag", sourceId, tag, image.arch, ...image.packages]);
}

/** Key of an immutable revision's image: valid forever. */
export function revisionCacheKey(sourceId: string, revision: string, image: ImageRequest): string {
  return hashParts([keyVersion, "rev", sourceId, revision, image.arch, ...image.packages]);
}
