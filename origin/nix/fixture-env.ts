// What tests need to run real Nix offline: the project's test nix.conf (no build users, no
// sandbox, no binary cache), a git-ignored cache directory in the repository, and the fixture
// package set. Lives in origin/ so origin tests can import it; test/support re-exports it.

import { fileURLToPath } from "node:url";

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
