// Images made up in memory for the worker unit tests: random layers and a config, the Docker and
// OCI manifests over them, optionally an index over several platforms, and the origin's answer
// for the tag (shared/origin-protocol.ts), ready to put into the in-memory origin's scenario.

import { createHash, randomBytes } from "node:crypto";
import type { Digest } from "../../shared/digest.ts";
import { buildIndex, buildManifest } from "../../shared/manifest.ts";
import { indexMediaType, mediaTypes, type ManifestFlavour } from "../../shared/media-types.ts";
import type { Architecture } from "../../shared/image-name.ts";
import type { ManifestRef, TagManifests } from "../../shared/origin-protocol.ts";
import type { OriginScenario } from "../workerd/origin-scenario.ts";

export interface SyntheticBlob {
  digest: Digest;
  size: number;
  bytes: Buffer;
}

export interface SyntheticManifest extends ManifestRef {
  mediaType: string;
  bytes: Buffer;
}

export interface SyntheticImage {
  name: string;
  tag: string;
  config: SyntheticBlob;
  layers: SyntheticBlob[];
  docker: SyntheticManifest;
  oci: SyntheticManifest;
  /** With platforms: the index of each flavour and the platforms' images. */
  index?: { docker: SyntheticManifest; oci: SyntheticManifest; platforms: SyntheticImage[] };
  /** The origin's answer for name:tag. */
  result: TagManifests;
}

export function sha256(bytes: Uint8Array): Digest {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}` as Digest;
}

function blobOf(bytes: Buffer): SyntheticBlob {
  return { digest: sha256(bytes), size: bytes.length, bytes };
}

function manifestOf(mediaType: string, bytes: Uint8Array): SyntheticManifest {
  const buffer = Buffer.from(bytes);
  return { mediaType, bytes: buffer, digest: sha256(buffer), size: buffer.length };
}

const ref = (manifest: SyntheticManifest): ManifestRef => ({
  digest: manifest.digest,
  size: manifest.size,
});

export interface ImageOptions {
  tag?: string;
  layerSizes?: number[];
  maxAgeSeconds?: number;
  revision?: string | null;
  /** Makes an index over one image per platform (the first is the host's). */
  platforms?: string[];
}

function architectureOf(platform: string): Architecture {
  const arch = platform.split("/")[1];
  if (arch !== "amd64" && arch !== "arm64") throw new Error(`no such platform: ${platform}`);
  return arch;
}

export function syntheticImage(name: string, options: ImageOptions = {}): SyntheticImage {
  const tag = options.tag ?? "latest";
  const platforms = options.platforms ?? [];
  if (platforms.length > 0) {
    const images = platforms.map((platform) =>
      syntheticImage(name, { ...options, tag, platforms: [] }),
    );
    const host = images[0]!;
    const indexOf = (flavour: ManifestFlavour) =>
      manifestOf(
        indexMediaType[flavour],
        buildIndex(
          flavour,
          images.map((image, i) => ({
            arch: architectureOf(platforms[i]!),
            digest: image[flavour].digest,
            size: image[flavour].size,
          })),
        ),
      );
    const index = { docker: indexOf("docker"), oci: indexOf("oci"), platforms: images };
    return {
      ...host,
      index,
      result: {
        ...host.result,
        revision: options.revision ?? null,
        index: {
          manifests: { docker: ref(index.docker), oci: ref(index.oci) },
          platforms: images.map((image, i) => ({
            platform: platforms[i]!,
            manifests: { docker: ref(image.docker), oci: ref(image.oci) },
          })),
        },
      },
    };
  }
  const config = blobOf(
    Buffer.from(JSON.stringify({ architecture: "amd64", nonce: randomBytes(8).toString("hex") })),
  );
  const layers = (options.layerSizes ?? [3000, 200]).map((size) => blobOf(randomBytes(size)));
  // The layers are random bytes, not gzip: their "diff IDs" are never looked at here.
  const descriptors = layers.map((layer) => ({ ...layer, diffId: layer.digest }));
  const docker = manifestOf(
    mediaTypes.dockerManifest,
    buildManifest("docker", config, descriptors),
  );
  const oci = manifestOf(mediaTypes.ociManifest, buildManifest("oci", config, descriptors));
  return {
    name,
    tag,
    config,
    layers,
    docker,
    oci,
    result: {
      name,
      tag,
      revision: options.revision ?? null,
      pinned: false,
      maxAgeSeconds: options.maxAgeSeconds ?? 300,
      manifests: { docker: ref(docker), oci: ref(oci) },
    },
  };
}

/** Every image's manifests and blobs, and a finished build for each, as an origin scenario. */
export function originHolding(images: SyntheticImage[]): Partial<OriginScenario> {
  const scenario: Pick<OriginScenario, "builds" | "manifests" | "blobs" | "tagLists"> = {
    builds: {},
    manifests: {},
    blobs: {},
    tagLists: {},
  };
  const add = (image: SyntheticImage) => {
    for (const manifest of [image.docker, image.oci]) {
      scenario.manifests[manifest.digest] = {
        mediaType: manifest.mediaType,
        base64: manifest.bytes.toString("base64"),
      };
    }
    for (const blob of [image.config, ...image.layers]) {
      scenario.blobs[blob.digest] = { base64: blob.bytes.toString("base64") };
    }
  };
  for (const image of images) {
    add(image);
    if (image.index) {
      for (const manifest of [image.index.docker, image.index.oci]) {
        scenario.manifests[manifest.digest] = {
          mediaType: manifest.mediaType,
          base64: manifest.bytes.toString("base64"),
        };
      }
      image.index.platforms.forEach(add);
    }
    scenario.builds[`${image.name}:${image.tag}`] = { result: image.result };
    scenario.tagLists[image.name] = [...(scenario.tagLists[image.name] ?? []), image.tag];
  }
  return scenario;
}
