// How the origin calls nix/packages.nix: where the expression lives, the --argstr arguments
// (user text is only ever passed as a string argument, never spliced into Nix code), and how
// its evaluation errors read.

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type { ResolvedSource } from "./source.ts";

/** The repository's nix/ directory, found from this module's location. */
export const defaultNixDir = fileURLToPath(new URL("../../nix/", import.meta.url));

export interface ExpressionOptions {
  /** Directory holding packages.nix (default: the repository's nix/). */
  nixDir?: string;
}

/** The file and arguments that select `names` from the source, for nix-instantiate. */
export function packagesExpression(
  source: ResolvedSource,
  names: readonly string[],
  system: string,
  options: ExpressionOptions = {},
): { file: string; args: string[] } {
  return {
    file: join(options.nixDir ?? defaultNixDir, "packages.nix"),
    args: [
      ...source.nixArgs,
      "--argstr",
      "system",
      system,
      "--argstr",
      "names",
      JSON.stringify(names),
    ],
  };
}

/**
 * The useful part of a Nix error: from the first "error:" line (or git's "fatal:" line, which
 * comes before Nix's "program 'git' failed") on, without the --show-trace hint.
 */
export function evalErrorDetail(stderr: readonly string[]): string {
  const start = stderr.findIndex((line) => /^(error|fatal):/.test(line));
  const lines = (start >= 0 ? stderr.slice(start) : stderr)
    .filter((line) => !line.includes("--show-trace"))
    .map((line) => line.trim())
    .filter((line) => line !== "");
  return lines.join("\n").replace(/^error:\s*/, "") || "no error output";
}
