// git for tests that make repositories: a fixed identity and no system configuration, so a
// developer's git settings cannot change what the tests commit.

import { execFileSync } from "node:child_process";
import { testNixEnv } from "./nix-env.ts";

/** Runs git in `cwd` and returns its trimmed stdout; throws when git fails. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...testNixEnv(),
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_AUTHOR_NAME: "test",
      GIT_AUTHOR_EMAIL: "test@example.invalid",
      GIT_COMMITTER_NAME: "test",
      GIT_COMMITTER_EMAIL: "test@example.invalid",
    },
  }).trim();
}
