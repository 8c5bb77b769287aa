// How the origin calls nix/packages.nix: where the expression lives and the --argstr arguments
// (user text is only ever passed as a string argument, never spliced into Nix code).

import { fileURLToPath } from "node:url";
import { join } from "node:path";
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
