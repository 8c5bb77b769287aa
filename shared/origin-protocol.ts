// The Worker ↔ origin exchange. A cold build can take minutes, longer than the 100 s a proxied
// request may stay silent, so the Worker starts a build and long-polls its status in short
// requests; each answer comes well inside that limit.

import type { Digest } from "./digest.ts";
import type { ManifestFlavour } from "./media-types.ts";
import type { ErrorBody } from "./errors.ts";

export const originPaths = {
  usage: "/_origin/usage",
  builds: "/_origin/builds",
  build: (id: string) => `/_origin/builds/${encodeURIComponent(id)}`,
} as const;

/** Header carrying the shared secret (`Authorization: Bearer <secret>`). */
export const originAuthHeader = "Authorization";

/** Longest a single status request waits for a build before answering "pending". */
export const maxWaitSeconds = 50;

export interface BuildRequest {
  name: string;
  tag: string;
  /** How long the origin may hold this request waiting for the build (≤ maxWaitSeconds). */
  waitSeconds?: number;
  /**
   * Answer only from what exists (a cached image, or a build already running or remembered):
   * never start a build. The edge asks this way for a client past its cold-build limit, so that
   * pulls of images already built are never limited. Nothing to answer with is `unbuilt`.
   */
  onlyIfBuilt?: boolean;
}

export interface TagManifests {
  name: string;
  tag: string;
  /** The immutable source revision the tag resolved to, when the source has one. */
  revision: string | null;
  /** True when the tag names an immutable revision; its answer never changes. */
  pinned: boolean;
  /** How long the tag → manifest answer may be cached (seconds). */
  maxAgeSeconds: number;
  manifests: Record<ManifestFlavour, { digest: Digest; size: number }>;
}

export type BuildStatus =
  | { id: string; state: "pending" }
  | { id: string; state: "done"; result: TagManifests }
  | {
      id: string;
      state: "failed";
      status: number;
      error: ErrorBody["errors"][number];
      /** For a full build queue (429): when to ask again. */
      retryAfterSeconds?: number;
    };

/**
 * The edge's report of manifests it served from its own caches, so the origin's storage collector
 * counts those images as used. Sent at most once a day per manifest (see worker/usage-marks.ts).
 */
/** The answer to an `onlyIfBuilt` request: a build status, or `unbuilt` (none exists or runs). */
export type ExistingBuildStatus = BuildStatus | { id: string; state: "unbuilt" };

export interface UsageReport {
  digests: string[];
}

export const maxUsageDigests = 1000;
