// What tests need to run real Nix offline: the project's test nix.conf (no build users, no
// sandbox, no binary cache), a git-ignored cache directory in the repository, and the fixture
// package set.

import { fileURLToPath } from "node:url";
import { lookupPackages } from "../../origin/nix/packages.ts";
import {
  realisePackages,
  type RealiseOptions,
  type RealisedPackages,
} from "../../origin/nix/realise.ts";
import { createNixRunner, type NixRunner } from "../../origin/nix/runner.ts";
import type { ResolvedSource } from "../../origin/nix/source.ts";
import { detectNix, type NixInstallation } from "../../origin/nix/version.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** The offline package set (test/fixtures/pkgs/default.nix). */
export const fixturePackageSet = `${repoRoot}test/fixtures/pkgs`;

/** Directory holding the tests' nix.conf. */
export const testNixConfDir = `${repoRoot}test/fixtures/nix`;

/** Fetcher and git caches of test runs (git-ignored). */
export const testCacheDir = `${repoRoot}.cache`;

/**
 * The whole environment for a NixRunner in tests. Nothing is inherited from the test process,
 * so a developer's NIX_CONFIG, NIX_PATH or git configuration cannot change the results.
 */
export function testNixEnv(): Record<string, string> {
  return {
    NIX_CONF_DIR: testNixConfDir,
    XDG_CACHE_HOME: testCacheDir,
    HOME: `${testCacheDir}/home`,
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    LANG: "C.UTF-8",
  };
}

let installation: Promise<NixInstallation> | undefined;

/** The Nix on the tests' PATH (detected once per test process), as the origin detects it. */
export function testNix(): Promise<NixInstallation> {
  installation ??= detectNix(createNixRunner({ env: testNixEnv() }));
  return installation;
}

/** Recorded outputs of Nix commands: test/fixtures/nix-output/<major.minor>/<case>.json. */
export const nixOutputFixtures = `${repoRoot}test/fixtures/nix-output`;

/** Looks `names` up and realises what was found, as the build pipeline does (for tests). */
export async function lookupAndRealise(
  runner: NixRunner,
  source: ResolvedSource,
  names: readonly string[],
  system: string,
  options: RealiseOptions,
): Promise<RealisedPackages> {
  const lookup = await lookupPackages(runner, source, names, system);
  const absent = [...lookup.missing, ...lookup.failed.map((pkg) => pkg.name)];
  if (absent.length > 0) throw new Error(`missing or unevaluable: ${absent.join(", ")}`);
  return realisePackages(runner, lookup.found, options);
}
