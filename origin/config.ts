// The origin's typed configuration, parsed from environment variables in one place. Bad values
// are rejected with a message naming the variable; main.ts is the only caller with process.env.
// The package source (config-source.ts), the private instance's settings (config-private.ts) and
// the children's environment (child-environment.ts) are parsed beside it; how one value is read
// is config-values.ts.

import { resolve } from "node:path";
import { availableParallelism } from "node:os";
import type { PackageSetPolicy } from "./nix/expression.ts";
import type { SourceConfig } from "./nix/source.ts";
import type { Architecture } from "../shared/image-name.ts";
import { InvalidPlatformList, parsePlatformList } from "../shared/platform.ts";
import {
  gitSshCommand,
  parseAccessSettings,
  parseSshSource,
  PrivateConfigError,
  type AccessSettings,
  type SshSourceSettings,
} from "./config-private.ts";
import { parseSource } from "./config-source.ts";
import { ConfigError, flag, httpUrl, integer, required, type Env } from "./config-values.ts";
import { childEnvironment } from "./child-environment.ts";

export { ConfigError };

export type SourceSetting = SourceConfig;

export type StorageSetting =
  | { backend: "filesystem"; path: string }
  | {
      backend: "s3";
      endpoint: string;
      bucket: string;
      region: string;
      accessKeyId: string;
      secretAccessKey: string;
      forcePathStyle: boolean;
      partSizeBytes: number;
      presignSeconds: number | null;
    };

export interface Config {
  host: string;
  port: number;
  source: SourceSetting;
  storage: StorageSetting;
  dataDir: string;
  databasePath: string;
  /** The package index's own SQLite file (origin/index/). */
  packageIndexPath: string;
  gcRootDir: string;
  nixTimeoutSeconds: number;
  popularitySource: string | null;
  layerBudget: number;
  bigPathBytes: number;
  popularThreshold: number;
  tagTtlSeconds: number;
  maxConcurrentBuilds: number;
  maxQueuedBuilds: number;
  failureTtlSeconds: number;
  packConcurrency: number;
  gzipLevel: number;
  /** Images not requested for this long lose their stored objects (restored on request). */
  gcUnusedSeconds: number;
  /** How often the origin collects storage (0: only by hand). */
  gcIntervalSeconds: number;
  /** Objects younger than this are never collected. */
  gcGraceSeconds: number;
  originSecret: string | null;
  /** Only the edge may use the registry API (with the secret), unless users log in. */
  originPrivate: boolean;
  /** Platforms a name without `arm64/` is built for (an index when there are several). */
  platforms: Architecture[];
  /** This machine's platform: what clients that take only a single manifest get. */
  hostArch: Architecture;
  /** Users, tokens and login limits of a private instance (see config-private.ts). */
  access: AccessSettings;
  /** The deploy key of a package repository reached over SSH. */
  sshSource: SshSourceSettings | null;
  /** What the package set's config allows: NIXERY_ALLOW_UNFREE, _INSECURE, _BROKEN. */
  policy: PackageSetPolicy;
  /** Environment for Nix and git subprocesses: an allowlist (see childEnvironment). */
  childEnv: Record<string, string>;
}

function parseStorage(env: Env, dataDir: string): StorageSetting {
  const backend = env.NIXERY_STORAGE_BACKEND || "filesystem";
  if (backend === "filesystem") {
    return { backend, path: resolve(env.STORAGE_PATH || resolve(dataDir, "storage")) };
  }
  if (backend === "s3") {
    const why = "when NIXERY_STORAGE_BACKEND=s3";
    const forcePathStyle = env.S3_FORCE_PATH_STYLE ?? "false";
    if (!["true", "false"].includes(forcePathStyle)) {
      throw new ConfigError(`S3_FORCE_PATH_STYLE must be true or false, got "${forcePathStyle}"`);
    }
    const presign = integer(env, "S3_PRESIGN_SECONDS", 0, 0, 7 * 24 * 3600);
    return {
      backend,
      endpoint: httpUrl(env, "S3_ENDPOINT", why),
      bucket: required(env, "S3_BUCKET", why),
      region: env.S3_REGION || "auto",
      accessKeyId: required(env, "AWS_ACCESS_KEY_ID", why),
      secretAccessKey: required(env, "AWS_SECRET_ACCESS_KEY", why),
      forcePathStyle: forcePathStyle === "true",
      partSizeBytes: integer(env, "S3_PART_SIZE_MB", 64, 5, 5 * 1024) * 1024 * 1024,
      presignSeconds: presign === 0 ? null : presign,
    };
  }
  throw new ConfigError(`NIXERY_STORAGE_BACKEND must be "filesystem" or "s3", got "${backend}"`);
}

