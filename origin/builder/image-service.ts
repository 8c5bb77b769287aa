// Turns (image, tag) into the image's manifests: from the manifest cache when it may, otherwise by
// resolving the tag to a source revision and building — one build per cache key at a time
// (single-flight), at most N builds at once (limiter). Every outcome is recorded.

import type { Digest } from "../../shared/digest.ts";
import { RegistryError } from "../../shared/errors.ts";
import type { ImageRequest } from "../../shared/image-name.ts";
import { manifestKey } from "../../shared/storage-keys.ts";
import type { TagManifests } from "../../shared/origin-protocol.ts";
import type { BuildOutcome, BuildRecords } from "../cache/build-records.ts";
import type { ManifestCache, ManifestEntry } from "../cache/manifest-cache.ts";
import type { Logger } from "../log.ts";
import { NixBuildTimedOut, PackagesNotFound, TagNotFound } from "../nix/errors.ts";
import type { NixRunner } from "../nix/runner.ts";
import { describeSource, listSourceTags, resolveSource, type SourceConfig } from "../nix/source.ts";
import type { BlobReader } from "../storage/storage.ts";
import { revisionCacheKey, tagCacheKey } from "./cache-key.ts";
import { Limiter } from "./limiter.ts";
import { buildImage, type PipelineDeps } from "./pipeline.ts";
import { SingleFlight } from "./single-flight.ts";

export interface ImageServiceDeps {
  source: SourceConfig;
  runner: NixRunner;
  manifests: ManifestCache;
  builds: BuildRecords;
  storage: BlobReader;
  pipeline: PipelineDeps;
  tagTtlSeconds: number;
  maxConcurrentBuilds: number;
  /** Builds that may wait for a slot; past this, new images get 429 until the queue drains. */
  maxQueuedBuilds: number;
  /** How long a failed build's error is repeated without building again (0: never). */
  failureTtlSeconds: number;
  log: Logger;
  now?: () => number;
  /** Aborted when the origin shuts down: running Nix processes are stopped with SIGTERM. */
  signal?: AbortSignal;
}

const storedMemoMs = 60_000;
const storedMemoLimit = 10_000;

/** A pinned answer never changes; caches may keep it for a year. */
const pinnedMaxAgeSeconds = 31536000;

export class ImageService {
  private readonly flights = new SingleFlight<TagManifests>();
  private readonly limiter: Limiter;
  private readonly now: () => number;
  private readonly storedSeen = new Map<Digest, number>();
  private readonly recentFailures = new Map<string, { error: unknown; until: number }>();
  readonly sourceId: string;
  /** Since start: tag answers from the manifest cache and not, layers packed and reused. */
  readonly counters = { manifestHits: 0, manifestMisses: 0, layersPacked: 0, layersReused: 0 };

  constructor(private readonly deps: ImageServiceDeps) {
    this.limiter = new Limiter(deps.maxConcurrentBuilds);
    this.now = deps.now ?? Date.now;
    this.sourceId = describeSource(deps.source);
  }

  /** The build job id for an image and tag (stable: the tag's cache key). */
  jobId(image: ImageRequest, tag: string): string {
    return tagCacheKey(this.sourceId, tag, image);
  }

  /** The cached answer, without building or touching Nix; null when unknown or expired. */
  async cached(image: ImageRequest, tag: string): Promise<TagManifests | null> {
    const entry = await this.validEntry(this.jobId(image, tag));
    return entry ? this.toTagManifests(image, tag, entry) : null;
  }

  /** The running build for a job id, if any. */
  running(jobId: string): Promise<TagManifests> | undefined {
    return this.flights.get(jobId);
  }

  /** The tags the package source offers (the same for every image). */
  listTags(): Promise<string[]> {
    return listSourceTags(this.deps.source, this.deps.runner);
  }

  /** Settles when every running build has finished (or failed). */
  async drain(): Promise<void> {
    await this.flights.settled();
  }

  get stats(): { running: number; queued: number } {
    return { running: this.limiter.running, queued: this.limiter.queued };
  }

  /** Cached answer or a (shared) build. Throws the domain errors of the build. */
  async resolve(image: ImageRequest, tag: string): Promise<TagManifests> {
    const hit = await this.cached(image, tag);
    if (hit) {
      this.counters.manifestHits++;
      return hit;
    }
    this.counters.manifestMisses++;
    const id = this.jobId(image, tag);
    const failure = this.recentFailures.get(id);
    if (failure && failure.until > this.now()) throw failure.error;
    if (!this.flights.get(id) && this.limiter.queued >= this.deps.maxQueuedBuilds) {
      throw new RegistryError(
        "TOOMANYREQUESTS",
        `${this.limiter.queued} image builds are already waiting; try again in a minute`,
        undefined,
        { headers: { "Retry-After": "60" } },
      );
    }
    return this.flights.run(id, () => this.resolveAndBuild(image, tag));
  }

  private async resolveAndBuild(image: ImageRequest, tag: string): Promise<TagManifests> {
    const started = this.now();
    let revision: string | null = null;
    try {
      const source = await resolveSource(this.deps.source, tag, this.deps.runner, {
        signal: this.deps.signal,
      });
      revision = source.revision;
      const revKey = revision ? revisionCacheKey(this.sourceId, revision, image) : null;
      const known = revKey ? await this.validEntry(revKey) : null;
      let packedLayers = 0;
      const manifests =
        known?.manifests ??
        (await this.limiter.run(async () => {
          const built = await buildImage(this.deps.pipeline, image, source, this.deps.signal);
          packedLayers = built.packedLayers;
          this.counters.layersPacked += built.packedLayers;
          this.counters.layersReused += built.layers.length - built.packedLayers;
          return built.manifests;
        }));
      const createdAt = this.now();
      const entry: ManifestEntry = {
        image: image.name,
        tag,
        revision,
        pinned: source.pinned,
        manifests,
        createdAt,
        expiresAt: source.pinned ? null : createdAt + this.deps.tagTtlSeconds * 1000,
      };
      // Both manifests are stored by now (buildImage publishes before returning).
      if (revKey) this.deps.manifests.put(revKey, { ...entry, pinned: true, expiresAt: null });
      this.deps.manifests.put(this.jobId(image, tag), entry);
      if (!known) this.record(image, tag, revision, "success", started, null);
      this.deps.log.info(known ? "revision already built" : "build finished", {
        image: image.name,
        tag,
        digest: manifests.docker.digest,
        packedLayers,
        ms: this.now() - started,
      });
      return this.toTagManifests(image, tag, entry);
    } catch (error) {
      const outcome = outcomeOf(error);
      if (outcome === "failed" || outcome === "timeout") this.rememberFailure(image, tag, error);
      const message = error instanceof Error ? error.message : String(error);
      this.record(image, tag, revision, outcome, started, message);
      this.deps.log.warn("build failed", { image: image.name, tag, outcome, error: message });
      throw error;
    }
  }

  /**
   * A failed or timed-out build is answered from memory for a short while, so a client retrying
   * in a loop (podman retries 4xx three times) does not run the same failing build again and again.
   */
  private rememberFailure(image: ImageRequest, tag: string, error: unknown): void {
    if (this.deps.failureTtlSeconds <= 0 || this.deps.signal?.aborted) return;
    if (this.recentFailures.size >= storedMemoLimit) this.recentFailures.clear();
    const until = this.now() + this.deps.failureTtlSeconds * 1000;
    this.recentFailures.set(this.jobId(image, tag), { error, until });
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
    const stored = (await this.deps.storage.stat(manifestKey(digest))) !== null;
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
