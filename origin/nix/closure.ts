// The runtime closure of a set of store paths as a graph: every path with its references and
// NAR size, read in one `nix path-info --json --recursive` call (per-path queries are ~50x
// slower). Sorted by path so that the same closure always yields the same list.
//
// The JSON differs by Nix version (recorded in test/fixtures/nix-output/<version>/path-info*):
//   2.8          an array of {path, narHash, narSize, references, …}
//   2.19 – 2.32  an object keyed by store path, no `path` field (2.26 recorded)
//   2.33+        `--json-format 1` (without it: a deprecation warning, later an error): the same
//                object with `storeDir` and `version: 1` in each entry; format 2 nests the
//                entries under `info`, keyed by base name — read too, should a Nix print it
// A path that is not in the store makes every version tested exit 1 with `path '…' is not
// valid`; should one be printed anyway (2.8 as {path, valid: false}, the object forms as null),
// it is rejected the same way.

import { NixCommandFailed } from "./errors.ts";
import { evalErrorMessage } from "./eval-error.ts";
import type { NixRunner } from "./runner.ts";
import { pathInfoFormatArgs, type NixVersion } from "./version.ts";

export interface StorePathInfo {
  path: string;
  /** Store paths this one refers to at run time (sorted; may include itself). */
  references: string[];
  narSize: number;
  /** As Nix prints it (SRI "sha256-…" in the versions tested). */
  narHash: string;
}

interface PathInfoJson {
  path?: string;
  valid?: boolean;
  references?: string[];
  narSize?: number;
  narHash?: string | { algorithm?: string; hash?: string };
}

export interface ClosureOptions {
  /** The Nix in use (decides `--json-format`); from detectNix at start. */
  version: NixVersion;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export async function readClosure(
  runner: NixRunner,
  outPaths: readonly string[],
  options: ClosureOptions,
): Promise<StorePathInfo[]> {
  if (outPaths.length === 0) return [];
  // `nix path-info` is part of the new CLI, experimental in Nix 2.8: enabled for this call only,
  // so the host's Nix configuration need not enable it.
  const args = [
    "--extra-experimental-features",
    "nix-command",
    "path-info",
    "--json",
    ...pathInfoFormatArgs(options.version),
    "--recursive",
  ];
  const result = await runner("nix", [...args, ...outPaths], {
    timeoutMs: options.timeoutMs ?? 60_000,
    signal: options.signal,
  });
  if (result.exitCode !== 0 || result.timedOut) {
    const detail = result.timedOut ? "timed out" : evalErrorMessage(result.stderrTail);
    throw new NixCommandFailed("Reading the closure (nix path-info)", detail, result.stderrTail);
  }
  return parsePathInfo(result.stdout);
}

/** Parses `nix path-info --json` output of any supported version; rejects invalid paths. */
export function parsePathInfo(stdout: string): StorePathInfo[] {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    throw new NixCommandFailed("Reading the closure (nix path-info)", "its output is not JSON");
  }
  const entries = pathInfoEntries(json);
  const invalid = entries.filter(([, info]) => info === null || info.valid === false);
  if (invalid.length > 0) {
    throw new NixCommandFailed(
      "Reading the closure (nix path-info)",
      `not valid in the Nix store: ${invalid.map(([path]) => path).join(", ")}`,
    );
  }
  return entries
    .map(([path, info]) => ({
      path,
      references: [...(info!.references ?? [])].map((ref) => storePath(ref, json)).sort(),
      narSize: info!.narSize ?? 0,
      narHash: hashText(info!.narHash),
    }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** [store path, info or null] for each shape: array (2.8), object (2.19+), format 2 (2.33+). */
function pathInfoEntries(json: unknown): [string, PathInfoJson | null][] {
  if (Array.isArray(json)) {
    return (json as PathInfoJson[]).map((info) => [info.path ?? "", info]);
  }
  if (typeof json !== "object" || json === null) {
    throw new NixCommandFailed("Reading the closure (nix path-info)", "unexpected JSON");
  }
  const object = json as Record<string, unknown>;
  if (object.version === 2 && typeof object.info === "object" && object.info !== null) {
    return Object.entries(object.info as Record<string, PathInfoJson | null>).map(
      ([name, info]) => [storePath(name, json), info],
    );
  }
  return Object.entries(object as Record<string, PathInfoJson | null>);
}

/** Format 2 names paths by base name; the others by full path. */
function storePath(name: string, json: unknown): string {
  if (name.startsWith("/")) return name;
  const storeDir = (json as { storeDir?: unknown }).storeDir;
  return `${typeof storeDir === "string" ? storeDir : "/nix/store"}/${name}`;
}

function hashText(hash: PathInfoJson["narHash"]): string {
  if (typeof hash === "string") return hash;
  if (hash && typeof hash.hash === "string") return hash.hash;
  return "";
}
