// What goes into a layer tarball (TarEntrySpec), and the one place that turns an entry into a
// tar header with the fixed metadata that makes layers byte-for-byte reproducible.

import type { Header } from "tar-stream";

/** What `pack.entry()` takes. */
export type TarHeader = Partial<Header> & Pick<Header, "name">;

/** File content: streamed from a file on disk (whose size was taken when the entry was made), or bytes in memory. */
export type FileContent = { path: string; size: number } | { bytes: Uint8Array };

/**
 * One tar member. `name` is relative (no leading slash, no trailing slash, no `.`/`..` segments).
 * Everything is owned by root, except a directory that names an owner (a nonroot image's home).
 */
export type TarEntrySpec =
  | { type: "directory"; name: string; mode: number; uid?: number; gid?: number }
  | { type: "file"; name: string; mode: number; content: FileContent }
  | { type: "symlink"; name: string; target: string };

/**
 * Seconds since the epoch written as every entry's mtime: 1, as the Nix store does, so a layer
 * depends on content only.
 */
export const fixedMtimeSeconds = 1;

/**
 * Owner fields, written in every header: uid/gid 0 (unless a directory names its owner) and empty
 * uname/gname, so `tar -tv` shows `0/0`.
 */
const uid = 0;
const gid = 0;
const uname = "";
const gname = "";

const symlinkMode = 0o777;

export function contentSize(content: FileContent): number {
  return "bytes" in content ? content.bytes.byteLength : content.size;
}

/**
 * The tar-stream header for an entry. Directory names get their trailing slash here (tar-stream
 * does not add it). Names or link targets that do not fit ustar's fields (name > 100 bytes after
 * splitting into a 155-byte prefix, link target > 100 bytes, non-ASCII) make tar-stream write a pax
 * header holding only `path`/`linkpath`: no times, so it is deterministic too.
 */
export function tarHeader(entry: TarEntrySpec): TarHeader {
  checkName(entry.name);
  // Object literals, not spreads of a shared object: this runs once per file and spreads are slow.
  const mtime = new Date(fixedMtimeSeconds * 1000);
  switch (entry.type) {
    case "directory":
      return {
        name: `${entry.name}/`,
        type: "directory",
        mode: entry.mode,
        mtime,
        size: 0,
        uid: entry.uid ?? uid,
        gid: entry.gid ?? gid,
        uname,
        gname,
      };
    case "file": {
      const size = contentSize(entry.content);
      return {
        name: entry.name,
        type: "file",
        mode: entry.mode,
        mtime,
        size,
        uid,
        gid,
        uname,
        gname,
      };
    }
    case "symlink": {
      if (entry.target === "") throw new Error(`symlink ${entry.name} has an empty target`);
      const linkname = entry.target;
      return {
        name: entry.name,
        type: "symlink",
        mode: symlinkMode,
        mtime,
        size: 0,
        linkname,
        uid,
        gid,
        uname,
        gname,
      };
    }
  }
}

function checkName(name: string): void {
  const segments = name.split("/");
  if (
    name === "" ||
    segments.some((s) => s === "" || s === "." || s === "..") ||
    name.includes("\0")
  ) {
    throw new Error(`invalid tar entry name: ${JSON.stringify(name)}`);
  }
}
