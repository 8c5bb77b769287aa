// The tar entries of a set of store paths: each path under its full name without the leading
// slash (`nix/store/<hash>-name/...`), preceded by its parent directories, with Nix-store metadata.
//
// What determines a layer's bytes, given the same files:
// - this walk: store paths sorted and deduplicated, each directory's entries in byte order of name
//   (depth first, like `tar --sort=name`); parents first (`nix/`, `nix/store/`, mode 0755);
//   directories 0555, files 0555 if any execute bit is set else 0444 (the Nix store's canonical
//   modes), symlinks as they are; hard links become regular files; other file types are refused;
// - tar-entry.ts: mtime 1, uid/gid 0, empty uname/gname, ustar headers, pax headers only for long
//   or non-ASCII names and link targets (path/linkpath only, never times);
// - tar-stream's header encoding (pinned at 3.2.2 in package.json);
// - the gzip stream: Node's bundled zlib (`process.versions.zlib`, Chromium's fork; 1.3.1-e00f703
//   in Node 20.20) at the given level; header with mtime 0, no file name, OS 3 (Unix). Deflate
//   output does not depend on how the input is split into writes (checked), but Chromium's zlib
//   is not stock zlib (its output differs from zlib 1.2.13's for the same tar) and can pick
//   CPU-specific code paths (its hash has used CRC32C where SSE4.2 or ARMv8 CRC exist). So the
//   digest is reproducible for one Node version on like CPUs (any x86-64 server); a Node upgrade
//   may change it. The diffId (sha256 of the tar) depends on none of this.

import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import { join, posix } from "node:path";
import type { TarEntrySpec } from "./tar-entry.ts";

export interface StoreEntriesOptions {
  /**
   * The directory the store lives under, like a Nix chroot store (`--store /srv/store` keeps
   * `/nix/store/x` at `/srv/store/nix/store/x`). Files are read from `root + path`; tar names and
   * symlink targets are unchanged. Default "/".
   */
  root?: string;
}

const parentMode = 0o755;
const directoryMode = 0o555;
const executableMode = 0o555;
const readOnlyMode = 0o444;

export async function* storePathEntries(
  paths: string[],
  options: StoreEntriesOptions = {},
): AsyncIterable<TarEntrySpec> {
  const root = options.root ?? "/";
  const sorted = sortStorePaths(paths);
  for (const parent of parentDirectories(sorted)) {
    yield { type: "directory", name: parent, mode: parentMode };
  }
  for (const path of sorted) {
    yield* walk(join(root, path), path.slice(1));
  }
}

/** Absolute, normalized, deduplicated, depth-first; a path inside another would be packed twice. */
function sortStorePaths(paths: string[]): string[] {
  for (const path of paths) {
    if (
      !path.startsWith("/") ||
      posix.normalize(path) !== path ||
      path === "/" ||
      path.endsWith("/")
    ) {
      throw new Error(`not an absolute normalized store path: ${JSON.stringify(path)}`);
    }
  }
  const sorted = [...new Set(paths)].sort(compareDepthFirst);
  for (let i = 1; i < sorted.length; i++) {
    // Depth-first order puts a path's descendants right after it.
    const previous = sorted[i - 1]!;
    if (sorted[i]!.startsWith(`${previous}/`))
      throw new Error(`store path ${sorted[i]} is inside ${previous}`);
  }
  return sorted;
}

/** Every ancestor directory of the paths (without the leading slash), parents before children. */
function parentDirectories(paths: string[]): string[] {
  const parents = new Set<string>();
  for (const path of paths) {
    const segments = path.slice(1).split("/");
    for (let i = 1; i < segments.length; i++) parents.add(segments.slice(0, i).join("/"));
  }
  return [...parents].sort(compareDepthFirst);
}

/**
 * Depth first with an explicit stack (nested generators would cost a hop per level per entry).
 * Metadata calls are synchronous: on cached inodes they take microseconds, while each async fs
 * call is a threadpool round trip costing tens of µs of CPU (see readSmallFile in pack-layer.ts).
 */
async function* walk(diskPath: string, name: string): AsyncIterable<TarEntrySpec> {
  const stack = [{ diskPath, name }];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const stats = lstatSync(next.diskPath);
    if (stats.isDirectory()) {
      yield { type: "directory", name: next.name, mode: directoryMode };
      const children = readdirSync(next.diskPath).sort(compareBytes).reverse();
      for (const child of children) {
        stack.push({ diskPath: join(next.diskPath, child), name: `${next.name}/${child}` });
      }
    } else if (stats.isFile()) {
      const mode = stats.mode & 0o111 ? executableMode : readOnlyMode;
      yield {
        type: "file",
        name: next.name,
        mode,
        content: { path: next.diskPath, size: stats.size },
      };
    } else if (stats.isSymbolicLink()) {
      yield { type: "symlink", name: next.name, target: readlinkSync(next.diskPath) };
    } else {
      throw new Error(`${next.diskPath}: cannot pack this file type (socket, FIFO or device)`);
    }
  }
}

/** Byte order of UTF-8 names (JavaScript's default sort compares UTF-16 code units, which differs). */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Depth-first order of paths: each directory's children sorted by name, as `walk` emits them. */
function compareDepthFirst(a: string, b: string): number {
  const as = a.split("/");
  const bs = b.split("/");
  for (let i = 0; i < Math.min(as.length, bs.length); i++) {
    const order = compareBytes(as[i]!, bs[i]!);
    if (order !== 0) return order;
  }
  return as.length - bs.length;
}
