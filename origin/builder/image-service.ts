// Turns (image, tag) into the image's manifests, and owns every piece of build state and every
// counter: the job table (running builds joined by every request for the same image and tag,
// finished ones kept for pollers, failures answered from memory for a while), the revision memo,
// the build-slot limiter and the memo of which manifests storage holds. Routes only parse, call
// and serialise.
//
// The way down, top to bottom: start() answers from a running job or the cache, or starts a tag
// job (tag-job.ts), which resolves the revision the tag names, asks image-producer.ts for the
// answer and records the outcome; the producer gets each platform's image from the platform builds
// (platform-builds.ts: built once however many jobs need it, so the index of `hello` and a pull of
// `arm64/hello` share the arm64 build) and returns what it built, which comes back up as the
// job's result: one platform's manifests, or an index over several (platform-plan.ts says which
// platforms). Builds report what they do as events (build-events.ts) to the job's tracker.

import type { Digest } from "../../shared/digest.ts";
import type { Architecture, ImageRequest } from "../../shared/image-name.ts";
import type { TagManifests } from "../../shared/origin-protocol.ts";
import type { BuildRecords } from "../cache/build-records.ts";
import type { ManifestCache } from "../cache/manifest-cache.ts";
import type { Logger } from "../log.ts";
import type { NixRunner } from "../nix/runner.ts";
import {
  describeSource,
  listSourceTags,
  resolveSource,
  type ResolvedSource,
  type SourceConfig,
} from "../nix/source.ts";
import type { BlobReader } from "../storage/storage.ts";
import { BuildQueueFull, isTransient, OriginStopping } from "./errors.ts";
import type { BuildJob, ImageCounters, Images } from "./images.ts";
import { JobTable } from "./job-table.ts";
import { Limiter } from "./limiter.ts";
import type { PipelineDeps } from "./pipeline.ts";
import { PlatformBuilds } from "./platform-builds.ts";
import { PlatformPlan } from "./platform-plan.ts";
import { RevisionMemo } from "./revision-memo.ts";
import { StoredManifests } from "./stored-manifests.ts";
import type { PublishedImages } from "../cache/published-images.ts";
import type { PullCounts } from "../cache/pull-counts.ts";
import type { Restored } from "./restore.ts";
import { ObjectUpkeep } from "./object-upkeep.ts";
import { ImageProducer } from "./image-producer.ts";
import { runTagJob, type TagJobDeps } from "./tag-job.ts";

export interface ImageServiceDeps {
  source: SourceConfig;
  runner: NixRunner;
  manifests: ManifestCache;
  builds: BuildRecords;
  storage: BlobReader;
  pipeline: PipelineDeps;
  tagTtlSeconds: number;
  maxConcurrentBuilds: number;
  /** Builds that may wait for a slot; past this, new images get BuildQueueFull. */
  maxQueuedBuilds: number;
  /** How long a failed build's error is repeated without building again (0: never). */
  failureTtlSeconds: number;
  log: Logger;
  now?: () => number;
  /** Aborted when the origin shuts down: running Nix processes are stopped with SIGTERM. */
  signal?: AbortSignal;
  /** Published images: what restores a collected object, and where uses are recorded. */
  published: PublishedImages;
  /** A use of an image is written at most this often (a fraction of the collector's window). */
  touchEveryMs?: number;
  /** Platforms a name without `arm64/` is built for, in index order (default: amd64 only). */
  platforms?: readonly Architecture[];
  /** The platform whose manifest clients that take no index get (default: the first listed). */
  hostArch?: Architecture;
  /** Where pulls are counted (the start page's most pulled images); none in unit tests. */
  pulls?: PullCounts;
}

/** By default a use of an image is written to the database at most every 10 minutes. */
const defaultTouchEveryMs = 10 * 60 * 1000;
/** How long a finished job's status stays available to pollers. */
const keepFinishedMs = 10 * 60 * 1000;
/** How long the revision a tag names is remembered. */
const revisionMemoMs = 60_000;

