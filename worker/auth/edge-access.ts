// Whether this edge is private, and its settings: HTPASSWD (the users) and TOKEN_KEY (the keys
// shared with the origin) make it private, and it needs both; with only one of them every
// request fails (500, logged) rather than an edge meant to be private serving anyone.

import {
  defaultAccessTokenSeconds,
  maxAccessTokenSeconds,
  minAccessTokenSeconds,
} from "../../shared/token-claims.ts";
import type { Env } from "../env.ts";

export interface EdgeAccessSettings {
  htpasswd: string;
  /** The first signs, every one verifies. */
  tokenKeys: string[];
  tokenSeconds: number;
  /** Scheme and host of the token realm when the edge is reached under another name. */
  publicUrl: string | null;
  /** Anonymous clients may pull what is built; only users make the origin build. */
  anonymousPull: boolean;
}

export const minTokenKeyLength = 32;

/** Null for a public edge; throws (a plain Error: 500, logged) when misconfigured. */
export function readAccessSettings(env: Env): EdgeAccessSettings | null {
  if (!env.HTPASSWD && !env.TOKEN_KEY) return null;
  if (!env.HTPASSWD || !env.TOKEN_KEY) {
    throw new Error(
      "a private edge needs both the HTPASSWD and the TOKEN_KEY secrets; every request is refused until both are set",
    );
  }
  const tokenKeys = env.TOKEN_KEY.split(/[\s,]+/).filter((key) => key !== "");
  if (tokenKeys.length === 0 || tokenKeys.some((key) => key.length < minTokenKeyLength)) {
    throw new Error(`TOKEN_KEY must be at least ${minTokenKeyLength} characters per key`);
  }
  const seconds = env.TOKEN_SECONDS ? Number(env.TOKEN_SECONDS) : defaultAccessTokenSeconds;
  if (
    !Number.isInteger(seconds) ||
    seconds < minAccessTokenSeconds ||
    seconds > maxAccessTokenSeconds
  ) {
    throw new Error(
      `TOKEN_SECONDS must be a whole number from ${minAccessTokenSeconds} to ${maxAccessTokenSeconds}`,
    );
  }
  let publicUrl: string | null = null;
  if (env.PUBLIC_URL) {
    const url = new URL(env.PUBLIC_URL);
    if (!["http:", "https:"].includes(url.protocol) || url.pathname !== "/") {
      throw new Error("PUBLIC_URL must be http(s)://host[:port] with no path");
    }
    publicUrl = url.origin;
  }
  if (env.ANONYMOUS_PULL && !["true", "false"].includes(env.ANONYMOUS_PULL)) {
    throw new Error(`ANONYMOUS_PULL must be true or false, got "${env.ANONYMOUS_PULL}"`);
  }
  return {
    htpasswd: env.HTPASSWD,
    tokenKeys,
    tokenSeconds: seconds,
    publicUrl,
    anonymousPull: env.ANONYMOUS_PULL === "true",
  };
}
