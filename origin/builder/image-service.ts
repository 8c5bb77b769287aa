// Turns (image, tag) into the image's manifests, and owns every piece of build state: the job
// table (running builds joined by every request for the same image and tag, finished ones kept
// for pollers, failures answered from memory for a while), the revision memo, the build-slot
// limiter and the memo of which manifests storage holds. Routes only parse, call and serialise.
//
// A name without `arm64/` is built for every platform in NIXERY_PLATFORMS. With one platform
// (the default) the answer is that platform's manifests, as ever; with several it is an index over
// them (platform-index.ts), all built at the one revision the tag names. Each platform's image is
// built once however many jobs need it: the index of `hello` and a pull of `arm64/hello` share
// the arm64 build.

import type { Digest } from "../../shared/digest.ts";
import type { Architecture, ImageRequest } from "../../shared/image-name.ts";
import type { ManifestFlavour } from "../../shared/media-types.ts";
import { platformName } from "../../shared/platform.ts";
import type { ManifestRef, TagIndex, TagManifests } from "../../shared/origin-protocol.ts";
import type { BuildOutcome, BuildRecords } from "../cache/build-records.ts";
import type { ManifestCache, ManifestEntry } from "../cache/manifest-cache.ts";
import type { Logger } from "../log.ts";
import { nixOutputOf } from "../nix/errors.ts";
import type { NixRunner } from "../nix/runner.ts";
import {
  describeSource,
  listSourceTags,
  resolveSource,
  type ResolvedSource,
  type SourceConfig,
} from "../nix/source.ts";
import type { BlobReader } from "../storage/storage.ts";
import {
  indexRevisionCacheKey,
  indexTagCacheKey,
  revisionCacheKey,
  tagCacheKey,
} from "./cache-key.ts";
import { BuildQueueFull, isTransient, OriginStopping } from "./errors.ts";
import { JobTable, type Job } from "./job-table.ts";
import { Limiter } from "./limiter.ts";
import { buildImage, packFormatVersion, type BuiltImage, type PipelineDeps } from "./pipeline.ts";
import {
  indexManifestDigests,
  platformImagesOrFailure,
  platformRequest,
  publishIndex,
} from "./platform-index.ts";
import { RevisionMemo } from "./revision-memo.ts";
import { StoredManifests } from "./stored-manifests.ts";
import type { PublishedImages } from "../cache/published-images.ts";
import type { Restored } from "../gc/restore.ts";
import { ObjectUpkeep } from "./object-upkeep.ts";
import { entryFor, outcomeOf, toTagManifests } from "./tag-entry.ts";

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
  /** Platforms a name without `arm64/` is built for, in index order (default: amd64 only). */
  platforms?: readonly Architecture[];
  /** The platform whose manifest clients that take no index get (default: the first listed). */
  hostArch?: Architecture;
}

export type BuildJob = Job<TagManifests>;

/** What a tag job produced: the answer's manifests, and whether anything was built for it. */
interface Produced {
  manifests: Record<ManifestFlavour, ManifestRef>;
  index: TagIndex | null;
  built: boolean;
  fields: Record<string, unknown>;
}

/** By default a use of an image is written to the database at most every 10 minutes. */
const defaultTouchEveryMs = 10 * 60 * 1000;
/** How long a finished job's status stays available to pollers. */
const keepFinishedMs = 10 * 60 * 1000;
/** How long the revision a tag names is remembered. */
const revisionMemoMs = 60_000;