export class ImageService implements Images {
  private readonly jobs: JobTable<TagManifests>;
  private readonly revisions: RevisionMemo;
  private readonly limiter: Limiter;
  private readonly now: () => number;
  private readonly stored: StoredManifests;
  private readonly upkeep: ObjectUpkeep;
  private readonly tagJobDeps: TagJobDeps;
  private readonly plan: PlatformPlan;
  readonly sourceId: string;
  /** Since start: tag answers by where they came from, and layers packed and reused. */
  readonly #counts = {
    manifestHits: 0,
    manifestMisses: 0,
    jobsJoined: 0,
    failuresRepeated: 0,
    layersPacked: 0,
    layersReused: 0,
  };

  constructor(private readonly deps: ImageServiceDeps) {
    this.limiter = new Limiter(deps.maxConcurrentBuilds);
    this.now = deps.now ?? Date.now;
    this.sourceId = describeSource(deps.source);
    this.plan = new PlatformPlan(deps.platforms, deps.hostArch);
    this.jobs = new JobTable({
      keepFinishedMs,
      failureTtlMs: deps.failureTtlSeconds * 1000,
      remember: (error) => !(isTransient(error) || deps.signal?.aborted),
      now: this.now,
    });
    this.upkeep = new ObjectUpkeep({
      restore: {
        source: deps.source,
        published: deps.published,
        pipeline: deps.pipeline,
        runner: deps.runner,
        log: deps.log,
      },
      published: deps.published,
      failureTtlMs: deps.failureTtlSeconds * 1000,
      touchEveryMs: deps.touchEveryMs ?? defaultTouchEveryMs,
      signal: deps.signal,
      now: this.now,
    });
    this.stored = new StoredManifests({
      storage: deps.storage,
      manifests: deps.manifests,
      restorer: this.upkeep,
      now: this.now,
    });
    this.revisions = new RevisionMemo(
      (tag) => resolveSource(deps.source, tag, deps.runner, { signal: deps.signal }),
      revisionMemoMs,
      this.now,
    );
    this.tagJobDeps = {
      revisions: this.revisions,
      producer: new ImageProducer({
        sourceId: this.sourceId,
        manifests: deps.manifests,
        builds: new PlatformBuilds({
          sourceId: this.sourceId,
          manifests: deps.manifests,
          pipeline: deps.pipeline,
          stored: this.stored,
          limiter: this.limiter,
          tagTtlSeconds: deps.tagTtlSeconds,
          signal: deps.signal,
          now: this.now,
        }),
        pipeline: deps.pipeline,
        stored: this.stored,
        hostArch: this.plan.hostArch,
        tagTtlSeconds: deps.tagTtlSeconds,
        now: this.now,
      }),
      manifests: deps.manifests,
      builds: deps.builds,
      log: deps.log,
      signal: deps.signal,
      now: this.now,
    };
  }

  /** Since start: tag answers by where they came from, layers packed and reused, restores. */
  get counters(): ImageCounters {
    return { ...this.#counts, objectsRestored: this.upkeep.restoredCount };
  }

  /** The build job id for an image and tag (stable: the tag's cache key). */
  jobId(image: ImageRequest, tag: string): string {
    return this.plan.jobId(this.sourceId, image, tag);
  }

  /** Platforms a name without `arm64/` is built for, e.g. ["linux/amd64", "linux/arm64"]. */
  get platformNames(): string[] {
    return this.plan.names;
  }

  /** The platform whose image clients that take no index get. */
  get hostPlatformName(): string {
    return this.plan.hostName;
  }

  /**
   * The job that answers (image, tag): a running build to join, a remembered failure, a cache hit
   * (already done), or a new build. Throws BuildQueueFull (and nothing else) when it cannot start.
   */
  async start(image: ImageRequest, tag: string): Promise<BuildJob> {
    const id = this.jobId(image, tag);
    const joined = this.join(id);
    if (joined) return joined;
    const hit = await this.stored.validAnswer(id, image, tag);
    if (hit) {
      this.#counts.manifestHits++;
      // Using an index uses the images it lists (published-images.ts).
      this.touch([(hit.index ?? hit).manifests.docker.digest]);
      return this.jobs.finished(id, hit);
    }
    // Another request may have started the build while the cache was consulted; from here to
    // jobs.start() there is no await, so exactly one of them starts it.
    const late = this.join(id);
    if (late) return late;
    if (this.deps.signal?.aborted) throw new OriginStopping();
    // Only a build that would wait counts against the queue: with NIXERY_MAX_QUEUED_BUILDS=0,
    // builds still run while a slot is free.
    if (this.limiter.full && this.limiter.queued >= this.deps.maxQueuedBuilds) {
      throw new BuildQueueFull(this.limiter.queued);
    }
    this.#counts.manifestMisses++;
    const job = { image, platforms: this.plan.platformsOf(image), tag, key: id };
    return this.jobs.start(id, async (events) => {
      const done = await runTagJob(this.tagJobDeps, { ...job, events });
      this.#counts.layersPacked += done.layersPacked;
      this.#counts.layersReused += done.layersReused;
      return done.answer;
    });
  }

  /**
   * The job that answers (image, tag) from what exists (a running or remembered build, or the
   * cache), or null: never starts a build.
   */
  async existing(image: ImageRequest, tag: string): Promise<BuildJob | null> {
    const id = this.jobId(image, tag);
    const joined = this.join(id);
    if (joined) return joined;
    const hit = await this.stored.validAnswer(id, image, tag);
    if (!hit) return this.join(id) ?? null;
    this.#counts.manifestHits++;
    this.touch([hit.manifests.docker.digest]);
    return this.jobs.finished(id, hit);
  }

  /** Cached answer, or the outcome of the (shared) job. Throws the domain errors of the build. */
  async resolve(image: ImageRequest, tag: string): Promise<TagManifests> {
    return (await this.start(image, tag)).result();
  }

  /** A running job or a recently finished one, by id (for pollers). */
  findJob(id: string): BuildJob | undefined {
    return this.jobs.find(id);
  }

  /** Makes a collected manifest or blob again (see object-upkeep.ts). */
  restore(digest: Digest): Promise<Restored> {
    return this.upkeep.restore(digest);
  }

  /** Records that the images holding these manifests were requested now. */
  touch(digests: readonly Digest[]): void {
    this.upkeep.touch(digests);
  }

  /** Counts a pull of the images holding these manifests (a tag answered, or an edge's report). */
  countPulls(digests: readonly Digest[]): void {
    this.deps.pulls?.count(digests);
  }

  /** Writes the pulls counted so far, before they are read. */
  flushPulls(): void {
    this.deps.pulls?.flush();
  }

  /** The tags the package source offers (the same for every image). */
  listTags(): Promise<string[]> {
    return listSourceTags(this.deps.source, this.deps.runner);
  }

  /** The source revision a tag names now (remembered for a minute, shared with builds). */
  resolveTag(tag: string): Promise<ResolvedSource> {
    return this.revisions.get(tag);
  }

  /** The revision `latest` names now (remembered for a minute), for the start page. */
  async currentRevision(): Promise<string | null> {
    return (await this.revisions.get("latest")).revision;
  }

  /** Settles when every running build has finished (or failed). */
  async drain(): Promise<void> {
    await this.jobs.settled();
  }

  get stats(): { running: number; queued: number } {
    return { running: this.limiter.running, queued: this.limiter.queued };
  }

  private join(id: string): BuildJob | undefined {
    const job = this.jobs.joinable(id);
    if (!job) return undefined;
    if (job.status.state === "running") this.#counts.jobsJoined++;
    else this.#counts.failuresRepeated++;
    return job;
  }
}
