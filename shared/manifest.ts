// Image configs and manifests, serialised deterministically: same inputs, same bytes, same digest.

import {
  indexMediaType,
  manifestMediaType,
  mediaTypes,
  type ManifestFlavour,
} from "./media-types.ts";
import { indexPlatform } from "./platform.ts";
import type { Architecture } from "./image-name.ts";
import type { Digest } from "./digest.ts";

export interface LayerDescriptor {
  /** sha256 of the gzip stream as stored. */
  digest: Digest;
  /** sha256 of the uncompressed tar. */
  diffId: Digest;
  /** Compressed size in bytes. */
  size: number;
}

export interface ImageConfigInput {
  arch: Architecture;
  layers: readonly LayerDescriptor[];
  env: readonly string[];
  cmd?: readonly string[];
  labels?: Readonly<Record<string, string>>;
  /** The config's `User` ("uid:gid") and `WorkingDir`; absent: root in `/`, as Docker's default. */
  user?: string;
  workingDir?: string;
}

const encoder = new TextEncoder();
const fixedCreated = "1970-01-01T00:00:01Z";

export function buildImageConfig(input: ImageConfigInput): Uint8Array<ArrayBuffer> {
  const config: Record<string, unknown> = { Env: [...input.env] };
  if (input.cmd) config.Cmd = [...input.cmd];
  if (input.labels && Object.keys(input.labels).length > 0) {
    config.Labels = Object.fromEntries(
      Object.entries(input.labels).sort(([a], [b]) => (a < b ? -1 : 1)),
    );
  }
  if (input.user) config.User = input.user;
  if (input.workingDir) config.WorkingDir = input.workingDir;
  // A fixed creation time (as the Nix store's mtimes) keeps the config reproducible; tools that
  // show an image's age or history (docker history, podman images) get well-formed values.
  return encoder.encode(
    JSON.stringify({
      created: fixedCreated,
      // The same platform fields as the image's entry in an index (variant v8 for arm64).
      ...indexPlatform(input.arch),
      config,
      rootfs: { type: "layers", diff_ids: input.layers.map((layer) => layer.diffId) },
      history: input.layers.map(() => ({ created: fixedCreated, created_by: "nixery-edge" })),
    }),
  );
}

export function buildManifest(
  flavour: ManifestFlavour,
  config: { digest: Digest; size: number },
  layers: readonly LayerDescriptor[],
): Uint8Array<ArrayBuffer> {
  const docker = flavour === "docker";
  const manifest = {
    schemaVersion: 2,
    mediaType: docker ? mediaTypes.dockerManifest : mediaTypes.ociManifest,
    config: {
      mediaType: docker ? mediaTypes.dockerConfig : mediaTypes.ociConfig,
      digest: config.digest,
      size: config.size,
    },
    layers: layers.map((layer) => ({
      mediaType: docker ? mediaTypes.dockerLayer : mediaTypes.ociLayer,
      digest: layer.digest,
      size: layer.size,
    })),
  };
  return encoder.encode(JSON.stringify(manifest, null, 2));
}

export interface IndexEntry {
  arch: Architecture;
  /** The platform's manifest of the index's flavour. */
  digest: Digest;
  size: number;
}

/**
 * An image index (OCI) or manifest list (Docker) over one image per platform, in the given order.
 * Its entries are manifests of the same flavour; each says its platform, which clients match.
 */
export function buildIndex(
  flavour: ManifestFlavour,
  entries: readonly IndexEntry[],
): Uint8Array<ArrayBuffer> {
  const index = {
    schemaVersion: 2,
    mediaType: indexMediaType[flavour],
    manifests: entries.map((entry) => ({
      mediaType: manifestMediaType[flavour],
      digest: entry.digest,
      size: entry.size,
      platform: indexPlatform(entry.arch),
    })),
  };
  return encoder.encode(JSON.stringify(index, null, 2));
}

/** The media type a stored manifest declares; manifests are served with exactly this type. */
export function manifestMediaTypeOf(bytes: Uint8Array): string | null {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (parsed && typeof parsed === "object" && "mediaType" in parsed) {
      const type = (parsed as { mediaType: unknown }).mediaType;
      return typeof type === "string" ? type : null;
    }
  } catch {
    return null;
  }
  return null;
}
