// Which attribute of a flake failed, when the lookup's evaluation stopped with an error that
// `builtins.tryEval` cannot catch (a type error, an undefined variable, a broken flake.nix or
// lock file). Nix's message alone names neither the flake nor the attribute, so the origin asks
// again, narrower: first the flake's outputs (packages.<system>, legacyPackages.<system>), then
// each requested name alone, and names the first that fails. Only the failure path pays for
// this: at most one process for the outputs and `maxNames` for the names, one at a time.

import { typedPackageName } from "../../shared/image-name.ts";
import { NixEvalFailed } from "./errors.ts";
import { evalErrorMessage } from "./eval-error.ts";
import type { ProcessResult } from "./runner.ts";

/** Evaluates an attribute of packages.nix for some names (packages.ts' evaluate). */
export type FlakeCheck = (
  attribute: "report" | "rootPaths",
  names: readonly string[],
) => Promise<ProcessResult>;

const maxNames = 8;

export async function diagnoseFlakeFailure(
  check: FlakeCheck,
  flake: { lockedRef: string },
  names: readonly string[],
  system: string,
  stderr: readonly string[],
): Promise<NixEvalFailed> {
  const flakeName = `the flake ${flake.lockedRef}`;
  const outputs = await check("rootPaths", []);
  if (outputs.exitCode !== 0) {
    return new NixEvalFailed(
      evalErrorMessage(outputs.stderrTail),
      outputs.stderrTail,
      `${capitalise(flakeName)} (its outputs packages.${system} and legacyPackages.${system})`,
    );
  }
  for (const name of names.slice(0, maxNames)) {
    const alone = await check("report", [name]);
    if (alone.exitCode === 0) continue;
    return new NixEvalFailed(
      evalErrorMessage(alone.stderrTail),
      alone.stderrTail,
      `Nix package ${typedPackageName(name)} (looked up in packages.${system}, then legacyPackages.${system}) of ${flakeName}`,
    );
  }
  return new NixEvalFailed(evalErrorMessage(stderr), stderr, capitalise(flakeName));
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