function parsePrivate(env: Env): boolean {
  const value = env.ORIGIN_PRIVATE ?? "false";
  if (!["true", "false"].includes(value)) {
    throw new ConfigError(`ORIGIN_PRIVATE must be true or false, got "${value}"`);
  }
  if (value === "true" && !env.ORIGIN_SECRET) {
    throw new ConfigError("ORIGIN_PRIVATE=true needs ORIGIN_SECRET");
  }
  return value === "true";
}

/** NIXERY_PLATFORMS, e.g. `linux/amd64,linux/arm64`; by default the host's platform only. */
function parsePlatforms(env: Env, hostArch: Architecture): Architecture[] {
  const raw = env.NIXERY_PLATFORMS;
  if (raw === undefined || raw.trim() === "") return [hostArch];
  try {
    return parsePlatformList(raw);
  } catch (error) {
    if (error instanceof InvalidPlatformList) {
      throw new ConfigError(`NIXERY_PLATFORMS="${raw.slice(0, 100)}": ${error.message}`);
    }
    throw error;
  }
}

/** The private-instance settings, their errors reported like every other setting's. */
function parsePrivateSettings(env: Env): { access: AccessSettings; ssh: SshSourceSettings | null } {
  try {
    return { access: parseAccessSettings(env), ssh: parseSshSource(env) };
  } catch (error) {
    if (error instanceof PrivateConfigError) throw new ConfigError(error.message);
    throw error;
  }
}

export function parseConfig(env: Env): Config {
  const dataDir = resolve(env.NIXERY_DATA_DIR || "data");
  const { access, ssh } = parsePrivateSettings(env);
  const childEnv = childEnvironment(env);
  // The deploy key's path (not the key) for git and for Nix's fetchGit, which runs git too.
  if (ssh) childEnv.GIT_SSH_COMMAND = gitSshCommand(ssh);
  return {
    // Loopback unless told otherwise: the origin sits behind a tunnel, or beside the edge.
    host: env.HOST || "127.0.0.1",
    port: integer(env, "PORT", 8081, 0, 65535),
    source: parseSource(env),
    storage: parseStorage(env, dataDir),
    dataDir,
    databasePath: resolve(dataDir, "nixery.sqlite"),
    packageIndexPath: resolve(dataDir, "package-index.sqlite"),
    gcRootDir: resolve(dataDir, "gcroots"),
    nixTimeoutSeconds: integer(env, "NIX_TIMEOUT", 1200, 1, 24 * 3600),
    popularitySource: env.NIX_POPULARITY_URL || null,
    layerBudget: integer(env, "NIXERY_LAYER_BUDGET", 94, 2, 125),
    bigPathBytes: integer(
      env,
      "NIXERY_BIG_PATH_BYTES",
      100 * 1000 * 1000,
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    popularThreshold: integer(env, "NIXERY_POPULAR_THRESHOLD", 100, 1, Number.MAX_SAFE_INTEGER),
    tagTtlSeconds: integer(env, "NIXERY_TAG_TTL_SECONDS", 300, 0, 365 * 24 * 3600),
    maxConcurrentBuilds: integer(env, "NIXERY_MAX_BUILDS", 2, 1, 64),
    maxQueuedBuilds: integer(env, "NIXERY_MAX_QUEUED_BUILDS", 100, 0, 100_000),
    failureTtlSeconds: integer(env, "NIXERY_FAILURE_TTL_SECONDS", 30, 0, 24 * 3600),
    packConcurrency: integer(env, "NIXERY_PACK_CONCURRENCY", availableParallelism(), 1, 64),
    gzipLevel: integer(env, "NIXERY_GZIP_LEVEL", 6, 1, 9),
    gcUnusedSeconds: integer(
      env,
      "NIXERY_GC_UNUSED_SECONDS",
      30 * 24 * 3600,
      0,
      10 * 365 * 24 * 3600,
    ),
    gcIntervalSeconds: integer(env, "NIXERY_GC_INTERVAL_SECONDS", 3600, 0, 365 * 24 * 3600),
    gcGraceSeconds: integer(env, "NIXERY_GC_GRACE_SECONDS", 3600, 0, 365 * 24 * 3600),
    originSecret: env.ORIGIN_SECRET || null,
    originPrivate: parsePrivate(env),
    platforms: parsePlatforms(env, hostArchitecture()),
    hostArch: hostArchitecture(),
    access,
    sshSource: ssh,
    policy: {
      allowUnfree: flag(env, "NIXERY_ALLOW_UNFREE"),
      allowInsecure: flag(env, "NIXERY_ALLOW_INSECURE"),
      allowBroken: flag(env, "NIXERY_ALLOW_BROKEN"),
    },
    childEnv,
  };
}

function hostArchitecture(): Architecture {
  return process.arch === "arm64" ? "arm64" : "amd64";
}
