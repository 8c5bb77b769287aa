// What an image says about itself to the tools that read its config: labels (OCI's title,
// description, source and revision, and which derivation each requested package is) and one
// history entry per layer naming the packages in it, which `docker history` and `podman history`
// show. Everything here is a function of the build's inputs, so digests stay deterministic.

import type { ImageRequest } from "../../shared/image-name.ts";
import { publicSource } from "../../shared/web/source-display.ts";
import type { FoundPackage } from "../nix/packages.ts";
import type { ResolvedSource } from "../nix/source.ts";
import { storeName } from "./build-progress.ts";

/** `/nix/store/<hash>-hello-2.12.drv` → `hello-2.12`. */
export function derivationName(drvPath: string): string {
  return storeName(drvPath).replace(/\.drv$/, "");
}

/** Nix's split of a derivation name: the version starts at the first "-" followed by a digit. */
export function splitDerivationName(name: string): { pname: string; version: string | null } {
  const match = /-(?=[0-9])/.exec(name);
  if (!match) return { pname: name, version: null };
  return { pname: name.slice(0, match.index), version: name.slice(match.index + 1) };
}

export function imageLabels(
  image: ImageRequest,
  source: ResolvedSource,
  found: readonly FoundPackage[],
  packages: readonly string[],
): Record<string, string> {
  const labels: Record<string, string> = {
    "dev.nixery.packages": packages.join(" "),
    // attr=derivation name, e.g. "hello=hello-2.12": the image page's versions.
    "dev.nixery.derivations": found
      .map((pkg) => `${pkg.attrPath}=${derivationName(pkg.drvPath)}`)
      .join(" "),
    "org.opencontainers.image.title": image.name,
    "org.opencontainers.image.description": `Nix packages ${found
      .map((pkg) => derivationName(pkg.drvPath))
      .join(", ")}, built by nixery-edge`,
  };
  if (source.revision) labels["org.opencontainers.image.revision"] = source.revision;
  const url = publicSource(source.id, source.revision).url;
  if (url) labels["org.opencontainers.image.source"] = url;
  return labels;
}

const maxCreatedBy = 200;

/** One entry per store layer (its paths' names), then the symlink layer's. */
export function layerHistory(
  storeLayers: readonly (readonly string[])[],
  installed: readonly string[],
): { createdBy: string; comment: string }[] {
  const total = storeLayers.length + 1;
  const entries = storeLayers.map((paths, index) => ({
    createdBy: `nix store paths: ${shortList(paths.map(storeName))}`,
    comment: `nixery-edge layer ${index + 1} of ${total}`,
  }));
  entries.push({
    createdBy: `nixery-edge: symlinks of ${shortList([...new Set(installed)].map(storeName))} into /bin, /etc, …; /tmp, /usr/bin/env, /etc/passwd`,
    comment: `nixery-edge layer ${total} of ${total}`,
  });
  return entries;
}

function shortList(names: readonly string[]): string {
  let text = "";
  for (let i = 0; i < names.length; i++) {
    const next = text ? `${text}, ${names[i]}` : names[i]!;
    if (next.length > maxCreatedBy) return `${text} and ${names.length - i} more`;
    text = next;
  }
  return text;
}
