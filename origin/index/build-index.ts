// Builds the package index of one source revision: walks the package set chunk by chunk, one
// short nix-instantiate at a time, from the top level into every sub-set that index.nix names
// (python3Packages, xorg, …). Bounded: each chunk has a time limit and covers at most `chunkSize`
// attribute names, so no evaluation holds all of a large set's meta data at once, and processes
// run one after another (the origin's builds keep the other cores). Not fatal:
//
//   a sub-set that does not evaluate at all   recorded in `skippedSets`, the walk goes on
//   one attribute that fails uncatchably      recorded in `failedAttrs`, the chunk resumes after it
//   a chunk that times out                    its remaining names are recorded as one skip
//
// Entries are handed to `onEntries` as each chunk finishes, so nothing is held whole in memory.

import type { NixRunner } from "../nix/runner.ts";
import type { ResolvedSource } from "../nix/source.ts";
import { evaluateChunk, type IndexEntry } from "./index-chunk.ts";

export interface SkippedSet {
  /** The sub-set's attribute path, e.g. "haskellPackages". */
  set: string;
  error: string;
}

export interface FailedAttribute {
  attr: string;
  error: string;
}

export interface IndexBuildReport {
  packages: number;
  sets: number;
  chunks: number;
  skippedSets: SkippedSet[];
  failedAttrs: FailedAttribute[];
}

export interface BuildIndexOptions {
  system: string;
  chunkSize?: number;
  chunkTimeoutMs?: number;
  /** Attributes recorded as failed before the walk gives up on a set (it is then skipped). */
  maxFailuresPerSet?: number;
  signal?: AbortSignal;
  nixDir?: string;
  onEntries(entries: readonly IndexEntry[]): void;
}

const defaultChunkSize = 1500;
const defaultChunkTimeoutMs = 300_000;
const defaultMaxFailuresPerSet = 200;

export async function buildIndex(
  runner: NixRunner,
  source: ResolvedSource,
  options: BuildIndexOptions,
): Promise<IndexBuildReport> {
  const chunkSize = options.chunkSize ?? defaultChunkSize;
  const timeoutMs = options.chunkTimeoutMs ?? defaultChunkTimeoutMs;
  const maxFailures = options.maxFailuresPerSet ?? defaultMaxFailuresPerSet;
  const report: IndexBuildReport = {
    packages: 0,
    sets: 0,
    chunks: 0,
    skippedSets: [],
    failedAttrs: [],
  };
  const queue: string[][] = [[]];
  const seen = new Set<string>();
  for (let set = queue.shift(); set; set = queue.shift()) {
    const key = set.join(".");
    if (seen.has(key)) continue;
    seen.add(key);
    const shown = key || "(top level)";
    let total: number | null = null;
    let failures = 0;
    let skipped = false;
    // Ranges of the set's (sorted) attribute names still to read, next first. A failure at
    // attribute k of [a, b) leaves [a, k) (read fine before k, but its output is lost with the
    // process) and [k + 1, b): each attribute is read at most twice, whatever fails.
    const ranges: [number, number][] = [[0, chunkSize]];
    for (let range = ranges.shift(); range && !skipped; range = ranges.shift()) {
      const [start, end] = range;
      if (start >= end || (total !== null && start >= total)) continue;
      options.signal?.throwIfAborted();
      report.chunks++;
      const result = await evaluateChunk(
        runner,
        source,
        options.system,
        { set, offset: start, limit: end - start },
        { timeoutMs, signal: options.signal, nixDir: options.nixDir },
      );
      if (result.ok) {
        if (total === null) {
          // The first success; every range so far lies within the first chunk [0, chunkSize).
          total = result.total;
          for (let next = chunkSize; next < total; next += chunkSize)
            ranges.push([next, next + chunkSize]);
        }
        if (result.entries.length > 0) options.onEntries(result.entries);
        report.packages += result.entries.length;
        queue.push(...result.sets.map((name) => [...set, name]));
        continue;
      }
      // Failed before reading any attribute: the set itself does not evaluate (or a chunk
      // timed out, or too many of its attributes failed): skipped from here on, recorded.
      if (result.failedAt === null || result.timedOut || ++failures > maxFailures) {
        report.skippedSets.push({
          set: shown,
          error:
            start === 0 && result.failedAt === null
              ? result.error
              : `${result.error} (its attributes from number ${start} on were not indexed)`,
        });
        skipped = true;
        break;
      }
      report.failedAttrs.push({
        attr: [...set, result.failedAt.name].join("."),
        error: result.error,
      });
      const failedAt = result.failedAt.index;
      ranges.unshift([start, failedAt], [failedAt + 1, end]);
    }
    if (!skipped || total !== null) report.sets++;
  }
  return report;
}
