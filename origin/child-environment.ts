// The environment of the origin's Nix and git children: an allowlist of names and prefixes, so
// that what else the origin's environment holds (storage credentials, the origin secret) never
// reaches them.

import type { Env } from "./config-values.ts";

/** Variables a child may see by exact name. */
const childNames = new Set([
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "LANG",
  "LANGUAGE",
  "TZ",
  "TMPDIR",
  "TERM",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "CURL_CA_BUNDLE",
  "SSH_AUTH_SOCK",
  "SSH_AGENT_PID",
  ...["http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy"].flatMap((name) => [
    name,
    name.toUpperCase(),
  ]),
]);
/** Variables a child may see by prefix: Nix's own settings, XDG directories, git and locale. */
const childPrefixes = ["NIX_", "XDG_", "GIT_", "LC_"];
/** The origin's own settings that share the NIX_ prefix (Nixery's names); children need neither. */
const originOnly = new Set(["NIX_POPULARITY_URL", "NIX_TIMEOUT"]);

/**
 * The environment of Nix and git children: an allowlist, so that storage credentials, the origin
 * secret and anything else in the origin's environment never reach package-set code (which can
 * read any variable with builtins.getEnv and write it into a store path or an image).
 */
export function childEnvironment(env: Env): Record<string, string> {
  const childEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || originOnly.has(key)) continue;
    if (childNames.has(key) || childPrefixes.some((prefix) => key.startsWith(prefix))) {
      childEnv[key] = value;
    }
  }
  return childEnv;
}
