// Platforms an image is built for, as registries and clients spell them (`linux/arm64`), and the
// `platform` object of an image index entry. The origin builds a name without `arm64/` for every
// platform in NIXERY_PLATFORMS and answers with an index of them.

import type { Architecture } from "./image-name.ts";

/** An index entry's platform (OCI image spec; Docker manifest lists use the same fields). */
export interface IndexPlatform {
  architecture: Architecture;
  os: "linux";
  /** arm64 images are ARMv8 (the variant the OCI spec recommends and containerd normalises to). */
  variant?: "v8";
}

const known: Record<string, Architecture> = {
  "linux/amd64": "amd64",
  "linux/arm64": "arm64",
  "linux/arm64/v8": "arm64",
};

export function platformName(arch: Architecture): string {
  return `linux/${arch}`;
}

export function indexPlatform(arch: Architecture): IndexPlatform {
  return arch === "arm64"
    ? { architecture: arch, os: "linux", variant: "v8" }
    : { architecture: arch, os: "linux" };
}

/** Thrown for a platform list that names something this registry cannot build. */
export class InvalidPlatformList extends Error {
  override readonly name = "InvalidPlatformList";
}

/**
 * Parses a comma-separated list like `linux/amd64,linux/arm64` into architectures, in the order
 * given (the order of the index's entries), without duplicates.
 */
export function parsePlatformList(text: string): Architecture[] {
  const platforms: Architecture[] = [];
  for (const raw of text.split(",")) {
    const entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    const arch = known[entry];
    if (!arch) {
      throw new InvalidPlatformList(
        `unknown platform "${raw.trim().slice(0, 40)}": use linux/amd64 and/or linux/arm64`,
      );
    }
    if (!platforms.includes(arch)) platforms.push(arch);
  }
  if (platforms.length === 0) {
    throw new InvalidPlatformList("names no platform: use linux/amd64 and/or linux/arm64");
  }
  return platforms;
}
