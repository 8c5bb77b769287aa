// Which requested packages exist in the package set, found by evaluation only (nothing is
// built), so that every missing name can be reported at once before any work starts.

import { NixEvalFailed } from "./errors.ts";
import { evalErrorMessage, type Refusal } from "./eval-error.ts";
import { evaluatePackages, type EvaluateOptions } from "./expression.ts";
import { diagnoseFlakeFailure } from "./flake-diagnosis.ts";
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

/** A name that exists but throws when evaluated (unfree, broken, insecure, or a bad attribute). */
export interface FailedPackage {
  name: string;
  /** The check of the package set's config that refused it (from its meta); null: another error. */
  reason: Refusal | null;
  /** Every check that refuses it, `reason` first (e.g. unfree and broken); absent: unknown. */
  reasons?: Refusal[];
  drvName: string | null;
  vulnerabilities: string[];
  /**
   * Set when looking the name up stops Nix with an error no tryEval catches (in nixpkgs: a
   * sub-set whose files are missing): Nix's message, cleaned for clients.
   */
  error?: string;
  /** The first part of the name, when that alone does not evaluate either (the sub-set at fault). */
  subSet?: string;
  /** Its full attribute path, e.g. "legacyPackages.x86_64-linux.foo" in a flake. */
  where?: string;
}

export interface PackageLookup {
  found: FoundPackage[];
  missing: string[];
  failed: FailedPackage[];
  /** The set's coreutils output, for /usr/bin/env; null when the set has none. */
  coreutils: string | null;
}

export async function lookupPackages(
  runner: NixRunner,
  source: ResolvedSource,
  names: readonly string[],
  system: string,
  options: EvaluateOptions = {},
): Promise<PackageLookup> {
  const result = await evaluatePackages(runner, source, names, system, "report", options);
  if (result.exitCode === 0) return parseReport(result.stdout);
  if (source.flake) {
    // Name the flake and the attribute that failed (this costs more Nix processes).
    const check = (attribute: "report" | "rootPaths", only: readonly string[]) =>
      evaluatePackages(runner, source, only, system, attribute, options);
    throw await diagnoseFlakeFailure(check, source.flake, names, system, result.stderrTail);
  }
  const failure = new NixEvalFailed(evalErrorMessage(result.stderrTail), result.stderrTail);
  if (names.length === 0) throw failure;
  // Is it the package set or some of the names? A set that evaluates without names is fine, and
  // the names are looked up again in halves until each one that fails is alone.
  const bare = await evaluatePackages(runner, source, [], system, "report", options);
  if (bare.exitCode !== 0) throw failure;
  return isolateFailures(runner, source, names, system, options);
}

/**
 * Looks `names` up in groups, halving a group that stops Nix, so that one name whose sub-set
 * does not evaluate (e.g. `haskellpackages.pandoc` where haskellPackages' files are missing) is
 * reported on its own, and every other name is still resolved. Costs one evaluation per group.
 */
async function isolateFailures(
  runner: NixRunner,
  source: ResolvedSource,
  names: readonly string[],
  system: string,
  options: EvaluateOptions,
): Promise<PackageLookup> {
  const merged: PackageLookup = { found: [], missing: [], failed: [], coreutils: null };
  const pending: (readonly string[])[] = [
    names.slice(0, Math.ceil(names.length / 2)),
    names.slice(Math.ceil(names.length / 2)),
  ];
  for (let group = pending.shift(); group; group = pending.shift()) {
    if (group.length === 0) continue;
    const result = await evaluatePackages(runner, source, group, system, "report", options);
    if (result.exitCode === 0) {
      const part = parseReport(result.stdout);
      merged.found.push(...part.found);
      merged.missing.push(...part.missing);
      merged.failed.push(...part.failed);
      merged.coreutils ??= part.coreutils;
      continue;
    }
    if (group.length > 1) {
      const half = Math.ceil(group.length / 2);
      pending.unshift(group.slice(0, half), group.slice(half));
      continue;
    }
    const name = group[0]!;
    const first = name.split(".")[0]!;
    let subSet: string | undefined;
    if (first !== name) {
      const prefix = await evaluatePackages(runner, source, [first], system, "report", options);
      if (prefix.exitCode !== 0) subSet = first;
    }
    merged.failed.push({
      name,
      reason: null,
      drvName: null,
      vulnerabilities: [],
      error: evalErrorMessage(result.stderrTail),
      ...(subSet ? { subSet } : {}),
    });
  }
  // In the order asked for, as a single evaluation reports them.
  const order = (name: string) => names.indexOf(name);
  merged.found.sort((a, b) => order(a.name) - order(b.name));
  merged.failed.sort((a, b) => order(a.name) - order(b.name));
  merged.missing.sort((a, b) => order(a) - order(b));
  return merged;
}

function parseReport(stdout: string): PackageLookup {
  let report: unknown;
  try {
    report = JSON.parse(stdout);
  } catch {
    throw new NixEvalFailed(`packages.nix printed no JSON report: ${stdout.slice(0, 200)}`);
  }
  const { found, missing, failed, coreutils } = report as {
    found: FoundPackage[];
    missing: string[];
    failed: FailedPackage[];
    coreutils: string | null;
  };
  if (!Array.isArray(found) || !Array.isArray(missing) || !Array.isArray(failed)) {
    throw new NixEvalFailed("packages.nix printed a report of the wrong shape");
  }
  return { found, missing, failed, coreutils: typeof coreutils === "string" ? coreutils : null };
}
