// How the origin calls nix/packages.nix: where the expression lives, the --argstr arguments
// (user text is only ever passed as a string argument, never spliced into Nix code), and one
// strict evaluation of one of its attributes, for the lookup (packages.ts) and the explanations
// (explain.ts) alike: the command, its flags, its time limit and the environment a flake's
// nixpkgs reads the origin's policy from. Below both, so neither calls back up.

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { NixBuildTimedOut } from "./errors.ts";
import type { NixRunner, ProcessResult } from "./runner.ts";
import type { ResolvedSource } from "./source.ts";

/** The repository's nix/ directory, found from this module's location. */
export const defaultNixDir = fileURLToPath(new URL("../../nix/", import.meta.url));

/**
 * What the package set's config lets through (nixpkgs refuses these unless allowed). Passed to
 * packages.nix as fixed "true"/"false" strings; set by the operator (NIXERY_ALLOW_UNFREE, …).
 */
export interface PackageSetPolicy {
  allowUnfree: boolean;
  allowInsecure: boolean;
  allowBroken: boolean;
}

export const defaultPolicy: PackageSetPolicy = {
  allowUnfree: false,
  allowInsecure: false,
  allowBroken: false,
};

export interface ExpressionOptions {
  /** Directory holding packages.nix (default: the repository's nix/). */
  nixDir?: string;
  /** Default: nothing unfree, insecure or broken. */
  policy?: PackageSetPolicy;
}

/** The file and arguments that select `names` from the source, for nix-instantiate. */
export function packagesExpression(
  source: ResolvedSource,
  names: readonly string[],
  system: string,
  options: ExpressionOptions = {},
): { file: string; args: string[] } {
  const policy = options.policy ?? defaultPolicy;
  return {
    file: join(options.nixDir ?? defaultNixDir, "packages.nix"),
    args: [
      ...source.nixOptions,
      ...source.nixArgs,
      ...["--argstr", "system", system],
      ...["--argstr", "names", JSON.stringify(names)],
      ...["--argstr", "allowUnfree", String(policy.allowUnfree)],
      ...["--argstr", "allowInsecure", String(policy.allowInsecure)],
      ...["--argstr", "allowBroken", String(policy.allowBroken)],
    ],
  };
}

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
