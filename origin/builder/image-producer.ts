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

/**
 * What a tag job produced: the tag's cache entry (for the job to store under the tag's key),
 * whether anything was built for it, and the layers its own builds packed and reused (a build it
 * joined is counted by the job that started it).
 */
export interface Produced {
  entry: ManifestEntry;
  built: boolean;
  layersPacked: number;
  layersReused: number;
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
  signal?: AbortSignal;
  now: () => number;
}

/** One platform's manifests, and the build that made them when this caller ran it. */
interface MadeImage {
  manifests: Record<ManifestFlavour, ManifestRef>;
  built: BuiltImage | null;
  ranHere: boolean;
}

const nothingBuilt = { built: false, layersPacked: 0, layersReused: 0, fields: {} } as const;

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

  /** The answer for `image` at the tag's revision: one platform's image, or an index over several. */
  produce(
    image: ImageRequest,
    platforms: readonly Architecture[],
    tag: string,
    source: ResolvedSource,
  ): Promise<Produced> {
    return platforms.length === 1
      ? this.platform(platformRequest(image, platforms[0]!), tag, source)
      : this.index(image, platforms, tag, source);
  }

  private async platform(
    image: ImageRequest,
    tag: string,
    source: ResolvedSource,
  ): Promise<Produced> {
    const { manifests, built, ranHere } = await this.platformImage(image, tag, source);
    const entry = this.entry(image, tag, source, manifests, null);
    if (!built) return { entry, ...nothingBuilt };
    return {
      entry,
      built: true,
      ...layerCounts(ranHere ? [built] : []),
      fields: { layers: built.layers.length, packedLayers: built.packedLayers },
    };
  }

  /** Every platform's image at the one revision, then the index over them (none if one fails). */
  private async index(
    image: ImageRequest,
    platforms: readonly Architecture[],
    tag: string,
    source: ResolvedSource,
  ): Promise<Produced> {
    const revKey = source.revision
      ? indexRevisionCacheKey(this.deps.sourceId, source.revision, platforms, image)
      : null;
    const known = revKey ? await this.deps.stored.validEntry(revKey) : null;
    if (known?.index) {
      const entry = this.entry(image, tag, source, known.manifests, known.index);
      return { entry, ...nothingBuilt };
    }
    const children = platforms.map((arch) => platformRequest(image, arch));
    const settled = await Promise.allSettled(
      children.map(async (child) => {
        const made = await this.platformImage(child, tag, source);
        // A pull of `arm64/NAME` at this tag is answered from the cache from now on.
        if (child.archNamed) {
          const key = tagCacheKey(this.deps.sourceId, tag, child);
          this.deps.manifests.put(key, this.entry(child, tag, source, made.manifests, null));
        }
        return made;
      }),
    );
    const made = platformImagesOrFailure(platforms, settled);
    const index = await publishIndex(
      {
        storage: this.deps.pipeline.storage,
        published: this.deps.pipeline.published,
        pins: this.deps.pipeline.pins,
        packFormat: packFormatVersion,
        gzipLevel: this.deps.pipeline.gzipLevel,
      },
      { name: image.name, revision: source.revision },
      made,
    );
    const manifests = made.find((child) => child.arch === this.deps.hostArch)!.manifests;
    const entry = this.entry(image, tag, source, manifests, index);
    if (revKey) this.deps.manifests.put(revKey, { ...entry, pinned: true, expiresAt: null });
    const ran = made.flatMap((child) => (child.ranHere && child.built ? [child.built] : []));
    return {
      entry,
      built: true,
      ...layerCounts(ran),
      fields: { platforms: index.platforms.length },
    };
  }

  /**
   * A platform's image at a resolved revision: from the revision's cache entry, or built once
   * however many jobs ask for it at the same time. `ranHere` says whether this caller ran it.
   */
  private async platformImage(
    image: ImageRequest,
    tag: string,
    source: ResolvedSource,
  ): Promise<MadeImage> {
    const revKey = source.revision
      ? revisionCacheKey(this.deps.sourceId, source.revision, image)
      : null;
    const known = revKey ? await this.deps.stored.validEntry(revKey) : null;
    if (known) return { manifests: known.manifests, built: null, ranHere: false };
    const buildId = revKey ?? tagCacheKey(this.deps.sourceId, tag, image);
    const running = this.builds.joinable(buildId);
    const job = running ?? this.builds.start(buildId, () => this.buildInSlot(image, source));
    const built = await job.result();
    if (revKey) {
      const entry = this.entry(image, tag, source, built.manifests, null);
      this.deps.manifests.put(revKey, { ...entry, pinned: true, expiresAt: null });
    }
    return { manifests: built.manifests, built, ranHere: running === undefined };
  }

  private async buildInSlot(image: ImageRequest, source: ResolvedSource): Promise<BuiltImage> {
    return this.deps.limiter.run(async () => {
      if (this.deps.signal?.aborted) throw new OriginStopping();
      return buildImage(this.deps.pipeline, image, source, this.deps.signal);
    });
  }

  private entry(
    image: ImageRequest,
    tag: string,
    source: ResolvedSource,
    manifests: TagManifests["manifests"],
    index: TagIndex | null,
  ): ManifestEntry {
    return entryFor(image, tag, source, manifests, index, this.deps.now(), this.deps.tagTtlSeconds);
  }
}

function layerCounts(builds: readonly BuiltImage[]): {
  layersPacked: number;
  layersReused: number;
} {
  let layersPacked = 0;
  let layersReused = 0;
  for (const built of builds) {
    layersPacked += built.packedLayers;
    layersReused += built.layers.length - built.packedLayers;
  }
  return { layersPacked, layersReused };
}
