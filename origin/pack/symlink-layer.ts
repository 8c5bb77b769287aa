// The image's symlink layer, as Nixery builds it: the requested packages' top-level directories
// merged like Nix's buildEnv, plus /tmp, /usr/bin/env and a minimal /etc/passwd, group and nsswitch.
// A nonroot image's user lives here too (its /etc/passwd and /etc/group lines and its home), so
// that `nonroot/git` and `git` differ in this small top layer only.
//
// Merge rule, applied at every level: the providers of a name are, in order, the fixed entries
// (`tmp`, `usr/bin/env`), the packages in the given order, then the fallback /etc files. The first
// provider decides: a file or symlink (or a virtual leaf) wins outright; a directory merges with
// every later provider that is also a directory. For a nonroot image, /etc/passwd and /etc/group
// (with the user) and /home/nonroot are fixed entries: the user the config names always exists. A merged directory with a single on-disk
// provider becomes a symlink into the store (`bin -> /nix/store/…-hello/bin`); several providers
// make a real directory (0755) whose entries are merged the same way, as deep as needed. Symlinks
// to directories count as directories (as in buildEnv), and links point at the package's own path,
// so relative links inside packages keep working. `nix-support` at the top is Nix metadata and is
// left out. Output is depth first with names in byte order, so it is deterministic.

import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { nonrootUser } from "../../shared/image-name.ts";
import { compareBytes } from "./store-entries.ts";
import type { TarEntrySpec } from "./tar-entry.ts";

export interface SymlinkLayerOptions {
  /** Absolute path of an `env` binary (e.g. coreutils' bin/env) for `/usr/bin/env`; none when null. */
  envBinary?: string | null;
  /** Adds the `nonroot` user (shared/image-name.ts) with its home; absent or false: root only. */
  nonroot?: boolean;
}

/** A provider that is not on disk: an in-memory tree, or a leaf entry (file, symlink, directory). */
type Virtual = { kind: "tree"; children: Map<string, Virtual> } | { kind: "leaf"; entry: LeafSpec };
type LeafSpec = DistributiveOmit<TarEntrySpec, "name">;
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

type Provider = { kind: "disk"; path: string; isDirectory: boolean } | Virtual;

const mergedDirectoryMode = 0o755;
const etcFileMode = 0o644;
const excludedTopLevel = new Set(["nix-support"]);

export const etcFiles = {
  passwd: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/var/empty:/bin/false\n",
  group: "root:x:0:\nnobody:x:65534:\n",
  "nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
};

/** /etc/passwd and /etc/group of a nonroot image: root's files plus the user. */
export const nonrootEtcFiles = {
  passwd:
    etcFiles.passwd +
    `${nonrootUser.name}:x:${nonrootUser.uid}:${nonrootUser.gid}:${nonrootUser.name}:${nonrootUser.home}:/bin/sh\n`,
  group: etcFiles.group + `${nonrootUser.name}:x:${nonrootUser.gid}:\n`,
};

export async function symlinkLayerEntries(
  packageOutPaths: string[],
  options: SymlinkLayerOptions = {},
): Promise<TarEntrySpec[]> {
  const fixed = tree({ tmp: leaf({ type: "directory", mode: 0o1777 }) });
  if (options.envBinary) {
    fixed.children.set(
      "usr",
      tree({ bin: tree({ env: leaf({ type: "symlink", target: options.envBinary }) }) }),
    );
  }
  if (options.nonroot) {
    fixed.children.set("etc", etcTree(nonrootEtcFiles));
    const home = leaf({
      type: "directory",
      mode: 0o755,
      uid: nonrootUser.uid,
      gid: nonrootUser.gid,
    });
    fixed.children.set("home", tree({ [nonrootUser.home.slice("/home/".length)]: home }));
  }
  const fallback = tree({ etc: etcTree(etcFiles) });

  const packages: Provider[] = [];
  for (const path of new Set(packageOutPaths)) {
    // A package whose output is a single file has no directories to merge.
    if ((await stat(path)).isDirectory()) packages.push({ kind: "disk", path, isDirectory: true });
  }
  const entries: TarEntrySpec[] = [];
  await mergeDirectory("", [fixed, ...packages, fallback], entries);
  return entries;
}

/** Appends the merged contents of a directory whose providers are all directories. */
async function mergeDirectory(
  prefix: string,
  providers: Provider[],
  out: TarEntrySpec[],
): Promise<void> {
  const byName = new Map<string, Provider[]>();
  for (const provider of providers) {
    for (const [name, child] of await childrenOf(provider)) {
      if (prefix === "" && excludedTopLevel.has(name)) continue;
      const list = byName.get(name) ?? [];
      list.push(child);
      byName.set(name, list);
    }
  }
  for (const name of [...byName.keys()].sort(compareBytes)) {
    const [first, ...rest] = byName.get(name)!;
    const entryName = prefix === "" ? name : `${prefix}/${name}`;
    if (!first || !isDirectory(first)) {
      if (first) out.push(leafEntry(entryName, first));
      continue;
    }
    const directories = [first, ...rest.filter(isDirectory)];
    if (directories.length === 1 && first.kind === "disk") {
      out.push({ type: "symlink", name: entryName, target: first.path });
    } else {
      out.push({ type: "directory", name: entryName, mode: mergedDirectoryMode });
      await mergeDirectory(entryName, directories, out);
    }
  }
}

async function childrenOf(provider: Provider): Promise<[string, Provider][]> {
  if (provider.kind === "tree") return [...provider.children];
  if (provider.kind !== "disk") return [];
  const names = await readdir(provider.path);
  return Promise.all(
    names.map(async (name): Promise<[string, Provider]> => {
      const path = join(provider.path, name);
      // stat follows symlinks; a dangling link is a leaf.
      const isDirectory = await stat(path).then(
        (s) => s.isDirectory(),
        () => false,
      );
      return [name, { kind: "disk", path, isDirectory }];
    }),
  );
}

function isDirectory(provider: Provider): boolean {
  return provider.kind === "tree" || (provider.kind === "disk" && provider.isDirectory);
}

function leafEntry(name: string, provider: Provider): TarEntrySpec {
  if (provider.kind === "disk") return { type: "symlink", name, target: provider.path };
  if (provider.kind === "leaf") return { ...provider.entry, name };
  throw new Error(`unreachable: ${name} is a directory`);
}

function etcTree(files: Record<string, string>): Virtual {
  const children = new Map<string, Virtual>();
  for (const [name, text] of Object.entries(files)) {
    const bytes = new TextEncoder().encode(text);
    children.set(name, leaf({ type: "file", mode: etcFileMode, content: { bytes } }));
  }
  return { kind: "tree", children };
}

function tree(children: Record<string, Virtual>): Extract<Virtual, { kind: "tree" }> {
  return { kind: "tree", children: new Map(Object.entries(children)) };
}

function leaf(entry: LeafSpec): Virtual {
  return { kind: "leaf", entry };
}
