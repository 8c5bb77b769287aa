// One evaluation of nix/index.nix: the packages of one chunk of one (sub-)set of the package
// set. Nix cannot catch every error inside an evaluation (importing a missing file ends it), so
// index.nix announces each attribute before it reads it; when the evaluation fails, the last
// announced index says which attribute failed, and the caller steps over it.

import { join } from "node:path";
import { evalErrorMessage } from "../nix/eval-error.ts";
import { defaultNixDir } from "../nix/expression.ts";
import type { NixRunner } from "../nix/runner.ts";
import type { PackageResult } from "../../shared/package-api.ts";
import type { ResolvedSource } from "../nix/source.ts";

/** One package of the index, as index.nix reports it: the API's result before its image name. */
export type IndexEntry = Omit<PackageResult, "image">;

export type ChunkResult =
  | { ok: true; total: number; entries: IndexEntry[]; sets: string[] }
  /** `failedAt`: the attribute being read when it failed (its index and name); null: before any. */
  | {
      ok: false;
      failedAt: { index: number; name: string } | null;
      error: string;
      timedOut: boolean;
    };

export interface ChunkRequest {
  set: readonly string[];
  offset: number;
  limit: number;
}

export async function evaluateChunk(
  runner: NixRunner,
  source: ResolvedSource,
  system: string,
  chunk: ChunkRequest,
  options: { timeoutMs: number; signal?: AbortSignal; nixDir?: string },
): Promise<ChunkResult> {
  const result = await runner(
    "nix-instantiate",
    [
      "--eval",
      "--strict",
      "--json",
      ...source.nixOptions,
      join(options.nixDir ?? defaultNixDir, "index.nix"),
      ...source.nixArgs,
      ...["--argstr", "system", system],
      ...["--argstr", "set", JSON.stringify(chunk.set)],
      ...["--argstr", "offset", String(chunk.offset)],
      ...["--argstr", "limit", String(chunk.limit)],
    ],
    // Counted apart from the builds' evaluations (/metrics, and tests that count those).
    { timeoutMs: options.timeoutMs, signal: options.signal, countAs: "nix-instantiate index" },
  );
  if (result.exitCode === 0 && !result.timedOut) {
    const parsed = parseChunk(result.stdout);
    if (parsed) return { ok: true, ...parsed };
  }
  return {
    ok: false,
    failedAt: lastAnnounced(result.stderrTail),
    error: result.timedOut
      ? `evaluation took longer than ${Math.round(options.timeoutMs / 1000)} s`
      : evalErrorMessage(result.stderrTail.filter((line) => !line.startsWith("trace: "))),
    timedOut: result.timedOut,
  };
}

function lastAnnounced(stderr: readonly string[]): { index: number; name: string } | null {
  for (const line of [...stderr].reverse()) {
    const match = /^trace: nixery-index (\d+) (.*)$/.exec(line.trimEnd());
    if (match) return { index: Number(match[1]), name: match[2]! };
  }
  return null;
}

function parseChunk(
  stdout: string,
): { total: number; entries: IndexEntry[]; sets: string[] } | null {
  try {
    const value = JSON.parse(stdout) as { total?: unknown; entries?: unknown; sets?: unknown };
    if (
      typeof value.total !== "number" ||
      !Array.isArray(value.entries) ||
      !Array.isArray(value.sets)
    ) {
      return null;
    }
    return {
      total: value.total,
      entries: value.entries as IndexEntry[],
      sets: value.sets.filter((set): set is string => typeof set === "string"),
    };
  } catch {
    return null;
  }
}
