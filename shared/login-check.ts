// Checking a user name and password, rate-limited: failed attempts count against the client
// and against the user name, and past the limit a client or user gets 429 TOOMANYREQUESTS with
// Retry-After before any password is compared, so guessing costs time whoever guesses. Each app
// brings its own LoginLimiter (in memory on the origin; the rate limiting binding at the edge).

import { basicChallenge } from "./auth-challenge.ts";
import { RegistryError } from "./errors.ts";
import { maxUserLength } from "./htpasswd.ts";
import type { UserDirectory } from "./user-directory.ts";

export interface LoginLimiter {
  /** Seconds before every one of `keys` may try a password again; 0 when they may now. */
  retryAfter(keys: readonly string[]): Promise<number>;
  /** Counts one failed attempt against each of `keys`. */
  recordFailure(keys: readonly string[]): Promise<void>;
}

export interface LoginDeps {
  users: UserDirectory;
  limiter: LoginLimiter;
  /** Told of every refused login ("login failed", "login limited"): never the password. */
  audit?: (event: "login failed" | "login limited", fields: Record<string, string>) => void;
}

/** Limiter keys of an attempt: the client's address and the user name tried (cut to size). */
export function limiterKeys(client: string, user: string | null): string[] {
  const clientKey = `client:${client.slice(0, 64)}`;
  return user === null ? [clientKey] : [clientKey, `user:${user.slice(0, maxUserLength)}`];
}

export function tooManyAttempts(seconds: number): RegistryError {
  return new RegistryError(
    "TOOMANYREQUESTS",
    `too many failed logins from this client or for this user; try again in ${seconds} s`,
    undefined,
    { headers: { "Retry-After": String(seconds) } },
  );
}

/** A 401 that asks for a user name and password (the token endpoint, pages a browser opens). */
export function credentialsRefused(message: string): RegistryError {
  return new RegistryError("UNAUTHORIZED", message, undefined, {
    headers: { "WWW-Authenticate": basicChallenge() },
  });
}

export function wrongCredentials(): RegistryError {
  return credentialsRefused("incorrect username or password");
}

/** The version of the user's entry when the password is right; throws 401 or 429 otherwise. */
export async function checkLogin(
  deps: LoginDeps,
  client: string,
  user: string,
  password: string,
): Promise<string> {
  const keys = limiterKeys(client, user);
  const who = { user: user.slice(0, 100), client };
  const wait = await deps.limiter.retryAfter(keys);
  if (wait > 0) {
    deps.audit?.("login limited", who);
    throw tooManyAttempts(wait);
  }
  const version = await deps.users.authenticate(user, password);
  if (version !== null) return version;
  await deps.limiter.recordFailure(keys);
  deps.audit?.("login failed", who);
  throw wrongCredentials();
}

/** `Authorization: Basic …` as user and password; null without one; 401 when malformed. */
export function basicCredentials(header: string | null): { user: string; password: string } | null {
  if (!header || !/^basic\s/i.test(header)) return null;
  let decoded: string;
  try {
    const binary = atob(header.slice(6).trim());
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(binary, (char) => char.charCodeAt(0)),
    );
  } catch {
    throw credentialsRefused("the Basic credentials are not valid base64 UTF-8");
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) throw credentialsRefused("the Basic credentials have no password");
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
