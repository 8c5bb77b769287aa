// The Worker's bindings (declared in wrangler.toml) and the typed settings read from them once per request.

import { RegistryError } from "../shared/errors.ts";

export interface Env {
  /** Tag → manifest records (see shared/tag-record.ts). */
  MANIFESTS: KVNamespace;
  /** Blobs and manifests by digest, keyed as shared/storage-keys.ts draws it. */
  BLOBS: R2Bucket;
  /** Base URL of the origin (the image builder), e.g. https://builder.example.com. */
  ORIGIN_URL: string;
  /** Shared secret sent to the origin as a bearer token. */
  ORIGIN_SECRET?: string;
  /** Seconds one build-status request may wait at the origin (default 20). */
  ORIGIN_POLL_SECONDS?: string;
  /** Seconds a client's manifest request may wait for a build in total (default 1200). */
  BUILD_DEADLINE_SECONDS?: string;
  /**
   * A private edge's users: the text of an htpasswd file with bcrypt entries (the origin's
   * NIXERY_HTPASSWD), set with `wrangler secret put HTPASSWD < FILE`. With TOKEN_KEY it makes
   * the edge private; see worker/auth/edge-access.ts.
   */
  HTPASSWD?: string;
  /** The token signing key(s), the same as the origin's NIXERY_TOKEN_KEY (a secret). */
  TOKEN_KEY?: string;
  /** Seconds an access token lives (60-3600, default 300). */
  TOKEN_SECONDS?: string;
  /** The edge's public base URL for its token realm, when clients reach it under another name. */
  PUBLIC_URL?: string;
  /** "true": anyone may pull what is built, only users make the origin build. */
  ANONYMOUS_PULL?: string;
  /** Rate limiting binding: failed logins per client and per user (wrangler.toml [[ratelimits]]). */
  LOGIN_LIMITER?: RateLimit;
  /** Rate limiting binding: cold builds (images this edge never saw) per client. */
  BUILD_LIMITER?: RateLimit;
  /** Analytics Engine dataset: one data point per request (worker/access-log.ts); optional. */
  EDGE_ANALYTICS?: AnalyticsEngineDataset;
}

export interface EdgeSettings {
  originUrl: string;
  originSecret: string | null;
  pollSeconds: number;
  deadlineSeconds: number;
}

function seconds(raw: string | undefined, name: string, fallback: number, max: number): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RegistryError("INTERNAL", `${name} must be a whole number of seconds in 1..${max}`);
  }
  return value;
}

export function readSettings(env: Env): EdgeSettings {
  if (!env.ORIGIN_URL)
    throw new RegistryError(
      "INTERNAL",
      "ORIGIN_URL is not configured: set it with `wrangler secret put ORIGIN_URL`",
    );
  let originUrl: URL;
  try {
    originUrl = new URL(env.ORIGIN_URL);
  } catch {
    throw new RegistryError("INTERNAL", "ORIGIN_URL is not a URL");
  }
  return {
    originUrl: originUrl.href.replace(/\/+$/, ""),
    originSecret: env.ORIGIN_SECRET ? env.ORIGIN_SECRET : null,
    pollSeconds: seconds(env.ORIGIN_POLL_SECONDS, "ORIGIN_POLL_SECONDS", 20, 50),
    deadlineSeconds: seconds(env.BUILD_DEADLINE_SECONDS, "BUILD_DEADLINE_SECONDS", 1200, 86400),
  };
}
