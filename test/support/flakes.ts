// Local flakes for tests, made offline from test/fixtures/flakes: `base` (a git repository: a
// pure flake providing busybox and a greeting), `set` (a git repository: the package-set flake,
// its input `base` pinned by a flake.lock that `nix flake lock` wrote and the test committed, with
// a tag v1 and a later commit on main) and a plain directory copy of `set` (a path flake).

import { execFileSync } from "node:child_process";
import { copyFile, cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { flakeFeatureArgs } from "../../origin/nix/flake-source.ts";
import { git } from "./git.ts";
import { testNixEnv } from "./nix-env.ts";

const fixtures = fileURLToPath(new URL("../fixtures/flakes/", import.meta.url));

export interface TestFlakes {
  /** `git+file://…/base`: the input, greeting "one" at the commit the set's lock pins. */
  baseUrl: string;
  /** The git repository of the set (also usable as `git+file://` + this). */
  setRepo: string;
  /** Commits of the set: v1 (tag v1, hello says "v1") and two (main, hello says "v2"). */
  commits: { v1: string; two: string };
  /** The base commit the set's flake.lock pins, and a later one the lock does not know. */
  baseCommits: { locked: string; later: string };
  /** A plain directory (no git): a path flake, the set at main with the same flake.lock. */
  pathFlake: string;
}

/** `nix flake lock` of a flake directory, offline (its inputs are local). */
export function lockFlakeOffline(dir: string): void {
  execFileSync("nix", [...flakeFeatureArgs, "flake", "lock", dir], {
    env: testNixEnv(),
    stdio: ["ignore", "ignore", "pipe"],
  });
}

async function setFlakeText(baseUrl: string, version: string): Promise<string> {
  const text = await readFile(join(fixtures, "set/flake.nix"), "utf8");
  return text.replaceAll("@BASE_URL@", baseUrl).replaceAll("@VERSION@", version);
}

/** Makes the test flakes under `dir`. */
export async function makeTestFlakes(dir: string): Promise<TestFlakes> {
  const base = join(dir, "base");
  await mkdir(join(base, "bin"), { recursive: true });
  await copyFile(join(fixtures, "base/flake.nix"), join(base, "flake.nix"));
  await copyFile("/usr/bin/busybox", join(base, "bin/busybox"));
  await writeFile(join(base, "greeting.txt"), "one\n");
  git(base, "init", "-q", "-b", "main");
  git(base, "add", "-A");
  git(base, "commit", "-q", "-m", "greeting one");
  const baseLocked = git(base, "rev-parse", "HEAD");
  const baseUrl = `git+file://${base}`;

  const setRepo = join(dir, "set");
  await mkdir(setRepo);
  await writeFile(join(setRepo, "flake.nix"), await setFlakeText(baseUrl, "v1"));
  git(setRepo, "init", "-q", "-b", "main");
  git(setRepo, "add", "flake.nix");
  lockFlakeOffline(setRepo);
  git(setRepo, "add", "flake.lock");
  git(setRepo, "commit", "-q", "-m", "v1");
  git(setRepo, "tag", "v1");
  const v1 = git(setRepo, "rev-parse", "HEAD");
  await writeFile(join(setRepo, "flake.nix"), await setFlakeText(baseUrl, "v2"));
  git(setRepo, "commit", "-q", "-a", "-m", "v2");
  const two = git(setRepo, "rev-parse", "HEAD");

  // The input moves on; the set's flake.lock still pins greeting one.
  await writeFile(join(base, "greeting.txt"), "two\n");
  git(base, "commit", "-q", "-a", "-m", "greeting two");
  const baseLater = git(base, "rev-parse", "HEAD");

  const pathFlake = join(dir, "path-set");
  await mkdir(pathFlake);
  await cp(join(setRepo, "flake.nix"), join(pathFlake, "flake.nix"));
  await cp(join(setRepo, "flake.lock"), join(pathFlake, "flake.lock"));

  return {
    baseUrl,
    setRepo,
    commits: { v1, two },
    baseCommits: { locked: baseLocked, later: baseLater },
    pathFlake,
  };
}
