// The storage key layout, drawn once: the only code that builds object keys. The origin writes
// with these keys (filesystem or R2 over S3) and the Worker reads R2 and KV with the same ones.

import { digestHex, type Digest } from "./digest.ts";

/** Layers and image configs. */
export function blobKey(digest: Digest): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

/** Manifests by digest (also served under /blobs/). */
export function manifestKey(digest: Digest): string {
  return `manifests/sha256/${digestHex(digest)}`;
}

/** Where a backend may stage an object before it becomes visible at its final key. */
export const stagingPrefix = "_staging/";

/** KV key of a tag resolution (canonical image name, see canonicalImageName). */
export function tagKey(canonicalName: string, tag: string): string {
  return `tags/${canonicalName}:${tag}`;
}

/** KV key of the edge's mark that today's use of a manifest was reported to the origin. */
export function usageMarkKey(digest: string): string {
  return `used/${digest}`;
}
