// The origin's start-up checks: each dependency is tried once before the origin listens, and a
// failure becomes one line naming the variable, its value and what is wrong (main.ts prints it
// and exits with status 2), instead of a stack trace or a first pull that fails in a confusing way.

import { constants } from "node:fs";
import { access, mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { openDatabase, type Db } from "./cache/database.ts";
import { DataDirLocked, lockDataDir, type DataDirLock } from "./data-dir-lock.ts";
import { InvalidPopularityData, loadPopularity } from "./layers/popularity.ts";
import { evalErrorMessage } from "./nix/eval-error.ts";
import { packagesExpression } from "./nix/expression.ts";
import type { NixRunner } from "./nix/runner.ts";
import { NixEvalFailed, SourceUnavailable, TagNotFound } from "./nix/errors.ts";
import { isLocalFlake } from "./nix/flake-source.ts";
import { resolveSource, type ResolvedSource, type SourceConfig } from "./nix/source.ts";
import { detectNix, NixUnsupported, type NixInstallation } from "./nix/version.ts";

/** A start-up check failed: `variable=value: problem`. */
export class StartupError extends Error {
  override readonly name = "StartupError";

  constructor(
    readonly variable: string,
    readonly value: string,
    readonly problem: string,
  ) {
    super(`${variable}=${value}: ${problem}`);
  }
}

/** Creates the data directory if needed, checks it is writable, and locks it for this origin. */
export async function claimDataDir(dir: string): Promise<DataDirLock> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new StartupError(
      "NIXERY_DATA_DIR",
      dir,
      `cannot use it as a directory (${describe(error)})`,
    );
  }
  try {
    return lockDataDir(dir);
  } catch (error) {
    if (error instanceof DataDirLocked) {
      throw new StartupError(
        "NIXERY_DATA_DIR",
        dir,
        `${error.message}; stop that origin or give this one its own NIXERY_DATA_DIR`,
      );
    }
    throw new StartupError("NIXERY_DATA_DIR", dir, `cannot lock it (${describe(error)})`);
  }
}

export function openDatabaseIn(dataDir: string, path: string): Db {
  try {
    return openDatabase(path);
  } catch (error) {
    throw new StartupError(
      "NIXERY_DATA_DIR",
      dataDir,
      `cannot open the database ${path} (${describe(error)})`,
    );
  }
}

/** Checks that Nix is installed and its store answers; returns what `nix-store --version` says. */
export async function checkNix(runner: NixRunner, pathValue: string): Promise<string> {
  const result = await runner("nix-store", ["--version"], { timeoutMs: 30_000 }).catch(
    (error: unknown) => {
      throw new StartupError(
        "PATH",
        pathValue,
        `cannot run nix-store (${describe(error)}); install Nix (Debian/Ubuntu: apt install nix-bin)`,
      );
    },
  );
  if (result.exitCode !== 0) {
    throw new StartupError(
      "PATH",
      pathValue,
      `nix-store --version failed: ${evalErrorMessage(result.stderrTail)}`,
    );
  }
  return result.stdout.trim();
}

/** Finds the Nix version and binary caches (detectNix); a missing or too old Nix is PATH's fault. */
export async function detectNixChecked(
  runner: NixRunner,
  pathValue: string,
): Promise<NixInstallation> {
  try {
    return await detectNix(runner);
  } catch (error) {
    if (error instanceof NixUnsupported) throw new StartupError("PATH", pathValue, error.message);
    throw error;
  }
}

/**
 * Checks the package source as far as it can be checked without a build: a local path (or a flake
 * on this machine) must exist and import to an attribute set of packages. A git, channel or remote
 * flake source is reached over the network; it is checked by readiness instead, as an outage
 * there must not keep the origin from starting.
 */
export async function checkSource(source: SourceConfig, runner: NixRunner): Promise<void> {
  if (source.kind === "flake") {
    if (isLocalFlake(source.ref)) await checkLocalFlake(source, runner);
    return;
  }
  if (source.kind !== "path") return;
  const variable = "NIXERY_PKGS_PATH";
  const info = await stat(source.path).catch((error: unknown) => {
    throw new StartupError(variable, source.path, `does not exist (${describe(error)})`);
  });
  if (info.isDirectory()) {
    await access(join(source.path, "default.nix")).catch(() => {
      throw new StartupError(
        variable,
        source.path,
        "is a directory without default.nix, so not a Nix package set",
      );
    });
  }
  const resolved = await resolveSource(source, "latest", runner);
  await checkPackageSet(variable, source.path, resolved, runner);
}

/** A flake on this machine: it locks (with its own flake.lock) and has packages for this system. */
async function checkLocalFlake(
  source: Extract<SourceConfig, { kind: "flake" }>,
  runner: NixRunner,
): Promise<void> {
  const resolved = await resolveSource(source, "latest", runner).catch((error: unknown) => {
    if (error instanceof SourceUnavailable || error instanceof NixEvalFailed) {
      throw new StartupError("NIXERY_FLAKE", source.ref, `cannot be locked: ${error.detail}`);
    }
    if (error instanceof TagNotFound) {
      throw new StartupError("NIXERY_FLAKE", source.ref, error.message);
    }
    throw error;
  });
  await checkPackageSet("NIXERY_FLAKE", source.ref, resolved, runner);
}

async function checkPackageSet(
  variable: string,
  value: string,
  resolved: ResolvedSource,
  runner: NixRunner,
): Promise<void> {
  const system = process.arch === "arm64" ? "aarch64-linux" : "x86_64-linux";
  const { file, args } = packagesExpression(resolved, [], system);
  const result = await runner(
    "nix-instantiate",
    ["--eval", "--json", file, "-A", "isPackageSet", ...args],
    {
      timeoutMs: 300_000,
    },
  );
  if (result.timedOut) {
    throw new StartupError(variable, value, "did not evaluate within 300 s");
  }
  if (result.exitCode !== 0) {
    const detail = evalErrorMessage(result.stderrTail).split("\n")[0];
    throw new StartupError(variable, value, `is not a Nix package set: ${detail}`);
  }
  if (result.stdout.trim() !== "true") {
    throw new StartupError(
      variable,
      value,
      resolved.flake
        ? `has neither packages.${system} nor legacyPackages.${system} as an attribute set`
        : "does not evaluate to an attribute set of packages",
    );
  }
}

export async function loadPopularityChecked(source: string | null): Promise<Map<string, number>> {
  try {
    return await loadPopularity(source);
  } catch (error) {
    if (!(error instanceof InvalidPopularityData)) throw error;
    const reason = error.message.replace(/^popularity data from .*?: /, "");
    throw new StartupError("NIX_POPULARITY_URL", source ?? "", reason);
  }
}

/**
 * An error in one line, with its causes: undici's "fetch failed" alone does not say whether the
 * address was refused, unknown or timed out, its `cause` does ("fetch failed: ECONNREFUSED …").
 */
export function describe(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    const message = (current instanceof Error ? current.message : String(current)).split("\n")[0]!;
    const part =
      typeof code === "string" && !message.startsWith(code) ? `${code}: ${message}` : message;
    if (part !== "" && !parts.some((seen) => seen.includes(part))) parts.push(part);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ");
}
