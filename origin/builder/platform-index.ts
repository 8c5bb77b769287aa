// The image index of a name built for several platforms (NIXERY_PLATFORMS): once every platform's
// image is stored, an OCI index and a Docker manifest list over them are stored and recorded for
// the storage collector (an index is an image whose children are the platforms' images). The
// index bytes are a function of the children's manifests alone, so the same children always give
// the same index digest.

import { digestHex, sha256Digest, type Digest } from "../../shared/digest.ts";
import type { Architecture } from "../../shared/image-name.ts";
import { buildIndex } from "../../shared/manifest.ts";
import { indexMediaType, type ManifestFlavour } from "../../shared/media-types.ts";
import type { ManifestRef, TagIndex } from "../../shared/origin-protocol.ts";
import { platformName } from "../../shared/platform.ts";
import { manifestKey } from "../../shared/storage-keys.ts";
import type { PublishedImage, PublishedImages } from "../cache/published-images.ts";
import type { Pins } from "../gc/pins.ts";
import type { BlobWriter } from "../storage/storage.ts";
import { PackagesNotFound } from "../nix/lookup-errors.ts";
import { TagNotFound } from "../nix/errors.ts";
import { PlatformBuildFailed } from "./errors.ts";

export interface PlatformImage {
  arch: Architecture;
  manifests: Record<ManifestFlavour, ManifestRef>;
}

export interface IndexDeps {
  storage: BlobWriter;
  published: PublishedImages;
  pins: Pins;
  packFormat: string;
  gzipLevel: number;
}

/**
 * The platforms' images, or the error that fails the index: a name that is unknown everywhere
 * (no such package, no such tag) is that error as it is; otherwise the platforms that failed,
 * named (PlatformBuildFailed). No index is made from some of its platforms.
 */
export function platformImagesOrFailure<T extends { manifests: PlatformImage["manifests"] }>(
  platforms: readonly Architecture[],
  settled: readonly PromiseSettledResult<T>[],
): (T & { arch: Architecture })[] {
  const failures = settled.flatMap((result, index) =>
    result.status === "rejected"
      ? [{ platform: platformName(platforms[index]!), error: result.reason as unknown }]
      : [],
  );
  if (failures.length > 0) {
    const unknownEverywhere =
      failures.length === platforms.length &&
      failures.every((f) => f.error instanceof PackagesNotFound || f.error instanceof TagNotFound);
    throw unknownEverywhere ? failures[0]!.error : new PlatformBuildFailed(failures);
  }
  return settled.map((result, index) => ({
    ...(result as PromiseFulfilledResult<T>).value,
    arch: platforms[index]!,
  }));
}

/** Stores both index flavours over `images` (in order) and records the index; returns it. */
export async function publishIndex(
  deps: IndexDeps,
  image: { name: string; revision: string | null },
  images: readonly PlatformImage[],
): Promise<TagIndex> {
  const pinned = deps.pins.pin();
  try {
    const manifests = {} as TagIndex["manifests"];
    const kept: PublishedImage["manifests"] = [];
    for (const flavour of ["docker", "oci"] as const) {
      const bytes = buildIndex(
        flavour,
        images.map((child) => ({ arch: child.arch, ...child.manifests[flavour] })),
      );
      const digest = await sha256Digest(bytes);
      pinned.add(digest);
      const mediaType = indexMediaType[flavour];
      await deps.storage.putBytes(manifestKey(digest), bytes, {
        sha256: digestHex(digest),
        contentType: mediaType,
      });
      manifests[flavour] = { digest, size: bytes.byteLength };
      kept.push({ digest, mediaType, bytes });
    }
    // Each child image's id is its first recorded manifest, the Docker one (pipeline.ts).
    const children: Digest[] = images.map((child) => child.manifests.docker.digest);
    deps.published.record({
      name: image.name,
      revision: image.revision,
      manifests: kept,
      config: null,
      layers: [],
      children,
      packFormat: deps.packFormat,
      gzipLevel: deps.gzipLevel,
    });
    return {
      manifests,
      platforms: images.map((child) => ({
        platform: platformName(child.arch),
        manifests: child.manifests,
      })),
    };
  } finally {
    pinned.release();
  }
}

/** Every manifest an index answer names: the index in both flavours and each platform's. */
export function indexManifestDigests(index: TagIndex): Digest[] {
  const digests = [
    index.manifests.docker.digest,
    index.manifests.oci.digest,
    ...index.platforms.flatMap((p) => [p.manifests.docker.digest, p.manifests.oci.digest]),
  ];
  return [...new Set(digests)];
}