export class ImageService {
  private readonly jobs: JobTable<TagManifests>;
  private readonly revisions: RevisionMemo;
  private readonly limiter: Limiter;
  private readonly now: () => number;
  private readonly stored: StoredManifests;
  private readonly upkeep: ObjectUpkeep;
  /** One build per platform image and revision, joined by every tag job and index that needs it. */
  private readonly platformBuilds: JobTable<BuiltImage>;
  private readonly platforms: readonly Architecture[];
  private readonly hostArch: Architecture;
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
    this.stored = new StoredManifests(deps.storage, (digest) => this.restore(digest), this.now);
    this.platforms = deps.platforms?.length ? deps.platforms : ["amd64"];
    this.hostArch =
      deps.hostArch && this.platforms.includes(deps.hostArch) ? deps.hostArch : this.platforms[0]!;
    this.jobs = new JobTable({
      keepFinishedMs,
      failureTtlMs: deps.failureTtlSeconds * 1000,
      remember: (error) => !(isTransient(error) || deps.signal?.aborted),
      now: this.now,
    });
    // Failures are remembered by the tag jobs above; this table only joins running builds.
    this.platformBuilds = new JobTable({
      keepFinishedMs: 0,
      failureTtlMs: 0,
      remember: () => false,
      now: this.now,
    });
    const { published, storageWriter } = deps;
    this.upkeep = new ObjectUpkeep({
      restore:
        published && storageWriter
          ? {
              source: deps.source,
              published,
              pipeline: deps.pipeline,
              storage: storageWriter,
              runner: deps.runner,
              log: deps.log,
            }
          : null,
      published: published ?? null,
      failureTtlMs: deps.failureTtlSeconds * 1000,
      touchEveryMs: deps.touchEveryMs ?? defaultTouchEveryMs,
      signal: deps.signal,
      now: this.now,
      onRestored: (digest) => {
        this.counters.objectsRestored++;
        this.stored.forget(digest);
      },
    });
    this.revisions = new RevisionMemo(
      (tag) => resolveSource(deps.source, tag, deps.runner, { signal: deps.signal }),
      revisionMemoMs,
      this.now,
    );
  }

  /** The build job id for an image and tag (stable: the tag's cache key). */
  jobId(image: ImageRequest, tag: string): string {
    const platforms = this.platformsOf(image);
    return platforms.length === 1
      ? tagCacheKey(this.sourceId, tag, platformRequest(image, platforms[0]!))
      : indexTagCacheKey(this.sourceId, tag, platforms, image);
  }

  /** Platforms a name without `arm64/` is built for, e.g. ["linux/amd64", "linux/arm64"]. */
  get platformNames(): string[] {
    return this.platforms.map(platformName);
  }

  /** The platform whose image clients that take no index get. */
  get hostPlatformName(): string {
    return platformName(this.hostArch);
  }

  /** The platforms `image` is built for: the one its name chose, or the configured ones. */
  platformsOf(image: ImageRequest): readonly Architecture[] {
    return image.archNamed ? [image.arch] : this.platforms;
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
      // Using an index uses the images it lists (published-images.ts).
      this.touch([(hit.index ?? hit).manifests.docker.digest]);
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
    const platforms = this.platformsOf(image);
    return this.jobs.start(id, () =>
      this.runTagJob(image, tag, (source) =>
        platforms.length === 1
          ? this.producePlatform(platformRequest(image, platforms[0]!), tag, source)
          : this.produceIndex(image, platforms, tag, source),
      ),
    );
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
    return entry ? toTagManifests(image, tag, entry, this.now()) : null;
  }

  /** Makes a collected manifest or blob again (see object-upkeep.ts). */
  restore(digest: Digest): Promise<Restored> {
    return this.upkeep.restore(digest);
  }

  /** Records that the images holding these manifests were requested now. */
  touch(digests: readonly Digest[]): void {
    this.upkeep.touch(digests);
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

  /**
   * Resolves the tag, produces its answer, caches it under the tag's key and records the outcome
   * (for the start page and metrics); every failure is logged and recorded with the tag.
   */
  private async runTagJob(
    image: ImageRequest,
    tag: string,
    produce: (source: ResolvedSource) => Promise<Produced>,
  ): Promise<TagManifests> {
    const started = this.now();
    let source: ResolvedSource | null = null;
    try {
      source = await this.revisions.get(tag);
      const produced = await produce(source);
      const entry = this.entry(image, tag, source, produced.manifests, produced.index);
      // Every manifest is stored by now (buildImage and publishIndex store before returning).
      this.deps.manifests.put(this.jobId(image, tag), entry);
      if (produced.built) this.record(image, tag, source.revision, "success", started, null);
      this.deps.log.info(produced.built ? "build finished" : "revision already built", {
        image: image.name,
        tag,
        digest: (produced.index ?? produced).manifests.docker.digest,
        ...produced.fields,
        ms: this.now() - started,
      });
      return toTagManifests(image, tag, entry, this.now());
    } catch (error) {
      const stopping = this.deps.signal?.aborted === true;
      const failure = stopping ? new OriginStopping() : error;
      const outcome = outcomeOf(failure);
      const message = error instanceof Error ? error.message : String(error);
      this.record(image, tag, source?.revision ?? null, outcome, started, message);
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

  /** One platform's image at the tag's revision. */
  private async producePlatform(
    image: ImageRequest,
    tag: string,
    source: ResolvedSource,
  ): Promise<Produced> {
    const { manifests, built } = await this.platformImage(image, tag, source);
    return {
      manifests,
      index: null,
      built: built !== null,
      fields: built ? { layers: built.layers.length, packedLayers: built.packedLayers } : {},
    };
  }

  /** Every platform's image at the one revision, then the index over them (none if one fails). */
  private async produceIndex(
    image: ImageRequest,
    platforms: readonly Architecture[],
    tag: string,
    source: ResolvedSource,
  ): Promise<Produced> {
    const revKey = source.revision
      ? indexRevisionCacheKey(this.sourceId, source.revision, platforms, image)
      : null;
    const known = revKey ? await this.validEntry(revKey) : null;
    if (known?.index) {
      return { manifests: known.manifests, index: known.index, built: false, fields: {} };
    }
    const children = platforms.map((arch) => platformRequest(image, arch));
    const settled = await Promise.allSettled(
      children.map(async (child) => {
        const { manifests } = await this.platformImage(child, tag, source);
        // A pull of `arm64/NAME` at this tag is answered from the cache from now on.
        if (child.archNamed) {
          const key = tagCacheKey(this.sourceId, tag, child);
          this.deps.manifests.put(key, this.entry(child, tag, source, manifests, null));
        }
        return manifests;
      }),
    );
    const images = platformImagesOrFailure(platforms, settled);
    const index = await publishIndex(
      {
        storage: this.deps.pipeline.storage,
        published: this.deps.pipeline.published,
        pins: this.deps.pipeline.pins,
        packFormat: packFormatVersion,
        gzipLevel: this.deps.pipeline.gzipLevel,
      },
      { name: image.name, revision: source.revision },
      images,
    );
    const manifests = images.find((child) => child.arch === this.hostArch)!.manifests;
    if (revKey) {
      const entry = this.entry(image, tag, source, manifests, index);
      this.deps.manifests.put(revKey, { ...entry, pinned: true, expiresAt: null });
    }
    return { manifests, index, built: true, fields: { platforms: index.platforms.length } };
  }

  /**
   * A platform's image at a resolved revision: from the revision's cache entry, or built once
   * however many jobs ask for it at the same time. Resolves to the build when one ran.
   */
  private async platformImage(
    image: ImageRequest,
    tag: string,
    source: ResolvedSource,
  ): Promise<{ manifests: Record<ManifestFlavour, ManifestRef>; built: BuiltImage | null }> {
    const revKey = source.revision ? revisionCacheKey(this.sourceId, source.revision, image) : null;
    const known = revKey ? await this.validEntry(revKey) : null;
    if (known) return { manifests: known.manifests, built: null };
    const buildId = revKey ?? tagCacheKey(this.sourceId, tag, image);
    const job = this.platformBuilds.start(buildId, () => this.buildInSlot(image, source));
    const built = await job.result();
    if (revKey) {
      const entry = this.entry(image, tag, source, built.manifests, null);
      this.deps.manifests.put(revKey, { ...entry, pinned: true, expiresAt: null });
    }
    return { manifests: built.manifests, built };
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

  /**
   * A cache entry counts only while it is fresh and every manifest it names (with an index: the
   * index and each platform's) still exists in storage.
   */
  private async validEntry(key: string): Promise<ManifestEntry | null> {
    const entry = this.deps.manifests.get(key, this.now());
    if (!entry) return null;
    const digests = new Set([
      entry.manifests.docker.digest,
      entry.manifests.oci.digest,
      ...(entry.index ? indexManifestDigests(entry.index) : []),
    ]);
    const stored = await Promise.all([...digests].map((digest) => this.stored.has(digest)));
    if (stored.every(Boolean)) return entry;
    this.deps.manifests.delete(key);
    return null;
  }

  private entry(
    image: ImageRequest,
    tag: string,
    source: ResolvedSource,
    manifests: TagManifests["manifests"],
    index: TagIndex | null,
  ): ManifestEntry {
    return entryFor(image, tag, source, manifests, index, this.now(), this.deps.tagTtlSeconds);
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
