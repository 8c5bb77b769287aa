// The Worker ↔ origin exchange. A cold build can take minutes, longer than the 100 s a proxied
// request may stay silent, so the Worker starts a build and long-polls its status in short
// requests; each answer comes well inside that limit.

import type { Digest } from "./digest.ts";
import type { ManifestFlavour, ManifestWanted } from "./media-types.ts";
import type { ErrorBody } from "./errors.ts";
import { pathTemplate } from "./path-template.ts";

/** Every origin endpoint is under this prefix, guarded by the shared secret. */
export const originPrefix = "/_origin";

/** The origin's endpoints for the edge and `npm run gc`: routed by the origin, built by clients. */
export const originPaths = {
  builds: pathTemplate(`${originPrefix}/builds`),
  build: pathTemplate(`${originPrefix}/builds/:id`),
  usage: pathTemplate(`${originPrefix}/usage`),
  gc: pathTemplate(`${originPrefix}/gc`),
} as const;

/** Longest a single status request waits for a build before answering "pending". */
export const maxWaitSeconds = 50;

/**
 * The body of `POST /_origin/builds`. A body that names no valid image or tag is refused like any
 * bad request (400, BAD_REQUEST, NAME_INVALID or TAG_INVALID); a build asked for properly is
 * answered with its BuildStatus, a failed build included.
 */
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

/** A manifest by digest and size (what a tag record or an index entry needs of it). */
export interface ManifestRef {
  digest: Digest;
  size: number;
}

/**
 * A name built for several platforms: its index in each flavour (a Docker manifest list, an OCI
 * index) and, per platform, the manifests the index lists. Every one of them is stored before
 * the origin answers with it.
 */
export interface TagIndex {
  manifests: Record<ManifestFlavour, ManifestRef>;
  /** In the index's order; `platform` as in NIXERY_PLATFORMS, e.g. "linux/arm64". */
  platforms: { platform: string; manifests: Record<ManifestFlavour, ManifestRef> }[];
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
  /** The single manifest of each flavour: with an index, the host platform's image. */
  manifests: Record<ManifestFlavour, ManifestRef>;
  /** Present when the name was built for several platforms; clients that accept an index get it. */
  index?: TagIndex;
}

/** The manifest a tag answers a client with: the index when there is one and it is accepted. */
export function selectManifest(result: TagManifests, wanted: ManifestWanted): ManifestRef {
  if (result.index && wanted.index) return result.index.manifests[wanted.index];
  return result.manifests[wanted.flavour];
}

/** Every manifest a tag answer names: both flavours, and with an index the index and each child. */
export function tagManifestDigests(result: TagManifests): Digest[] {
  const digests: Digest[] = [result.manifests.docker.digest, result.manifests.oci.digest];
  if (result.index) {
    digests.push(result.index.manifests.docker.digest, result.index.manifests.oci.digest);
    for (const platform of result.index.platforms) {
      digests.push(platform.manifests.docker.digest, platform.manifests.oci.digest);
    }
  }
  return [...new Set(digests)];
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
