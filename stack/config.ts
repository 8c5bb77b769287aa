// The local stack's settings, parsed from an environment object in one place: ports, the data
// directory, the shared secret and the origin's environment (every variable passes through;
// an offline fixture package set is the default source so the quick start needs no network).

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
  /** The complete environment of the origin process. */
  originEnv: Record<string, string>;
  /** Defaults the stack chose, worth telling the user about. */
  notes: string[];
}

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
    pollSeconds: optionalSeconds(env, "ORIGIN_POLL_SECONDS"),
    deadlineSeconds: optionalSeconds(env, "BUILD_DEADLINE_SECONDS"),
    originEnv,
    notes,
  };
}
