// The local stack's settings, parsed from an environment object in one place: ports, the data
// directory, the shared secret, the users and limits of a private edge, and the origin's
// environment (every variable passes through; an offline fixture package set is the default
// source so the quick start needs no network).

import { randomBytes } from "node:crypto";
import { resolve } from "node:path";

export interface StackConfig {
  edgePort: number;
  originPort: number;
  /** Where both listen (loopback unless HOST says otherwise). */
  host: string;
  dataDir: string;
  /** KV, R2 and Cache data of the edge. */
  edgeDir: string;
  originSecret: string;
  secretGenerated: boolean;
  pollSeconds: number | undefined;
  deadlineSeconds: number | undefined;
  /** NIXERY_HTPASSWD: the users of a private stack (edge and origin); null: public. */
  htpasswdPath: string | null;
  /** NIXERY_TOKEN_KEY; null: kept in the data dir (token-key), made at first start. */
  tokenKey: string | null;
  anonymousPull: boolean;
  /** The edge's rate limits per minute (NIXERY_LOGIN_MAX_FAILURES, NIXERY_BUILD_LIMIT). */
  limits: { loginFailures: number; coldBuilds: number };
  /** The complete environment of the origin process. */
  originEnv: Record<string, string>;
  /** Defaults the stack chose, worth telling the user about. */
  notes: string[];
}

/** The edge's rate limits per minute, as wrangler.toml's [[ratelimits]] (stack/config.test.ts). */
export const defaultEdgeLimits = { loginFailures: 5, coldBuilds: 10 } as const;

export class StackConfigError extends Error {
  override name = "StackConfigError";
}

function port(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new StackConfigError(`${name} must be a port number (0-65535), got "${raw}"`);
  }
  return value;
}

function optionalSeconds(
  env: Record<string, string | undefined>,
  name: string,
): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new StackConfigError(`${name} must be a whole number of seconds, got "${raw}"`);
  }
  return value;
}

function perMinute(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  min: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > 10_000) {
    throw new StackConfigError(`${name} must be a whole number from ${min} to 10000, got "${raw}"`);
  }
  return value;
}

export function parseStackConfig(
  env: Record<string, string | undefined>,
  repoRoot: string,
): StackConfig {
  const notes: string[] = [];
  const dataDir = resolve(repoRoot, env.NIXERY_DATA_DIR || "data");
  const host = env.HOST || "127.0.0.1";
  const originPort = port(env, "ORIGIN_PORT", 8081);
  const originSecret = env.ORIGIN_SECRET || randomBytes(24).toString("hex");
  const originEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) originEnv[key] = value;
  Object.assign(originEnv, {
    HOST: host,
    PORT: String(originPort),
    ORIGIN_SECRET: originSecret,
    NIXERY_DATA_DIR: dataDir,
    NIXERY_STORAGE_BACKEND: env.NIXERY_STORAGE_BACKEND || "filesystem",
  });
  if (originEnv.NIXERY_STORAGE_BACKEND === "filesystem" && !env.STORAGE_PATH) {
    originEnv.STORAGE_PATH = resolve(dataDir, "storage");
  }
  if (!env.NIXERY_PKGS_PATH && !env.NIXERY_PKGS_REPO && !env.NIXERY_CHANNEL) {
    originEnv.NIXERY_PKGS_PATH = resolve(repoRoot, "test/fixtures/pkgs");
    notes.push(
      `no package source set (NIXERY_PKGS_PATH, NIXERY_PKGS_REPO or NIXERY_CHANNEL): using the offline fixture set ${originEnv.NIXERY_PKGS_PATH}`,
    );
    if (!env.NIX_CONF_DIR) {
      originEnv.NIX_CONF_DIR = resolve(repoRoot, "test/fixtures/nix");
      notes.push(
        `NIX_CONF_DIR not set: using the offline test configuration ${originEnv.NIX_CONF_DIR}`,
      );
    }
  }
  return {
    edgePort: port(env, "PORT", 8080),
    originPort,
    host,
    dataDir,
    edgeDir: resolve(dataDir, "edge"),
    originSecret,
    secretGenerated: !env.ORIGIN_SECRET,
    htpasswdPath: env.NIXERY_HTPASSWD ? resolve(repoRoot, env.NIXERY_HTPASSWD) : null,
    tokenKey: env.NIXERY_TOKEN_KEY || null,
    anonymousPull: env.NIXERY_ANONYMOUS_PULL === "true",
    limits: {
      loginFailures: perMinute(
        env,
        "NIXERY_LOGIN_MAX_FAILURES",
        defaultEdgeLimits.loginFailures,
        1,
      ),
      // 0: no cold-build limit.
      coldBuilds: perMinute(env, "NIXERY_BUILD_LIMIT", defaultEdgeLimits.coldBuilds, 0),
    },
    pollSeconds: optionalSeconds(env, "ORIGIN_POLL_SECONDS"),
    deadlineSeconds: optionalSeconds(env, "BUILD_DEADLINE_SECONDS"),
    originEnv,
    notes,
  };
}
