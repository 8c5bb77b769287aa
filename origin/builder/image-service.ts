// Turns (image, tag) into the image's manifests, and owns every piece of build state: the job
// table (running builds joined by every request for the same image and tag, finished ones kept
// for pollers, failures answered from memory for a while), the revision memo, the build-slot
// limiter and the memo of which manifests storage holds. Routes only parse, call and serialise.

import type { Digest } from "../../shared/digest.ts";
import type { ImageRequest } from "../../shared/image-name.ts";
import { manifestKey } from "../../shared/storage-keys.ts";
import type { TagManifests } from "../../shared/origin-protocol.ts";
import type { BuildOutcome, BuildRecords } from "../cache/build-records.ts";
import type { ManifestCache, ManifestEntry } from "../cache/manifest-cache.ts";
import type { Logger } from "../log.ts";
import { NixBuildTimedOut, nixOutputOf, PackagesNotFound, TagNotFound } from "../nix/errors.ts";
import type { NixRunner } from "../nix/runner.ts";
import {
  describeSource,
  listSourceTags,
  resolveSource,
  type ResolvedSource,
  type SourceConfig,
} from "../nix/source.ts";
import type { BlobReader } from "../storage/storage.ts";
import { revisionCacheKey, tagCacheKey } from "./cache-key.ts";
import { BuildQueueFull, OriginStopping } from "./errors.ts";
import { JobTable, type Job } from "./job-table.ts";
import { Limiter } from "./limiter.ts";
import { buildImage, type BuiltImage, type PipelineDeps } from "./pipeline.ts";
import { RevisionMemo } from "./revision-memo.ts";
import type { PublishedImages } from "../cache/published-images.ts";
import { restoreObject, type Restored } from "../gc/restore.ts";

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
  published?: PublishedImages;
  storageWriter?: PipelineDeps["storage"];
  /** A use of an image is written at most this often (a fraction of the collector's window). */
  touchEveryMs?: number;
}

export type BuildJob = Job<TagManifests>;

const storedMemoMs = 60_000;
/** By default a use of an image is written to the database at most every 10 minutes. */
const defaultTouchEveryMs = 10 * 60 * 1000;
const storedMemoLimit = 10_000;
/** How long a finished job's status stays available to pollers. */
const keepFinishedMs = 10 * 60 * 1000;
/** How long the revision a tag names is remembered. */
const revisionMemoMs = 60_000;
/** A pinned answer never changes; caches may keep it for a year. */
const pinnedMaxAgeSeconds = 31536000;

export class ImageService {
  private readonly jobs: JobTable<TagManifests>;
  private readonly revisions: RevisionMemo;
  private readonly limiter: Limiter;
  private readonly now: () => number;
  private readonly storedSeen = new Map<Digest, number>();
  private readonly restores: JobTable<Restored>;
  private readonly touched = new Map<Digest, number>();
  readonly sourceId: string;
  /** Since start: tag answers by where they came from, layers packed and reused. */
  readonly counters = {
    manifestHits: 0,
    manifestMisses: 0,
    jobsJoined: 0,
    failuresRepeated: 0,
    layersPacked: 0,
    layersReused: 0,
    objectsRestored: 0,
  };

  constructor(private readonly deps: ImageServiceDeps) {
    this.limiter = new Limiter(deps.maxConcurrentBuilds);
    this.now = deps.now ?? Date.now;
    this.sourceId = describeSource(deps.source);
    this.jobs = new JobTable({
      keepFinishedMs,
      failureTtlMs: deps.failureTtlSeconds * 1000,
      remember: (error) => !(error instanceof OriginStopping || deps.signal?.aborted),
      now: this.now,
    });
    this.restores = new JobTable({
      keepFinishedMs: 0,
      failureTtlMs: deps.failureTtlSeconds * 1000,
      remember: (error) => !(error instanceof OriginStopping || deps.signal?.aborted),
      now: this.now,
    });
    this.revisions = new RevisionMemo(
      (tag) => resolveSource(deps.source, tag, deps.runner, { signal: deps.signal }),
      revisionMemoMs,
      this.now,
    );
  }

  /** The build job id for an image and tag (stable: the tag's cache key). */
  jobId(image: ImageRequest, tag: string): string {
    return tagCacheKey(this.sourceId, tag, image);
  }

