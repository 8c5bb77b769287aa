// Which requested packages exist in the package set, found by evaluation only (nothing is
// built), so that every missing name can be reported at once before any work starts.

import { NixBuildTimedOut, NixEvalFailed } from "./errors.ts";
import { evalErrorDetail, packagesExpression } from "./expression.ts";
import type { ExpressionOptions } from "./expression.ts";
import type { NixRunner } from "./runner.ts";
import type { ResolvedSource } from "./source.ts";

export interface FoundPackage {
  /** The name as requested. */
  name: string;
  /** The attribute path it resolved to, e.g. "haskellPackages.pandoc" for "haskellpackages.pandoc". */
  attrPath: string;
  drvPath: string;
  /** The outputs that go into an image (meta.outputsToInstall, else the default output). */
  outputs: string[];
  outPaths: string[];
}

export interface PackageLookup {
  found: FoundPackage[];
  missing: string[];
  /** The set's coreutils output, for /usr/bin/env; null when the set has none. */
  coreutils: string | null;
}

export interface LookupOptions extends ExpressionOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

// Evaluation includes fetching a git commit or a channel tarball, which can take a while.
const defaultTimeoutMs = 300_000;

export async function lookupPackages(
  runner: NixRunner,
  source: ResolvedSource,
  names: readonly string[],
  system: string,
  options: LookupOptions = {},
): Promise<PackageLookup> {
  const { file, args } = packagesExpression(source, names, system, options);
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const result = await runner(
    "nix-instantiate",
    ["--eval", "--strict", "--json", file, "-A", "report", ...args],
    { timeoutMs, signal: options.signal },
  );
  if (result.timedOut) throw new NixBuildTimedOut(Math.round(timeoutMs / 1000), "evaluate");
  if (result.exitCode !== 0) throw new NixEvalFailed(evalErrorDetail(result.stderrTail));
  return parseReport(result.stdout);
}

function parseReport(stdout: string): PackageLookup {
  let report: unknown;
  try {
    report = JSON.parse(stdout);
  } catch {
    throw new NixEvalFailed(`packages.nix printed no JSON report: ${stdout.slice(0, 200)}`);
  }
  const { found, missing, coreutils } = report as {
    found: FoundPackage[];
    missing: string[];
    coreutils: string | null;
  };
  if (!Array.isArray(found) || !Array.isArray(missing)) {
    throw new NixEvalFailed("packages.nix printed a report of the wrong shape");
  }
  return { found, missing, coreutils: typeof coreutils === "string" ? coreutils : null };
}
