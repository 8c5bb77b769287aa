// The runtime closure of a set of store paths as a graph: every path with its references and
// NAR size, read in one `nix path-info --json --recursive` call (per-path queries are ~50x
// slower). Sorted by path so that the same closure always yields the same list.

import { NixEvalFailed } from "./errors.ts";
import { evalErrorDetail } from "./expression.ts";
import type { NixRunner } from "./runner.ts";

export interface StorePathInfo {
  path: string;
  /** Store paths this one refers to at run time (sorted; may include itself). */
  references: string[];
  narSize: number;
  /** e.g. "sha256-…" (SRI form, as Nix 2.8 prints it). */
  narHash: string;
}

/** Nix 2.8 prints a JSON array of these; invalid paths appear as {path, valid: false}. */
interface PathInfoJson {
  path: string;
  valid?: boolean;
  references?: string[];
  narSize?: number;
  narHash?: string;
}

export async function readClosure(
  runner: NixRunner,
  outPaths: readonly string[],
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<StorePathInfo[]> {
  if (outPaths.length === 0) return [];
  // `nix path-info` is part of the new CLI, experimental in Nix 2.8: enabled for this call only,
  // so the host's Nix configuration need not enable it.
  const args = [
    "--extra-experimental-features",
    "nix-command",
    "path-info",
    "--json",
    "--recursive",
  ];
  const result = await runner("nix", [...args, ...outPaths], {
    timeoutMs: options.timeoutMs ?? 60_000,
    signal: options.signal,
  });
  if (result.exitCode !== 0 || result.timedOut) {
    throw new NixEvalFailed(`nix path-info failed: ${evalErrorDetail(result.stderrTail)}`);
  }

  const infos = JSON.parse(result.stdout) as PathInfoJson[];
  const invalid = infos.filter((info) => info.valid === false).map((info) => info.path);
  if (invalid.length > 0) {
    throw new NixEvalFailed(`not valid in the Nix store: ${invalid.join(", ")}`);
  }
  return infos
    .map((info) => ({
      path: info.path,
      references: [...(info.references ?? [])].sort(),
      narSize: info.narSize ?? 0,
      narHash: info.narHash ?? "",
    }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
