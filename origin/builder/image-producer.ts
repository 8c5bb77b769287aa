// Produces the manifests a tag job answers with, at a resolved revision: one platform's image, or
// every platform's image and the index over them. The images come from the platform builds
// (platform-builds.ts: each built once per revision); an index over them is stored and remembered
// under the revision's cache key, pinned, so a later tag naming the same revision builds nothing.

import type { Architecture, ImageRequest } from "../../shared/image-name.ts";
import type { TagIndex, TagManifests } from "../../shared/origin-protocol.ts";
import type { ManifestCache, ManifestEntry } from "../cache/manifest-cache.ts";
import type { ResolvedSource } from "../nix/source.ts";
import { ignoreBuildEvents, type BuildEvents } from "./build-events.ts";
import { indexRevisionCacheKey } from "./cache-key.ts";
import { packFormatVersion, type PipelineDeps } from "./pipeline.ts";
import type { MadeImage, PlatformBuilds } from "./platform-builds.ts";
import { publishIndex } from "./platform-index.ts";
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
  builds: PlatformBuilds;
  /** Where an index is stored and recorded (the pipeline's storage, records and pins). */
  pipeline: Pick<PipelineDeps, "storage" | "published" | "pins" | "gzipLevel">;
  stored: StoredManifests;
  /** The platform whose manifests an index's tag answer carries for clients that take no index. */
  hostArch: Architecture;
  tagTtlSeconds: number;
  now: () => number;
}

/** The answer's manifests (and index), and what was built for it. */
type Answer = Omit<Produced, "entry"> & {
  /** The image the manifests are of (a platform's, `arm64/NAME`, for a one-platform answer). */
  image: ImageRequest;
  manifests: TagManifests["manifests"];
  index: TagIndex | null;
};

const nothingBuilt = { built: false, layersPacked: 0, layersReused: 0, fields: {} } as const;

export class ImageProducer {
  constructor(private readonly deps: ImageProducerDeps) {}

  /**
   * The answer for `image` at the tag's revision: one platform's image, or an index over several
   * (remembered under the revision's index key, pinned). With several platforms, every platform's
   * image is built, then the index over them (none if one failed).
   */
  async produce(
    image: ImageRequest,
    platforms: readonly Architecture[],
    tag: string,
    source: ResolvedSource,
    events: BuildEvents = ignoreBuildEvents,
  ): Promise<Produced> {
    const { deps } = this;
    const indexKey =
      platforms.length > 1 && source.revision
        ? indexRevisionCacheKey(deps.sourceId, source.revision, platforms, image)
        : null;
    const known = indexKey ? await deps.stored.validEntry(indexKey) : null;
    let answer: Answer;
    if (known?.index) {
      answer = { image, manifests: known.manifests, index: known.index, ...nothingBuilt };
    } else {
      const built = await deps.builds.buildPlatforms(image, platforms, tag, source, events);
      const { images, layersPacked, layersReused } = built;
      const counts = { layersPacked, layersReused };
      if (images.length === 1) {
        answer = onePlatformAnswer(images[0]!, counts);
      } else {
        const index = await publishIndex(
          { ...deps.pipeline, packFormat: packFormatVersion },
          { name: image.name, revision: source.revision },
          images,
        );
        const manifests = images.find((child) => child.arch === deps.hostArch)!.manifests;
        const fields = { platforms: index.platforms.length };
        answer = { image, manifests, index, built: true, ...counts, fields };
      }
    }
    const { image: answered, manifests, index, ...produced } = answer;
    const entry = entryFor(answered, tag, source, manifests, index, deps.now(), deps.tagTtlSeconds);
    if (indexKey && produced.built) {
      deps.manifests.put(indexKey, { ...entry, pinned: true, expiresAt: null });
    }
    return { entry, ...produced };
  }
}

/** A one-platform answer: that platform's image, and what its build did if this job ran it. */
function onePlatformAnswer(
  made: MadeImage,
  counts: { layersPacked: number; layersReused: number },
): Answer {
  const { image, manifests, built } = made;
  if (!built) return { image, manifests, index: null, ...nothingBuilt };
  const fields = { layers: built.layers.length, packedLayers: built.packedLayers };
  return { image, manifests, index: null, built: true, ...counts, fields };
}
