// What an image says about itself to the tools that read its config: labels (OCI's title,
// description, source and revision, and which derivation each requested package is), one
// history entry per layer naming the packages in it, which `docker history` and `podman history`
// show, and the environment its programs start with (Env, the /usr/bin/env it links). Everything
// here is a function of the build's inputs, so digests stay deterministic.

import { access } from "node:fs/promises";
import { nonrootUser, type ImageRequest } from "../../shared/image-name.ts";
import { publicSource } from "../../shared/web/source-display.ts";
import type { FoundPackage } from "../nix/packages.ts";
import type { ResolvedSource } from "../nix/source.ts";

/** `/nix/store/<hash>-name` → `name`. */
export function storeName(path: string): string {
  return path.replace(/^.*\/[0-9a-z]{32}-/, "");
}

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

/**
 * The config's Env. PATH is always set: containerd (and so Kubernetes) adds its default PATH only
 * when Env is empty, so without it `ctr run IMAGE figlet` cannot find figlet. The symlink layer
 * merges the packages' bin and sbin into /bin and /sbin; the FHS directories come too, in the
 * order Docker and containerd use by default. A nonroot image sets HOME itself rather than rely on
 * the runtime looking the user's home up in /etc/passwd.
 */
export function imageEnv(
  packages: readonly string[],
  options: { nonroot?: boolean } = {},
): string[] {
  const env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];
  if (options.nonroot) env.push(`HOME=${nonrootUser.home}`);
  if (packages.includes("cacert")) env.push("SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt");
  return env;
}

/** `/usr/bin/env` points at the first requested output that has bin/env (coreutils first). */
export async function findEnvBinary(candidates: string[]): Promise<string | null> {
  for (const candidate of candidates) {
    const path = `${candidate}/bin/env`;
    try {
      await access(path);
      return path;
    } catch {
      continue;
    }
  }
  return null;
}
