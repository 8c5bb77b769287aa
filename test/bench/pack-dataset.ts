// Deterministic benchmark data for layer packing: real binaries and text copied from the system
// (/usr/lib/x86_64-linux-gnu, /usr/share) into "packages" under a temporary directory, and a
// ≥ 1 GiB tree made of hard links to them (packed as regular files, so it costs no disk space).

import { copyFile, link, lstat, mkdir, readdir, readlink, symlink } from "node:fs/promises";
import { dirname, join, relative } from "node:path";

export interface Dataset {
  /** Absolute package directories, one layer each in the parallel benchmark. */
  packages: string[];
  /** Bytes of file content over all packages. */
  bytes: number;
  files: number;
}

interface Source {
  name: string;
  from: string;
}

const defaultSources: Source[] = [
  { name: "lib", from: "/usr/lib/x86_64-linux-gnu" },
  { name: "share", from: "/usr/share" },
];

/** Files larger than this are skipped so that one library does not make up a whole package. */
const maxFileBytes = 8 * 1024 * 1024;

/**
 * Copies about `packageBytes` of files into each of `perSource` packages per source, walking the
 * source depth first in byte order (so the same machine image always gives the same data).
 */
export async function buildDataset(
  into: string,
  packageBytes: number,
  perSource = 2,
): Promise<Dataset> {
  const dataset: Dataset = { packages: [], bytes: 0, files: 0 };
  for (const source of defaultSources) {
    let index = 0;
    let target = join(into, `${source.name}-${index}`);
    let filled = 0;
    dataset.packages.push(target);
    for await (const path of walkSorted(source.from)) {
      const stats = await lstat(path);
      if (stats.isFile() && stats.size > maxFileBytes) continue;
      if (!stats.isFile() && !stats.isSymbolicLink()) continue;
      if (filled >= packageBytes) {
        if (++index >= perSource) break;
        target = join(into, `${source.name}-${index}`);
        dataset.packages.push(target);
        filled = 0;
      }
      const copy = join(target, relative(source.from, path));
      await mkdir(dirname(copy), { recursive: true });
      if (stats.isSymbolicLink()) {
        await symlink(await readlink(path), copy);
      } else {
        await copyFile(path, copy);
        filled += stats.size;
        dataset.bytes += stats.size;
        dataset.files++;
      }
    }
  }
  return dataset;
}

/** A directory of at least `minBytes`: repeated hard-link copies of the dataset's files. */
export async function buildBigTree(
  dataset: Dataset,
  into: string,
  minBytes: number,
): Promise<number> {
  let total = 0;
  for (let copy = 0; total < minBytes; copy++) {
    for (const pkg of dataset.packages) {
      for await (const path of walkSorted(pkg)) {
        const stats = await lstat(path);
        if (!stats.isFile()) continue;
        const target = join(into, `copy-${copy}`, relative(dirname(pkg), path));
        await mkdir(dirname(target), { recursive: true });
        await link(path, target);
        total += stats.size;
        if (total >= minBytes) return total;
      }
    }
  }
  return total;
}

async function* walkSorted(dir: string): AsyncIterable<string> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return; // unreadable directories are not part of the dataset
  }
  names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    const path = join(dir, name);
    const stats = await lstat(path);
    if (stats.isDirectory()) yield* walkSorted(path);
    else yield path;
  }
}
