// Why requested packages do not evaluate, at a bounded cost. A refusal that the package's meta
// names (nixpkgs' check-meta: unfree, insecure, broken, unsupported) costs nothing: the lookup
// reported it. Any other throw needs a nix-instantiate of its own (builtins.tryEval drops the
// message, and after the first uncaught throw Nix evaluates nothing more), and on a large set each
// one costs an import of the whole set (nixpkgs: seconds and hundreds of MB). So one build
// explains at most `perBuild` names, one after another, and all builds together run at most as
// many explanations at once as `slots` allows; the rest are listed without a reason.
// Measured (test/bench/explain-storm.ts, 32 throwing names): before, 32 processes at once.

import type { UnevaluablePackage } from "./lookup-errors.ts";
import { hideServerPaths, parseRefusal, rawEvalMessage } from "./eval-error.ts";
import { evaluatePackages, type EvaluateOptions } from "./expression.ts";
import type { FailedPackage } from "./packages.ts";
import type { NixRunner } from "./runner.ts";
import type { ResolvedSource } from "./source.ts";

/** A shared bound on explanations running at once (the builder's Limiter fits). */
export interface ExplainSlots {
  run<T>(task: () => Promise<T>): Promise<T>;
}

export interface ExplainOptions extends EvaluateOptions {
  slots: ExplainSlots;
  /** Names explained with a Nix process of their own, per call (default 5). */
  perBuild?: number;
  /** Receives what Nix printed for each explained name (for the origin's log only). */
  onNixOutput?: (name: string, output: readonly string[]) => void;
}

export const defaultExplainedPerBuild = 5;

export async function explainFailures(
  runner: NixRunner,
  source: ResolvedSource,
  failed: readonly FailedPackage[],
  system: string,
  options: ExplainOptions,
): Promise<UnevaluablePackage[]> {
  const perBuild = options.perBuild ?? defaultExplainedPerBuild;
  let explained = 0;
  const result: UnevaluablePackage[] = [];
  for (const pkg of failed) {
    if (pkg.reason !== null) {
      result.push({
        name: pkg.name,
        reason: pkg.reason,
        ...(pkg.reasons && pkg.reasons.length > 1
          ? { otherReasons: pkg.reasons.filter((reason) => reason !== pkg.reason) }
          : {}),
        drvName: pkg.drvName,
        vulnerabilities: pkg.vulnerabilities,
      });
      continue;
    }
    if (pkg.error !== undefined) {
      result.push({
        name: pkg.name,
        reason: "error",
        error: pkg.error,
        ...(pkg.subSet ? { subSet: pkg.subSet } : {}),
      });
      continue;
    }
    if (explained >= perBuild) {
      result.push({ name: pkg.name, reason: "unexplained" });
      continue;
    }
    explained++;
    const { message, nixOutput } = await options.slots.run(() =>
      explainPackage(runner, source, pkg.name, system, options),
    );
    options.onNixOutput?.(pkg.name, nixOutput);
    // A free package can fail on a refused dependency: Nix's message names the dependency.
    const refusal = parseRefusal(message);
    result.push(
      refusal
        ? {
            name: pkg.name,
            reason: refusal.reason,
            drvName: refusal.drvName,
            dependency: pkg.drvName !== null && refusal.drvName !== pkg.drvName,
          }
        : {
            name: pkg.name,
            reason: "error",
            error: hideServerPaths(message),
            ...(source.flake && pkg.where
              ? { where: `${pkg.where} of the flake ${source.flake.lockedRef}` }
              : {}),
          },
    );
  }
  return result;
}

/**
 * Why a package that the lookup reported `failed` does not evaluate: Nix's own error message,
 * cleaned for a registry client (for nixpkgs e.g. "Package 'x' has an unfree license…").
 * One nix-instantiate per name: after the first throw Nix evaluates nothing more.
 */
async function explainPackage(
  runner: NixRunner,
  source: ResolvedSource,
  name: string,
  system: string,
  options: EvaluateOptions,
): Promise<{ message: string; nixOutput: string[] }> {
  const result = await evaluatePackages(runner, source, [name], system, "explain", options);
  if (result.exitCode === 0) {
    return { message: "it evaluated when asked again (has the source changed?)", nixOutput: [] };
  }
  const message = rawEvalMessage(result.stderrTail) || "no error output";
  return { message, nixOutput: result.stderrTail };
}
