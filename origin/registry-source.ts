// The origin's RegistrySource for the shared registry handler: tags resolve through the image
// service (cache or build), digest-addressed objects come straight from storage. The builder's
// errors pass through typed; the app's onError maps them (registry-errors.ts).

import { isDigest, type Digest } from "../shared/digest.ts";
import type { ImageRequest } from "../shared/image-name.ts";
import { manifestMediaTypeOf } from "../shared/manifest.ts";
import type { ManifestWanted } from "../shared/media-types.ts";
import { selectManifest, type TagManifests } from "../shared/origin-protocol.ts";
import type {
  BlobRead,
  RangeRequest,
  RegistrySource,
  StoredManifest,
  TagAnswer,
} from "../shared/registry-handler.ts";
import { RegistryError } from "../shared/errors.ts";
import { blobKey, manifestKey } from "../shared/storage-keys.ts";
import type { BuildJob, ImageAnswers } from "./builder/images.ts";
import type { RequestNotes } from "./http/access-log.ts";
import { RecentManifests } from "./storage/recent-manifests.ts";
import type { BlobReader } from "./storage/storage.ts";

/**
 * `refuseBuild`, when given, is what a tag that would need a new build answers (an anonymous
 * pull on an instance where only users build): tags answer only from what exists. `notes`
 * receives how the answer was found, for the access log (hit, build, failed, stored, restored).
 * `recent` keeps the manifests read in the last minute; one for the whole app, so that sources
 * made per request share it.
 */
export function createOriginSource(
  images: ImageAnswers,
  storage: BlobReader,
  refuseBuild?: (name: string, tag: string) => Error,
  notes: RequestNotes | null = null,
  recent: RecentManifests = new RecentManifests(() => 0),
): RegistrySource {
  async function answerTag(image: ImageRequest, tag: string): Promise<TagManifests> {
    const job = refuseBuild ? await images.existing(image, tag) : await images.start(image, tag);
    if (!job) throw refuseBuild!(image.name, tag);
    if (notes) notes.cache = cacheOutcome(job);
    return job.result();
  }

  async function manifestByDigest(digest: Digest): Promise<StoredManifest | null> {
    const known = recent.get(digest);
    if (known) {
      if (notes && !notes.cache) notes.cache = "stored";
      images.touch([digest]);
      return { digest, ...known };
    }
    let bytes = await storage.readBytes(manifestKey(digest));
    // Collected by the storage GC: written back from the database, same bytes.
    if (!bytes && (await images.restore(digest)) === "manifest") {
      bytes = await storage.readBytes(manifestKey(digest));
      if (notes && bytes) notes.cache = "restored";
    } else if (notes && bytes && !notes.cache) notes.cache = "stored";
    if (!bytes) return null;
    images.touch([digest]);
    const mediaType = manifestMediaTypeOf(bytes);
    if (!mediaType) throw new Error(`stored manifest ${digest} has no mediaType`);
    recent.put(digest, { bytes, mediaType });
    return { digest, mediaType, bytes };
  }

  return {
    manifestByDigest,

    async manifestForTag(
      image: ImageRequest,
      tag: string,
      wanted: ManifestWanted,
    ): Promise<TagAnswer> {
      const result = await answerTag(image, tag);
      // An index is served only once every manifest it lists is stored (builder/image-producer.ts).
      const digest = selectManifest(result, wanted).digest;
      if (!isDigest(digest)) throw new RegistryError("INTERNAL");
      const manifest = await manifestByDigest(digest);
      if (!manifest)
        throw new RegistryError("MANIFEST_UNKNOWN", `manifest ${digest} vanished from storage`);
      return { manifest, maxAgeSeconds: result.maxAgeSeconds, revision: result.revision };
    },

    listTags(): Promise<string[]> {
      return images.listTags();
    },

    async readBlob(digest: Digest, range: RangeRequest, method): Promise<BlobRead | null> {
      const key = blobKey(digest);
      let stat = await storage.stat(key);
      // A layer or config the storage GC collected is made again (same digest) on request.
      if (!stat) {
        const restored = await images.restore(digest);
        if (restored === "blob" || restored === "layer") stat = await storage.stat(key);
        if (notes && stat) notes.cache = "restored";
      } else if (notes) notes.cache = "stored";
      if (!stat) return null;
      const span = range.resolve(stat.size);
      if (!span && storage.redirectUrl) {
        const redirect = await storage.redirectUrl(key);
        if (redirect) return { size: stat.size, range: null, body: null, redirect };
      }
      if (method === "HEAD") return { size: stat.size, range: span, body: null };
      const body = await storage.read(key, span ?? undefined);
      if (!body) return null;
      return { size: stat.size, range: span, body };
    },
  };
}

/**
 * For the access log: a finished job is the manifest cache's answer (or a remembered failure); a
 * running one is a build this request waits for (started by it or joined).
 */
const cacheOutcomes = { done: "hit", failed: "failed", running: "build" } as const;

export function cacheOutcome(job: BuildJob): (typeof cacheOutcomes)[keyof typeof cacheOutcomes] {
  return cacheOutcomes[job.status.state];
}
