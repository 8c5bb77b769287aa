// What the origin's HTTP side asks of the builder, sized by capability: the registry API answers
// tags and objects, the build endpoints start and poll jobs, the pages show how the builder is
// doing. ImageService implements all of them; a test app gets a stand-in that does the same.

import type { Digest } from "../../shared/digest.ts";
import type { ImageRequest } from "../../shared/image-name.ts";
import type { TagManifests } from "../../shared/origin-protocol.ts";
import type { Job } from "./job-table.ts";
import type { Restored } from "./restore.ts";

export type BuildJob = Job<TagManifests>;

/** What the registry API needs: a tag's answer, collected objects made again, uses recorded. */
export interface ImageAnswers {
  /** Cached answer, or the outcome of the (shared) job. Throws the domain errors of the build. */
  resolve(image: ImageRequest, tag: string): Promise<TagManifests>;
  /** The job that answers from what exists (running, remembered or cached), or null. */
  existing(image: ImageRequest, tag: string): Promise<BuildJob | null>;
  /** The job that answers (image, tag), a new build when needed (what resolve waits for). */
  start(image: ImageRequest, tag: string): Promise<BuildJob>;
  /** Makes a collected manifest or blob again; null for a digest never published. */
  restore(digest: Digest): Promise<Restored>;
  /** Records that the images holding these manifests were requested now. */
  touch(digests: readonly Digest[]): void;
  /** The tags the package source offers (the same for every image). */
  listTags(): Promise<string[]>;
}

/** What the build endpoints need: jobs by a stable id, started or joined, and found to poll. */
export interface BuildJobs {
  jobId(image: ImageRequest, tag: string): string;
  /** Throws BuildQueueFull or OriginStopping when no build can start now. */
  start(image: ImageRequest, tag: string): Promise<BuildJob>;
  existing(image: ImageRequest, tag: string): Promise<BuildJob | null>;
  findJob(id: string): BuildJob | undefined;
}

export interface ImageCounters {
  manifestHits: number;
  manifestMisses: number;
  jobsJoined: number;
  failuresRepeated: number;
  layersPacked: number;
  layersReused: number;
  objectsRestored: number;
}

/** What the start page, /healthz and /metrics show. */
export interface BuilderStatus {
  readonly sourceId: string;
  readonly stats: { running: number; queued: number };
  /** Since start: tag answers by where they came from, layers packed and reused, restores. */
  readonly counters: ImageCounters;
  /** Platforms a name without `arm64/` is built for, e.g. ["linux/amd64", "linux/arm64"]. */
  readonly platformNames: string[];
  /** The platform whose image clients that take no index get. */
  readonly hostPlatformName: string;
  /** The revision `latest` names now, for the start page. */
  currentRevision(): Promise<string | null>;
}

export type Images = ImageAnswers & BuildJobs & BuilderStatus;
