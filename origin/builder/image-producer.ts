// Produces the manifests a tag job answers with, at a resolved revision: one platform's image, or
// every platform's image and the index over them. Each platform image is built once per revision,
// however many tag jobs and indexes need it at the same time (a job table of its own that only
// joins running builds), in a build slot of the limiter, and remembered under the revision's cache
// key, pinned, so a later tag naming the same revision builds nothing. A cache entry counts only
// while every manifest it names is still in storage.

import type { Architecture, ImageRequest } from "../../shared/image-name.ts";
import type { ManifestFlavour } from "../../shared/media-types.ts";
import type { ManifestRef, TagIndex, TagManifests } from "../../shared/origin-protocol.ts";
import type { ManifestCache, ManifestEntry } from "../cache/manifest-cache.ts";
import type { ResolvedSource } from "../nix/source.ts";
import { platformName } from "../../shared/platform.ts";
import { noProgress, type ProgressSink } from "./build-progress.ts";
import { indexRevisionCacheKey, revisionCacheKey, tagCacheKey } from "./cache-key.ts";
import { OriginStopping } from "./errors.ts";
import { JobTable } from "./job-table.ts";
import type { Limiter } from "./limiter.ts";
import { buildImage, packFormatVersion, type BuiltImage, type PipelineDeps } from "./pipeline.ts";
import {
  indexManifestDigests,
  platformImagesOrFailure,
  platformRequest,
  publishIndex,
} from "./platform-index.ts";
import type { StoredManifests } from "./stored-manifests.ts";
import { entryFor } from "./tag-entry.ts";

/** What a tag job produced: the answer's manifests, and whether anything was built for it. */
export interface Produced {
  manifests: Record<ManifestFlavour, ManifestRef>;
  index: TagIndex | null;
  built: boolean;
  /** For the job's log line. */
  fields: Record<string, unknown>;
}

export interface ImageProducerDeps {
  sourceId: string;
  manifests: ManifestCache;
  pipeline: PipelineDeps;
  stored: StoredManifests;
  limiter: Limiter;
  /** The platform whose manifests an index's tag answer carries for clients that take no index. */
  hostArch: Architecture;
  tagTtlSeconds: number;
  /** Layers packed and reused, counted for /metrics. */
  counters: { layersPacked: number; layersReused: number };
  signal?: AbortSignal;
  now: () => number;
}

export class ImageProducer {
  /** One build per platform image and revision; failures are remembered by the tag jobs. */
  private readonly builds: JobTable<BuiltImage>;

  constructor(private readonly deps: ImageProducerDeps) {
    this.builds = new JobTable({
      keepFinishedMs: 0,
      failureTtlMs: 0,
      remember: () => false,
      now: deps.now,
    });
  }

  /** One platform's image at the tag's revision. */
  async platform(
    image: ImageRequest,
    tag: string,
    source: ResolvedSource,
    progress: ProgressSink = noProgress,
  ): Promise<Produced> {
    const { manifests, built } = await this.platformImage(image, tag, source, progress);
    return {
      manifests,
      index: null,
      built: built !== null,
      fields: built ? { layers: built.layers.length, packedLayers: built.packedLayers } : {},
    };
  }

  /** Every platform's image at the one revision, then the index over them (none if one fails). */
  async index(
    image: ImageRequest,
    platforms: readonly Architecture[],
    tag: string,
    source: ResolvedSource,
    progress: ProgressSink = noProgress,
  ): Promise<Produced> {
    const revKey = source.revision
      ? indexRevisionCacheKey(this.deps.sourceId, source.revision, platforms, image)
      : null;
    const known = revKey ? await this.validEntry(revKey) : null;
    if (known?.index) {
      return { manifests: known.manifests, index: known.index, built: false, fields: {} };
    }
    const children = platforms.map((arch) => platformRequest(image, arch));
    const settled = await Promise.allSettled(
      children.map(async (child) => {
        const { manifests } = await this.platformImage(child, tag, source, progress);
        // A pull of `arm64/NAME` at this tag is answered from the cache from now on.
        if (child.archNamed) {
          const key = tagCacheKey(this.deps.sourceId, tag, child);
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
    const manifests = images.find((child) => child.arch === this.deps.hostArch)!.manifests;
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
    progress: ProgressSink,
  ): Promise<{ manifests: Record<ManifestFlavour, ManifestRef>; built: BuiltImage | null }> {
    const revKey = source.revision
      ? revisionCacheKey(this.deps.sourceId, source.revision, image)
      : null;
    const known = revKey ? await this.validEntry(revKey) : null;
    if (known) return { manifests: known.manifests, built: null };
    const buildId = revKey ?? tagCacheKey(this.deps.sourceId, tag, image);
    const job = this.builds.start(buildId, () => this.buildInSlot(image, source, progress));
    const built = await job.result();
    if (revKey) {
      const entry = this.entry(image, tag, source, built.manifests, null);
      this.deps.manifests.put(revKey, { ...entry, pinned: true, expiresAt: null });
    }
    return { manifests: built.manifests, built };
  }

  /**
   * Builds in a slot of the limiter. Only the first job that asks for a platform image hears of
   * its progress; a job that joins it (another tag at the same revision) waits without details.
   */
  private async buildInSlot(
    image: ImageRequest,
    source: ResolvedSource,
    progress: ProgressSink,
  ): Promise<BuiltImage> {
    const platform = platformName(image.arch);
    const queued = (position: number) =>
      progress.phase("queued", { queuePosition: position, platform });
    return this.deps.limiter.run(async () => {
      if (this.deps.signal?.aborted) throw new OriginStopping();
      progress.phase("evaluating", { platform });
      const built = await buildImage(this.deps.pipeline, image, source, this.deps.signal, progress);
      this.deps.counters.layersPacked += built.packedLayers;
      this.deps.counters.layersReused += built.layers.length - built.packedLayers;
      return built;
    }, queued);
  }

  /**
   * A cache entry counts only while it is fresh and every manifest it names (with an index: the
   * index and each platform's) still exists in storage.
   */
  async validEntry(key: string): Promise<ManifestEntry | null> {
    const entry = this.deps.manifests.get(key, this.deps.now());
    if (!entry) return null;
    const digests = new Set([
      entry.manifests.docker.digest,
      entry.manifests.oci.digest,
      ...(entry.index ? indexManifestDigests(entry.index) : []),
    ]);
    const stored = await Promise.all([...digests].map((digest) => this.deps.stored.has(digest)));
    if (stored.every(Boolean)) return entry;
    this.deps.manifests.delete(key);
    return null;
  }

  entry(
    image: ImageRequest,
    tag: string,
    source: ResolvedSource,
    manifests: TagManifests["manifests"],
    index: TagIndex | null,
  ): ManifestEntry {
    return entryFor(image, tag, source, manifests, index, this.deps.now(), this.deps.tagTtlSeconds);
  }
}
