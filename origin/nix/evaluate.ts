// One strict evaluation of an attribute of nix/packages.nix, for the lookup (packages.ts) and the
// explanations (explain.ts) alike: the command, its flags, its time limit and the environment a
// flake's nixpkgs reads the origin's policy from. Below both, so neither calls back up.

import { NixBuildTimedOut } from "./errors.ts";
import { packagesExpression, type ExpressionOptions } from "./expression.ts";
import type { NixRunner, ProcessResult } from "./runner.ts";
import type { ResolvedSource } from "./source.ts";

export interface EvaluateOptions extends ExpressionOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

// Evaluation includes fetching a git commit or a channel tarball, which can take a while.
const defaultTimeoutMs = 300_000;

/**
 * What nixpkgs reads from the environment when its config does not say (nixpkgs' own switches):
 * a flake instantiates its nixpkgs itself, so the origin's policy reaches it only this way.
 */
function policyEnvironment(options: EvaluateOptions): Record<string, string> {
  const env: Record<string, string> = {};
  if (options.policy?.allowUnfree) env.NIXPKGS_ALLOW_UNFREE = "1";
  if (options.policy?.allowInsecure) env.NIXPKGS_ALLOW_INSECURE = "1";
  if (options.policy?.allowBroken) env.NIXPKGS_ALLOW_BROKEN = "1";
  return env;
}

/** Strictly evaluates one attribute of packages.nix for `names`; throws only on a timeout. */
export async function evaluatePackages(
  runner: NixRunner,
  source: ResolvedSource,
  names: readonly string[],
  system: string,
  attribute: "report" | "explain" | "rootPaths",
  options: EvaluateOptions,
): Promise<ProcessResult> {
  const { file, args } = packagesExpression(source, names, system, options);
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const result = await runner(
    "nix-instantiate",
    [
      "--eval",
      "--strict",
      "--json",
      // Read-write mode writes the .drv files of the report's derivations to the store, so the
      // build can realise them without evaluating the package set again.
      ...(attribute === "report" ? ["--read-write-mode"] : []),
      file,
      "-A",
      attribute,
      ...args,
    ],
    { timeoutMs, signal: options.signal, env: source.flake ? policyEnvironment(options) : {} },
  );
  if (result.timedOut) throw new NixBuildTimedOut(Math.round(timeoutMs / 1000), "evaluate");
  return result;
}
