// Each platform's image of a name at a resolved revision, built once per revision however many
// tag jobs and indexes need it at the same time (a job table of its own that only joins running
// builds), in a build slot of the limiter, and remembered under the revision's cache key, pinned,
// so a later tag naming the same revision builds nothing. A cache entry counts only while every
// manifest it names is still in storage (stored-manifests.ts).

import type { Architecture, ImageRequest } from "../../shared/image-name.ts";
import type { ManifestFlavour } from "../../shared/media-types.ts";
import type { ManifestRef } from "../../shared/origin-protocol.ts";
import { platformName } from "../../shared/platform.ts";
import type { ManifestCache } from "../cache/manifest-cache.ts";
import type { ResolvedSource } from "../nix/source.ts";
import type { BuildEvents } from "./build-events.ts";
import { revisionCacheKey, tagCacheKey } from "./cache-key.ts";
import { OriginStopping } from "./errors.ts";
import { JobTable } from "./job-table.ts";
import type { Limiter } from "./limiter.ts";
import { buildImage, type BuiltImage, type PipelineDeps } from "./pipeline.ts";
import { platformImagesOrFailure } from "./platform-index.ts";
import type { StoredManifests } from "./stored-manifests.ts";
import { entryFor } from "./tag-entry.ts";

export interface PlatformBuildsDeps {
  sourceId: string;
  manifests: ManifestCache;
  pipeline: PipelineDeps;
  stored: StoredManifests;
  limiter: Limiter;
  tagTtlSeconds: number;
  signal?: AbortSignal;
  now: () => number;
}

/** One platform's manifests, and the build that made them when this caller ran it. */
export interface MadeImage {
  /** The image of this platform (`arm64/NAME` for arm64, platformRequest). */
  image: ImageRequest;
  arch: Architecture;
  manifests: Record<ManifestFlavour, ManifestRef>;
  built: BuiltImage | null;
  ranHere: boolean;
}

/**
 * The image of one platform: `arm64/NAME` for arm64, so that what is recorded under the name (and
 * restored from it, restore.ts) is built for the same platform again.
 */
export function platformRequest(image: ImageRequest, arch: Architecture): ImageRequest {
  if (image.archNamed) return image;
  const name = arch === "arm64" ? `arm64/${image.name}` : image.name;
  return { ...image, name, arch, archNamed: arch === "arm64" };
}

/**
 * Every platform's image, and the layers the builds this caller ran packed and reused (a build it
 * joined is counted by the caller that started it).
 */
export interface PlatformsBuilt {
  images: MadeImage[];
  layersPacked: number;
  layersReused: number;
}

export class PlatformBuilds {
  /** One build per platform image and revision; failures are remembered by the tag jobs. */
  private readonly builds: JobTable<BuiltImage>;

  constructor(private readonly deps: PlatformBuildsDeps) {
    this.builds = new JobTable({
      keepFinishedMs: 0,
      failureTtlMs: 0,
      remember: () => false,
      now: deps.now,
    });
  }

  /**
   * Every platform's image at the one revision, in the order of `platforms`, all at once. One
   * platform's failure is its error as it is; with several, platformImagesOrFailure says which
   * error fails them all. With several, a platform's own tag (`arm64/NAME`) is cached as each one
   * is done, so a pull of it is answered from the cache from then on.
   */
  async buildPlatforms(
    image: ImageRequest,
    platforms: readonly Architecture[],
    tag: string,
    source: ResolvedSource,
    events: BuildEvents,
  ): Promise<PlatformsBuilt> {
    const several = platforms.length > 1;
    const children = platforms.map((arch) => platformRequest(image, arch));
    const settled = await Promise.allSettled(
      children.map(async (child) => {
        const made = await this.image(child, tag, source, events);
        if (several && child.archNamed) {
          const key = tagCacheKey(this.deps.sourceId, tag, child);
          const { now, tagTtlSeconds } = this.deps;
          const entry = entryFor(child, tag, source, made.manifests, null, now(), tagTtlSeconds);
          this.deps.manifests.put(key, entry);
        }
        return made;
      }),
    );
    const [only] = settled;
    if (!several && only?.status === "rejected") throw only.reason;
    const images = platformImagesOrFailure(platforms, settled);
    let layersPacked = 0;
    let layersReused = 0;
    for (const { built, ranHere } of images) {
      if (!built || !ranHere) continue;
      layersPacked += built.packedLayers;
      layersReused += built.layers.length - built.packedLayers;
    }
    return { images, layersPacked, layersReused };
  }

  /**
   * A platform's image at a resolved revision: from the revision's cache entry, or built once
   * however many jobs ask for it at the same time. `ranHere` says whether this caller ran it.
   */
  private async image(
    image: ImageRequest,
    tag: string,
    source: ResolvedSource,
    events: BuildEvents,
  ): Promise<Omit<MadeImage, "arch">> {
    const revKey = source.revision
      ? revisionCacheKey(this.deps.sourceId, source.revision, image)
      : null;
    const known = revKey ? await this.deps.stored.validEntry(revKey) : null;
    if (known) return { image, manifests: known.manifests, built: null, ranHere: false };
    const buildId = revKey ?? tagCacheKey(this.deps.sourceId, tag, image);
    const running = this.builds.joinable(buildId);
    const job =
      running ?? this.builds.start(buildId, () => this.buildInSlot(image, source, events));
    const built = await job.result();
    if (revKey) {
      const { now, tagTtlSeconds } = this.deps;
      const entry = entryFor(image, tag, source, built.manifests, null, now(), tagTtlSeconds);
      this.deps.manifests.put(revKey, { ...entry, pinned: true, expiresAt: null });
    }
    return { image, manifests: built.manifests, built, ranHere: running === undefined };
  }

  /**
   * Builds in a slot of the limiter, reporting to the events of the job that started it (a job
   * that joins the build, e.g. another tag at the same revision, waits without details).
   */
  private async buildInSlot(
    image: ImageRequest,
    source: ResolvedSource,
    events: BuildEvents,
  ): Promise<BuiltImage> {
    const platform = platformName(image.arch);
    const queued = (position: number) =>
      events({ kind: "phase", phase: "queued", queuePosition: position, platform });
    return this.deps.limiter.run(async () => {
      if (this.deps.signal?.aborted) throw new OriginStopping();
      events({ kind: "phase", phase: "evaluating", platform });
      return buildImage(this.deps.pipeline, image, source, this.deps.signal, events);
    }, queued);
  }
}
