// What a failed `nix-store --realise` printed, read in the wording of every supported Nix:
//
//   failed builder   2.8, 2.26: error: builder for '/nix/store/…-x.drv' failed with exit code 1
//                    2.34:      error: Cannot build '/nix/store/…-x.drv'.
//                                      Reason: builder failed with exit code 1.
//   its dependents   2.8, 2.26: error: 1 dependencies of derivation '/nix/store/…-y.drv' failed to build
//                    2.34:      error: Cannot build '/nix/store/…-y.drv'.  Reason: 1 dependency failed.
//   a .drv is gone   2.8, 2.26: error: cannot build missing derivation '…drv' (or path '…drv' is not valid)
//                    2.34:      error: failed to obtain derivation of '…drv'
//                    2.26, when Nix's own auto-GC (min-free) runs as the build starts and deletes
//                    the derivations it was asked to build: `deleting '…drv'` lines, then
//                    nix-store: …derivation-goal.cc:…: loadDerivation(): Assertion `drv' failed.
//   a failed fetch   all:       [error: | nested error:] unable to download 'URL': reason
//   a binary cache   all:       warning: unable to download 'CACHE/nix-cache-info': reason
//
// Build logs (`nix-store --read-log`) of fetches are Nix's structured log (`@nix {"action":…}`
// lines); decodeBuildLog keeps their messages as text and drops the rest.

import { isTraceLine } from "./eval-error.ts";

export interface RealiseFailure {
  /** A .drv the lookup wrote that is no longer in the store (garbage-collected since). */
  gone: string | null;
  /** The derivation whose builder failed (the first one named). */
  failed: { drv: string; exitCode: number | null } | null;
  /**
   * Every derivation whose builder failed (with --keep-going Nix goes on after the first), with
   * the source download that made it fail, when Nix printed one just before it.
   */
  failures: {
    drv: string;
    exitCode: number | null;
    download: { url: string; error: string } | null;
  }[];
  /**
   * The requested derivations Nix says were not built (2.8 and 2.26 end with `error: build of
   * 'a.drv!out', 'b.drv!out' failed`); empty when it did not say.
   */
  notBuilt: string[];
  /** Derivations that were not built because a dependency failed. */
  dependents: string[];
  /** Derivations Nix said it would build (`these N derivations will be built:` and the list). */
  toBuild: string[];
  /** A source download that failed: the URL and Nix's reason. */
  download: { url: string; error: string } | null;
  /** Binary caches that could not be reached (their nix-cache-info did not download). */
  unreachableCaches: string[];
}

