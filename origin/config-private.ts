// The settings of a private instance, parsed from the environment with the rest of the
// configuration (config.ts calls these): who may pull (NIXERY_HTPASSWD), how tokens are signed
// and how long they live, how failed logins are limited, and the SSH deploy key that reaches a
// private package repository.

import { resolve } from "node:path";
import {
  defaultAccessTokenSeconds,
  maxAccessTokenSeconds,
  minAccessTokenSeconds,
} from "../shared/token-claims.ts";

type Env = Record<string, string | undefined>;

export interface AccessSettings {
  /** The htpasswd file (bcrypt entries) of the users; null: no users. */
  htpasswdPath: string | null;
  /** NIXERY_TOKEN_KEY: the first signs, all verify; null: generated and kept in the data dir. */
  tokenKeys: string[] | null;
  tokenSeconds: number;
  /** The registry's public base URL (scheme and host of the token realm), when behind a proxy. */
  publicUrl: string | null;
  /** Anyone may pull what is built; only users make the origin build (NIXERY_ANONYMOUS_PULL). */
  anonymousPull: boolean;
  /** Failed logins a client or user may have in one window before it must wait. */
  loginMaxFailures: number;
  loginWindowSeconds: number;
}

export interface SshSourceSettings {
  /** The private key git (and Nix's fetchGit) uses for the package repository. */
  keyPath: string;
  /** known_hosts to check the server against (null: ssh's own files); never skipped. */
  knownHostsPath: string | null;
}

export class PrivateConfigError extends Error {
  override name = "PrivateConfigError";
}

export const minTokenKeyLength = 32;

function wholeNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new PrivateConfigError(
      `${name} must be a whole number from ${min} to ${max}, got "${raw}"`,
    );
  }
  return value;
}

function parsePublicUrl(raw: string | undefined): string | null {
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new PrivateConfigError(`NIXERY_PUBLIC_URL must be a URL, got "${raw}"`);
  }
  if (!["http:", "https:"].includes(url.protocol) || url.pathname !== "/" || url.search) {
    throw new PrivateConfigError(
      `NIXERY_PUBLIC_URL must be http(s)://host[:port] with no path, got "${raw}"`,
    );
  }
  return url.origin;
}

export function parseAccessSettings(env: Env): AccessSettings {
  const keys = (env.NIXERY_TOKEN_KEY ?? "").split(/[\s,]+/).filter((key) => key !== "");
  const short = keys.find((key) => key.length < minTokenKeyLength);
  if (short !== undefined) {
    throw new PrivateConfigError(
      `NIXERY_TOKEN_KEY must be at least ${minTokenKeyLength} characters per key (e.g. openssl rand -hex 32)`,
    );
  }
  const anonymousPull = env.NIXERY_ANONYMOUS_PULL ?? "false";
  if (!["true", "false"].includes(anonymousPull)) {
    throw new PrivateConfigError(
      `NIXERY_ANONYMOUS_PULL must be true or false, got "${anonymousPull}"`,
    );
  }
  if (anonymousPull === "true" && !env.NIXERY_HTPASSWD) {
    throw new PrivateConfigError(
      "NIXERY_ANONYMOUS_PULL=true needs NIXERY_HTPASSWD (the users who may build)",
    );
  }
  return {
    htpasswdPath: env.NIXERY_HTPASSWD ? resolve(env.NIXERY_HTPASSWD) : null,
    anonymousPull: anonymousPull === "true",
    tokenKeys: keys.length > 0 ? keys : null,
    tokenSeconds: wholeNumber(
      env,
      "NIXERY_TOKEN_SECONDS",
      defaultAccessTokenSeconds,
      minAccessTokenSeconds,
      maxAccessTokenSeconds,
    ),
    publicUrl: parsePublicUrl(env.NIXERY_PUBLIC_URL),
    loginMaxFailures: wholeNumber(env, "NIXERY_LOGIN_MAX_FAILURES", 5, 1, 1000),
    loginWindowSeconds: wholeNumber(env, "NIXERY_LOGIN_WINDOW_SECONDS", 60, 1, 24 * 3600),
  };
}

export function parseSshSource(env: Env): SshSourceSettings | null {
  const key = env.NIXERY_PKGS_SSH_KEY;
  const knownHosts = env.NIXERY_PKGS_SSH_KNOWN_HOSTS;
  if (!key) {
    if (knownHosts) {
      throw new PrivateConfigError("NIXERY_PKGS_SSH_KNOWN_HOSTS needs NIXERY_PKGS_SSH_KEY");
    }
    return null;
  }
  if (!env.NIXERY_PKGS_REPO && !env.NIXERY_FLAKE) {
    throw new PrivateConfigError(
      "NIXERY_PKGS_SSH_KEY is for a NIXERY_PKGS_REPO or NIXERY_FLAKE reached over SSH",
    );
  }
  if (env.GIT_SSH_COMMAND || env.GIT_SSH) {
    throw new PrivateConfigError(
      "set either NIXERY_PKGS_SSH_KEY or GIT_SSH_COMMAND/GIT_SSH, not both",
    );
  }
  if (knownHosts && /[\s"']/.test(knownHosts)) {
    // ssh reads UserKnownHostsFile as a list separated by spaces.
    throw new PrivateConfigError(
      `NIXERY_PKGS_SSH_KNOWN_HOSTS must be a path without spaces or quotes, got "${knownHosts}"`,
    );
  }
  return { keyPath: resolve(key), knownHostsPath: knownHosts ? resolve(knownHosts) : null };
}

/** A word for a POSIX shell (git runs GIT_SSH_COMMAND through one): single-quoted. */
function shellWord(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * GIT_SSH_COMMAND for the deploy key: only that key (no agent, no other identities), no
 * prompts, and the server's host key checked strictly against the configured known_hosts.
 */
export function gitSshCommand(ssh: SshSourceSettings): string {
  return [
    "ssh",
    ...["-i", shellWord(ssh.keyPath)],
    ...["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes"],
    ...["-o", "StrictHostKeyChecking=yes"],
    ...(ssh.knownHostsPath ? ["-o", shellWord(`UserKnownHostsFile=${ssh.knownHostsPath}`)] : []),
  ].join(" ");
}