  /**
   * The job that answers (image, tag): a running build to join, a remembered failure, a cache hit
   * (already done), or a new build. Throws BuildQueueFull (and nothing else) when it cannot start.
   */
  async start(image: ImageRequest, tag: string): Promise<BuildJob> {
    const id = this.jobId(image, tag);
    const joined = this.join(id);
    if (joined) return joined;
    const hit = await this.cached(image, tag);
    if (hit) {
      this.counters.manifestHits++;
      this.touch([hit.manifests.docker.digest]);
      return this.jobs.finished(id, hit);
    }
    // Another request may have started the build while the cache was consulted; from here to
    // jobs.start() there is no await, so exactly one of them starts it.
    const late = this.join(id);
    if (late) return late;
    if (this.deps.signal?.aborted) throw new OriginStopping();
    if (this.limiter.queued >= this.deps.maxQueuedBuilds) {
      throw new BuildQueueFull(this.limiter.queued);
    }
    this.counters.manifestMisses++;
    return this.jobs.start(id, () => this.resolveAndBuild(image, tag));
  }

  /**
   * The job that answers (image, tag) from what exists (a running or remembered build, or the
   * cache), or null: never starts a build.
   */
  async existing(image: ImageRequest, tag: string): Promise<BuildJob | null> {
    const id = this.jobId(image, tag);
    const joined = this.join(id);
    if (joined) return joined;
    const hit = await this.cached(image, tag);
    if (!hit) return this.join(id) ?? null;
    this.counters.manifestHits++;
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

  /** The cached answer, without building or touching Nix; null when unknown or expired. */
  async cached(image: ImageRequest, tag: string): Promise<TagManifests | null> {
    const entry = await this.validEntry(this.jobId(image, tag));
    return entry ? this.toTagManifests(image, tag, entry) : null;
  }

  /**
   * Makes a collected manifest or blob again (one job per digest, however many ask); resolves to
   * what was restored, or null when the origin never published that digest.
   */
  async restore(digest: Digest): Promise<Restored> {
    const { published, storageWriter } = this.deps;
    if (!published || !storageWriter) return null;
    const job = this.restores.start(`restore:${digest}`, async () => {
      const restored = await restoreObject(
        {
          source: this.deps.source,
          published,
          pipeline: this.deps.pipeline,
          storage: storageWriter,
          runner: this.deps.runner,
          log: this.deps.log,
        },
        digest,
        this.deps.signal,
      );
      if (restored) {
        this.counters.objectsRestored++;
        this.storedSeen.delete(digest);
      }
      return restored;
    });
    return job.result();
  }

  /** Records that the image holding manifest `digest` was requested (written at most every 10 min). */
  touch(digests: readonly Digest[]): void {
    const published = this.deps.published;
    if (!published) return;
    const now = this.now();
    const every = this.deps.touchEveryMs ?? defaultTouchEveryMs;
    const due = digests.filter((digest) => now - (this.touched.get(digest) ?? 0) >= every);
    if (due.length === 0) return;
    if (this.touched.size >= storedMemoLimit) this.touched.clear();
    for (const digest of due) this.touched.set(digest, now);
    published.touch(due, now);
  }

  /** The tags the package source offers (the same for every image). */
  listTags(): Promise<string[]> {
    return listSourceTags(this.deps.source, this.deps.runner);
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
    if (job.status.state === "running") this.counters.jobsJoined++;
    else this.counters.failuresRepeated++;
    return job;
  }

  private async resolveAndBuild(image: ImageRequest, tag: string): Promise<TagManifests> {
    const started = this.now();
    let revision: string | null = null;
    try {
      const source = await this.revisions.get(tag);
      revision = source.revision;
      const revKey = revision ? revisionCacheKey(this.sourceId, revision, image) : null;
      const known = revKey ? await this.validEntry(revKey) : null;
      const built = known ? null : await this.buildInSlot(image, source);
      const manifests = known?.manifests ?? built!.manifests;
      const entry = this.entryFor(image, tag, source, manifests);
      // Both manifests are stored by now (buildImage publishes before returning).
      if (revKey) this.deps.manifests.put(revKey, { ...entry, pinned: true, expiresAt: null });
      this.deps.manifests.put(this.jobId(image, tag), entry);
      if (!known) this.record(image, tag, revision, "success", started, null);
      this.deps.log.info(known ? "revision already built" : "build finished", {
        image: image.name,
        tag,
        digest: manifests.docker.digest,
        ...(built ? { layers: built.layers.length, packedLayers: built.packedLayers } : {}),
        ms: this.now() - started,
      });
      return this.toTagManifests(image, tag, entry);
    } catch (error) {
      const stopping = this.deps.signal?.aborted === true;
      const failure = stopping ? new OriginStopping() : error;
      const outcome = outcomeOf(failure);
      const message = error instanceof Error ? error.message : String(error);
      this.record(image, tag, revision, outcome, started, message);
      this.deps.log.warn("build failed", {
        image: image.name,
        tag,
        outcome,
        error: message,
        ...nixOutputOf(error),
      });
      throw failure;
    }
  }

  private async buildInSlot(image: ImageRequest, source: ResolvedSource): Promise<BuiltImage> {
    return this.limiter.run(async () => {
      if (this.deps.signal?.aborted) throw new OriginStopping();
      const built = await buildImage(this.deps.pipeline, image, source, this.deps.signal);
      this.counters.layersPacked += built.packedLayers;
      this.counters.layersReused += built.layers.length - built.packedLayers;
      return built;
    });
  }

  private entryFor(
    image: ImageRequest,
    tag: string,
    source: ResolvedSource,
    manifests: TagManifests["manifests"],
  ): ManifestEntry {
    const createdAt = this.now();
    return {
      image: image.name,
      tag,
      revision: source.revision,
      pinned: source.pinned,
      manifests,
      createdAt,
      expiresAt: source.pinned ? null : createdAt + this.deps.tagTtlSeconds * 1000,
    };
  }

  /** A cache entry counts only while it is fresh and its manifests still exist in storage. */
  private async validEntry(key: string): Promise<ManifestEntry | null> {
    const entry = this.deps.manifests.get(key, this.now());
    if (!entry) return null;
    const stored = await Promise.all([
      this.isStored(entry.manifests.docker.digest),
      this.isStored(entry.manifests.oci.digest),
    ]);
    if (stored.every(Boolean)) return entry;
    this.deps.manifests.delete(key);
    return null;
  }

  /**
   * Whether a manifest is in storage, remembered for a minute: a warm tag request then costs no
   * storage round trip (an S3 HEAD is tens of milliseconds), yet objects removed behind the
   * origin's back are noticed soon.
   */
  private async isStored(digest: Digest): Promise<boolean> {
    const seen = this.storedSeen.get(digest);
    if (seen !== undefined && this.now() - seen < storedMemoMs) return true;
    // A manifest the collector removed is written back from the database rather than rebuilt.
    const stored =
      (await this.deps.storage.stat(manifestKey(digest))) !== null ||
      (await this.restore(digest).catch(() => null)) === "manifest";
    if (stored) {
      if (this.storedSeen.size >= storedMemoLimit) this.storedSeen.clear();
      this.storedSeen.set(digest, this.now());
    } else {
      this.storedSeen.delete(digest);
    }
    return stored;
  }

  private toTagManifests(image: ImageRequest, tag: string, entry: ManifestEntry): TagManifests {
    const maxAgeSeconds = entry.pinned
      ? pinnedMaxAgeSeconds
      : Math.max(0, Math.floor(((entry.expiresAt ?? 0) - this.now()) / 1000));
    return {
      name: image.name,
      tag,
      revision: entry.revision,
      pinned: entry.pinned,
      maxAgeSeconds,
      manifests: entry.manifests,
    };
  }

  private record(
    image: ImageRequest,
    tag: string,
    revision: string | null,
    outcome: BuildOutcome,
    started: number,
    error: string | null,
  ): void {
    this.deps.builds.record({
      image: image.name,
      tag,
      revision,
      outcome,
      durationMs: this.now() - started,
      error,
      finishedAt: this.now(),
    });
  }
}

function outcomeOf(error: unknown): BuildOutcome {
  if (error instanceof PackagesNotFound || error instanceof TagNotFound) return "not_found";
  if (error instanceof NixBuildTimedOut) return "timeout";
  return "failed";
}