const ansi = /\x1b\[[0-9;]*[A-Za-z]/g;

export function parseRealiseFailure(stderr: readonly string[]): RealiseFailure {
  const lines = stderr.map((line) => line.replace(ansi, "").trimEnd());
  const result: RealiseFailure = {
    gone: null,
    failed: null,
    failures: [],
    notBuilt: [],
    dependents: [],
    toBuild: [],
    download: null,
    unreachableCaches: [],
  };
  let listing = false;
  const deletedDrvs: string[] = [];
  // The last final (not retried) download error, waiting for the builder failure it caused.
  let pendingDownload: { url: string; error: string } | null = null;
  const addFailure = (drv: string, exitCode: number | null) => {
    result.failed ??= { drv, exitCode };
    result.failures.push({ drv, exitCode, download: pendingDownload });
    pendingDownload = null;
  };
  lines.forEach((line, index) => {
    if (/^(these \d+ derivations|this derivation) will be built:$/.test(line)) {
      listing = true;
      return;
    }
    const listed = /^ {2}(\/nix\/store\/\S+\.drv)$/.exec(line);
    if (listing && listed) {
      result.toBuild.push(listed[1]!);
      return;
    }
    listing = false;

    const gone =
      /cannot build missing derivation '([^']+)'|path '([^']+\.drv)' is not valid|failed to obtain derivation of '([^']+)'/.exec(
        line,
      );
    if (gone) result.gone ??= gone[1] ?? gone[2] ?? gone[3]!;
    const deleted = /^deleting '(\/nix\/store\/[^']+\.drv)'$/.exec(line);
    if (deleted) deletedDrvs.push(deleted[1]!);
    if (/Assertion `drv' failed/.test(line)) {
      const ours = deletedDrvs.find((drv) => result.toBuild.includes(drv));
      result.gone ??= ours ?? deletedDrvs[0] ?? "a derivation (collected by Nix's auto-GC)";
    }

    const builder = /builder for '([^']+\.drv)' failed with exit code (\d+)/.exec(line);
    if (builder) addFailure(builder[1]!, Number(builder[2]));
    const notBuilt = /^error: build of (('[^']+\.drv(?:![^']*)?'(?:, )?)+) failed$/.exec(line);
    if (notBuilt) {
      for (const quoted of notBuilt[1]!.matchAll(/'([^'!]+\.drv)(?:![^']*)?'/g)) {
        result.notBuilt.push(quoted[1]!);
      }
    }
    const dependents = /\d+ dependencies of derivation '([^']+\.drv)' failed to build/.exec(line);
    if (dependents) result.dependents.push(dependents[1]!);
    const cannot = /^error: Cannot build '([^']+\.drv)'\.$/.exec(line);
    if (cannot) {
      const reason = lines.slice(index + 1, index + 3).find((next) => /^\s+Reason: /.test(next));
      const code = /builder failed with exit code (\d+)/.exec(reason ?? "");
      if (reason && /dependenc(y|ies) failed/.test(reason)) result.dependents.push(cannot[1]!);
      else addFailure(cannot[1]!, code ? Number(code[1]) : null);
    }

    const download = /^(?:\s*error: |error: )?unable to download '([^']+)': (.*)$/.exec(line);
    if (download && !download[1]!.endsWith("/nix-cache-info") && !/retrying in/.test(line)) {
      result.download ??= { url: download[1]!, error: download[2]!.trim() };
      pendingDownload = { url: download[1]!, error: download[2]!.trim() };
    }
    const cache = /unable to download '(\S+)\/nix-cache-info'/.exec(line);
    if (cache && !result.unreachableCaches.includes(cache[1]!)) {
      result.unreachableCaches.push(cache[1]!);
    }
  });
  return result;
}

/**
 * A build log as readable lines: Nix's structured lines become their message (`msg` actions)
 * or are dropped (progress and results), colours and control bytes go.
 */
export function decodeBuildLog(text: string): string[] {
  const lines: string[] = [];
  // Inside Nix's own error block (2.26+: a bare "error:", then an indented trace and message).
  let inNixError = false;
  const keep = (line: string) => {
    if (/^error:\s*$/.test(line)) {
      inNixError = true;
      return;
    }
    if (inNixError && !/^\s/.test(line)) inNixError = false;
    if (inNixError && isTraceLine(line)) return;
    if (line.trim() !== "") lines.push(inNixError ? line.trim() : line);
  };
  for (const raw of text.split("\n")) {
    if (!raw.startsWith("@nix {")) {
      keep(printable(raw));
      continue;
    }
    const event = parseEvent(raw.slice("@nix ".length));
    if (event?.action !== "msg" || typeof event.msg !== "string") continue;
    for (const line of event.msg.split("\n")) keep(printable(line));
    inNixError = false;
  }
  return lines;
}

function printable(line: string): string {
  return line
    .replace(ansi, "")
    .replace(/[\x00-\x08\x0b-\x1f\x7f]+/g, " ")
    .trimEnd();
}

function parseEvent(json: string): { action?: unknown; msg?: unknown } | null {
  try {
    const event: unknown = JSON.parse(json);
    return typeof event === "object" && event !== null ? event : null;
  } catch {
    return null;
  }
}

/**
 * nixpkgs' own fetchers run curl in a builder and log `error: cannot download NAME from any
 * mirror`; that is a failed download too.
 */
export function downloadFailureInLog(
  log: readonly string[],
): { url: string; error: string } | null {
  for (const line of [...log].reverse()) {
    const mirror = /cannot download (\S+) from any mirror/.exec(line);
    if (mirror) return { url: mirror[1]!, error: line.replace(/^error:\s*/, "").trim() };
  }
  return null;
}
