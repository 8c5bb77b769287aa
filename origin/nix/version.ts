// Which Nix the origin drives, found once at start: the version decides the flags of commands
// whose interface changed (`nix path-info --json-format`, `nix config show`), and the binary
// caches it is configured with go into the message of a build that had to download sources.
// Supported: 2.8 (Debian 12) through 2.34 (Debian sid); README.md says how each is tested.

import type { NixRunner } from "./runner.ts";

export interface NixVersion {
  major: number;
  minor: number;
  patch: number;
  /** As printed, e.g. "2.26.3". */
  text: string;
}

export interface NixInstallation {
  version: NixVersion;
  /** `substituters` of the Nix configuration (binary caches); null when it could not be read. */
  substituters: string[] | null;
}

export const oldestSupported = { major: 2, minor: 8 } as const;
export const newestTested = { major: 2, minor: 34 } as const;

/** Nix is missing or says a version the origin cannot work with. */
export class NixUnsupported extends Error {
  override readonly name = "NixUnsupported";
}

export function atLeast(version: NixVersion, major: number, minor: number): boolean {
  return version.major > major || (version.major === major && version.minor >= minor);
}

/**
 * The version in `nix --version` output: "nix (Nix) 2.26.3", also with a suffix such as
 * "2.18.1pre20231107_dirty" or a distribution's "2.24.9+dfsg", or another flavour's name in the
 * parentheses ("nix (Determinate Nix 3.6.2) 2.29.0"); null when there is none.
 */
export function parseNixVersion(stdout: string): NixVersion | null {
  const match = /^nix \([^)]*\) ((\d+)\.(\d+)(?:\.(\d+))?\S*)/m.exec(stdout);
  if (!match) return null;
  return {
    major: Number(match[2]),
    minor: Number(match[3]),
    patch: Number(match[4] ?? 0),
    text: match[1]!,
  };
}

/**
 * `nix path-info --json` without `--json-format` is deprecated from 2.33 on (a warning, to
 * become an error); older versions reject the flag. Format 1 is the object keyed by store path.
 */
export function pathInfoFormatArgs(version: NixVersion): string[] {
  return atLeast(version, 2, 33) ? ["--json-format", "1"] : [];
}

/** `nix show-config` became `nix config show` in 2.20 (the old name is a deprecated alias). */
export function configShowArgs(version: NixVersion): string[] {
  return atLeast(version, 2, 20) ? ["config", "show"] : ["show-config"];
}

/** The `substituters` line of `nix config show` / `nix show-config` (`key = value` lines). */
export function parseSubstituters(stdout: string): string[] | null {
  const line = stdout.split("\n").find((text) => /^substituters = /.test(text));
  if (line === undefined) return null;
  return line.slice("substituters = ".length).split(/\s+/).filter(Boolean);
}

/** Asks the Nix on the runner's PATH for its version and binary caches. */
export async function detectNix(runner: NixRunner): Promise<NixInstallation> {
  const printed = await runner("nix", ["--version"], { timeoutMs: 30_000 }).catch(
    (error: Error) => {
      throw new NixUnsupported(`cannot run nix (${error.message}); install Nix 2.8 or newer`);
    },
  );
  const version = parseNixVersion(printed.stdout);
  if (printed.exitCode !== 0 || version === null) {
    throw new NixUnsupported(
      `\`nix --version\` printed no version: ${(printed.stdout + printed.stderrTail.join("\n")).trim().slice(0, 200)}`,
    );
  }
  if (!atLeast(version, oldestSupported.major, oldestSupported.minor)) {
    throw new NixUnsupported(
      `Nix ${version.text} is too old: the origin needs Nix ${oldestSupported.major}.${oldestSupported.minor} or newer`,
    );
  }
  const config = await runner(
    "nix",
    ["--extra-experimental-features", "nix-command", ...configShowArgs(version)],
    { timeoutMs: 30_000 },
  );
  const substituters = config.exitCode === 0 ? parseSubstituters(config.stdout) : null;
  return { version, substituters };
}

/** True for versions newer than the newest one tested (the origin still runs, and says so). */
export function newerThanTested(version: NixVersion): boolean {
  return atLeast(version, newestTested.major, newestTested.minor + 1);
}
