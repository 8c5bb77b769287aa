// Builds a private origin's access control at start-up, or null for a public origin. Every
// problem is a StartupError naming the variable (one line, exit status 2), like the other checks.

import { constants } from "node:fs";
import { access as accessFile, stat } from "node:fs/promises";
import { HtpasswdInvalid } from "../../shared/htpasswd.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { NixRunner } from "../nix/runner.ts";
import { describe, StartupError } from "../preflight.ts";
import type { AccessControl } from "./access-control.ts";
import { MemoryLoginLimiter } from "../../shared/memory-login-limiter.ts";
import { bcryptHasher } from "../../shared/password-hasher.ts";
import { loadTokenKeys } from "./token-key.ts";
import { createTokenSigner } from "../../shared/token-signer.ts";
import { UsersFile } from "./users-file.ts";

async function openUsers(path: string, log: Logger): Promise<UsersFile> {
  let users: UsersFile;
  try {
    users = await UsersFile.open(path, bcryptHasher, log);
  } catch (error) {
    const problem =
      error instanceof HtpasswdInvalid ? error.message : `cannot read it (${describe(error)})`;
    throw new StartupError("NIXERY_HTPASSWD", path, problem);
  }
  const directory = await users.current();
  if (directory.size === 0) {
    throw new StartupError(
      "NIXERY_HTPASSWD",
      path,
      "lists no users; add one with htpasswd -B FILE NAME",
    );
  }
  if (directory.mixedCosts) {
    log.warn("NIXERY_HTPASSWD mixes bcrypt costs: a login check then takes longer for some users", {
      path,
    });
  }
  return users;
}

export async function openAccessControl(
  config: Config,
  log: Logger,
): Promise<AccessControl | null> {
  const settings = config.access;
  if (!settings.htpasswdPath && !config.originPrivate) return null;
  const users = settings.htpasswdPath ? await openUsers(settings.htpasswdPath, log) : null;
  const { keys, generated } = await loadTokenKeys(settings.tokenKeys, config.dataDir).catch(
    (error: unknown) => {
      throw new StartupError(
        "NIXERY_DATA_DIR",
        config.dataDir,
        `cannot keep the token signing key there (${describe(error)}); or set NIXERY_TOKEN_KEY`,
      );
    },
  );
  if (generated && users) {
    log.info(
      "generated a token signing key in the data directory (set NIXERY_TOKEN_KEY to share one with the edge)",
    );
  }
  return {
    users,
    signer: createTokenSigner(keys),
    limiter: new MemoryLoginLimiter({
      maxFailures: settings.loginMaxFailures,
      windowSeconds: settings.loginWindowSeconds,
    }),
    originSecret: config.originSecret,
    publicUrl: settings.publicUrl,
    tokenSeconds: settings.tokenSeconds,
    anonymousPull: settings.anonymousPull,
    log,
  };
}

/**
 * The deploy key must be a private key ssh will use (readable, and by its owner only), and ssh
 * must be there to use it (git runs it for ls-remote and for Nix's fetchGit).
 */
export async function checkSshKey(config: Config, runner: NixRunner): Promise<void> {
  const ssh = config.sshSource;
  if (!ssh) return;
  const version = await runner("ssh", ["-V"], { timeoutMs: 10_000 }).catch(() => null);
  if (!version || version.exitCode !== 0) {
    throw new StartupError(
      "NIXERY_PKGS_SSH_KEY",
      ssh.keyPath,
      "needs ssh, which is not on PATH (Debian/Ubuntu: apt install openssh-client)",
    );
  }
  try {
    await accessFile(ssh.keyPath, constants.R_OK);
    const info = await stat(ssh.keyPath);
    if (!info.isFile()) throw new Error("not a file");
    if ((info.mode & 0o077) !== 0) {
      throw new StartupError(
        "NIXERY_PKGS_SSH_KEY",
        ssh.keyPath,
        `is readable by others (mode ${(info.mode & 0o777).toString(8)}); ssh refuses such keys: chmod 600 it`,
      );
    }
  } catch (error) {
    if (error instanceof StartupError) throw error;
    throw new StartupError(
      "NIXERY_PKGS_SSH_KEY",
      ssh.keyPath,
      `cannot read it (${describe(error)})`,
    );
  }
  if (ssh.knownHostsPath) {
    await accessFile(ssh.knownHostsPath, constants.R_OK).catch((error: unknown) => {
      throw new StartupError(
        "NIXERY_PKGS_SSH_KNOWN_HOSTS",
        ssh.knownHostsPath!,
        `cannot read it (${describe(error)})`,
      );
    });
  }
}
