// Image names as Nixery reads them: each path component is a package, `shell`, `arm64` and
// `nonroot` are meta-packages recognised only at the front, `cacert` and `iana-etc` are always added, and the
// list is sorted so that order does not matter. Also the registry's name and tag grammar.

import { RegistryError } from "./errors.ts";

export type Architecture = "amd64" | "arm64";

export const nixSystems: Record<Architecture, string> = {
  amd64: "x86_64-linux",
  arm64: "aarch64-linux",
};

/** What the `shell` meta-package expands to (Nixery's list). */
export const shellPackages = ["bashInteractive", "coreutils", "moreutils", "nano"] as const;
/**
 * Packages every image gets, so TLS and service names work. Unless named in the image, they are
 * optional: a package set that lacks them (a small private set) still builds images, without them.
 */
export const alwaysIncluded = ["cacert", "iana-etc"] as const;
export const metaPackages = ["shell", "arm64", "nonroot"] as const;

/**
 * The user a `nonroot/…` image runs as. 65532 is distroless' `nonroot` user (also what ko and
 * chainguard images use), so policies written for those images accept these: a number outside
 * the ranges distributions hand out (system users below 1000, people from 1000, `nobody` 65534),
 * and `User` is given as numbers because Kubernetes' runAsNonRoot can only check a numeric user.
 */
export const nonrootUser = {
  name: "nonroot",
  uid: 65532,
  gid: 65532,
  home: "/home/nonroot",
} as const;

export interface ImageRequest {
  /** The repository name as requested. */
  name: string;
  /** The architecture to build when one platform is built (amd64 unless the name says `arm64/`). */
  arch: Architecture;
  /**
   * True when the name chose the architecture (`arm64/…`): that one platform is built. Otherwise
   * the origin builds each of its platforms (NIXERY_PLATFORMS) and answers with an index.
   */
  archNamed: boolean;
  /** Sorted, de-duplicated attribute paths (dot-separated) to look up in the package set. */
  packages: string[];
  /** Those of `packages` that were added implicitly (not named): left out if the set lacks them. */
  optional: string[];
  /** True for `nonroot/…`: the image runs as `nonrootUser` instead of root. */
  nonroot: boolean;
}

const componentPattern = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const maxNameLength = 255;

export function isValidTag(tag: string): boolean {
  return tagPattern.test(tag);
}

export function assertValidTag(tag: string): void {
  if (!isValidTag(tag)) {
    throw new RegistryError(
      "TAG_INVALID",
      `invalid tag "${truncate(tag)}": a tag is 1-128 characters of [A-Za-z0-9_.-] and does not start with "." or "-"`,
    );
  }
}

/** Registry name grammar (OCI distribution spec), with a message that says what is wrong. */
export function assertValidName(name: string): void {
  if (name.length === 0) throw new RegistryError("NAME_INVALID", "repository name is empty");
  if (name.length > maxNameLength) {
    throw new RegistryError(
      "NAME_INVALID",
      `repository name is ${name.length} characters long; the limit is ${maxNameLength}`,
    );
  }
  for (const component of name.split("/")) {
    if (!componentPattern.test(component)) {
      const lower = component.toLowerCase();
      if (lower !== component && componentPattern.test(lower)) {
        const whole = name.toLowerCase();
        throw new RegistryError(
          "NAME_INVALID",
          `invalid repository name component "${truncate(component)}": registry names are lowercase; use "${truncate(lower)}" (packages are found whatever their case, so "${truncate(whole)}" names the same image)`,
          { lowercase: whole },
        );
      }
      throw new RegistryError(
        "NAME_INVALID",
        `invalid repository name component "${truncate(component)}": use lowercase letters, digits and single separators (".", "_", "__", "-")`,
      );
    }
  }
}

/** Nix attribute names cannot start with a digit; nixpkgs prefixes such names with "_". */
function toAttributePath(component: string): string {
  return component
    .split(".")
    .map((part) => (/^[0-9]/.test(part) ? `_${part}` : part))
    .join(".");
}

/**
 * The image-name spelling of an attribute path, as the user typed it: `_1password` → `1password`
 * (the inverse of toAttributePath; a typed component never starts with "_", so it is exact).
 */
export function typedPackageName(attributePath: string): string {
  return attributePath
    .split(".")
    .map((part) => part.replace(/^_(?=[0-9])/, ""))
    .join(".");
}

export function parseImageName(name: string): ImageRequest {
  assertValidName(name);
  const components = name.split("/");
  let arch: Architecture = "amd64";
  let archNamed = false;
  let nonroot = false;
  const wanted: string[] = [];
  let index = 0;
  for (; index < components.length; index++) {
    const component = components[index]!;
    if (component === "shell") wanted.push(...shellPackages);
    else if (component === "arm64") {
      arch = "arm64";
      archNamed = true;
    } else if (component === "nonroot") nonroot = true;
    else break;
  }
  for (const component of components.slice(index)) wanted.push(toAttributePath(component));
  const optional = alwaysIncluded.filter((pkg) => !wanted.includes(pkg));
  const packages = [...new Set([...wanted, ...alwaysIncluded])].sort();
  return { name, arch, archNamed, packages, optional, nonroot };
}

/**
 * A name that is the same for every spelling of one image (`git/htop` and `htop/git`):
 * architecture (with `+nonroot` for a nonroot image) plus the sorted package list. Used in cache
 * and storage keys; a root image's name is what it was before `nonroot` existed, and `+` is in no
 * package name, so `nonroot/git` and `git/nonroot` (the package `nonroot`) never meet.
 */
export function canonicalImageName(image: ImageRequest): string {
  return [imageVariant(image), ...image.packages].join("/");
}

/** The architecture, marked `+nonroot` for a nonroot image: what besides the packages makes an image. */
export function imageVariant(image: Pick<ImageRequest, "arch" | "nonroot">): string {
  return image.nonroot ? `${image.arch}+nonroot` : image.arch;
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
