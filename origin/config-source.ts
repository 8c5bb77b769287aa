// Where the packages come from: exactly one of NIXERY_PKGS_PATH, NIXERY_PKGS_REPO, NIXERY_CHANNEL
// and NIXERY_FLAKE (a channel's tarball URL from NIXERY_CHANNEL_URL_TEMPLATE), checked here so
// that a bad one is a line at start, not a failed build later.

import { resolve } from "node:path";
import { InvalidFlakeReference, normaliseFlakeReference } from "./nix/flake-source.ts";
import type { SourceConfig } from "./nix/source.ts";
import { ConfigError, type Env } from "./config-values.ts";

export const defaultChannelUrlTemplate =
  "https://github.com/NixOS/nixpkgs/archive/{channel}.tar.gz";

/** The package source variables, of which exactly one is set. */
export const sourceVariables = [
  "NIXERY_PKGS_PATH",
  "NIXERY_PKGS_REPO",
  "NIXERY_CHANNEL",
  "NIXERY_FLAKE",
] as const;

export function parseSource(env: Env): SourceConfig {
  const set = sourceVariables.filter((n) => env[n]);
  if (set.length !== 1) {
    throw new ConfigError(
      set.length === 0
        ? "set exactly one package source: NIXERY_PKGS_PATH, NIXERY_PKGS_REPO, NIXERY_CHANNEL or NIXERY_FLAKE"
        : `set only one package source, found ${set.join(" and ")}`,
    );
  }
  if (env.NIXERY_PKGS_PATH) return { kind: "path", path: resolve(env.NIXERY_PKGS_PATH) };
  if (env.NIXERY_PKGS_REPO) return { kind: "git", url: env.NIXERY_PKGS_REPO };
  if (env.NIXERY_FLAKE) {
    try {
      return { kind: "flake", ref: normaliseFlakeReference(env.NIXERY_FLAKE) };
    } catch (error) {
      if (!(error instanceof InvalidFlakeReference)) throw error;
      throw new ConfigError(`NIXERY_FLAKE="${env.NIXERY_FLAKE.slice(0, 200)}" ${error.message}`);
    }
  }
  const urlTemplate = env.NIXERY_CHANNEL_URL_TEMPLATE || defaultChannelUrlTemplate;
  if (!urlTemplate.includes("{channel}")) {
    throw new ConfigError(
      `NIXERY_CHANNEL_URL_TEMPLATE must contain "{channel}", got "${urlTemplate}"`,
    );
  }
  const example = URL.canParse(urlTemplate.replaceAll("{channel}", "c"))
    ? new URL(urlTemplate.replaceAll("{channel}", "c"))
    : null;
  if (!example || !["http:", "https:", "file:"].includes(example.protocol)) {
    throw new ConfigError(
      `NIXERY_CHANNEL_URL_TEMPLATE must be an http(s) or file:// URL, got "${urlTemplate.slice(0, 200)}"`,
    );
  }
  return { kind: "channel", channel: env.NIXERY_CHANNEL!, urlTemplate };
}
