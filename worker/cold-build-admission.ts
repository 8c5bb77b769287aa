// Who may make the origin build. Building an image the edge has never seen is the expensive act,
// so each cold tag miss (a name and tag this edge holds no record of) counts against the client
// in Cloudflare's rate limiting binding BUILD_LIMITER: per user when logged in, else per
// address. Past the limit the origin is asked only for what it has already built (or is
// building), so pulls of built images are never limited: only a new build is refused, with 429
// and Retry-After. Without the binding nothing is limited. On a private edge that lets anyone
// pull (ANONYMOUS_PULL), an anonymous client never makes the origin build at all.

import { RegistryError } from "../shared/errors.ts";

/** The binding's longest period; a refused client may try again after it. */
export const coldBuildRetrySeconds = 60;

export interface BuildAdmission {
  /** Whether this request may start a build; `cold`: the edge holds no record of the tag. */
  mayBuild(cold: boolean): Promise<boolean>;
  /** What the client gets when it may not, and the origin has nothing built to answer with. */
  refused(name: string, tag: string): RegistryError;
}

/** The limiter key of a request: its user when it has one, else its address. */
export function clientKey(request: Request, user: string | null): string {
  if (user) return `user:${user}`;
  return `client:${request.headers.get("CF-Connecting-IP") ?? "unknown"}`;
}

/** Cold builds counted per client by the binding; null without one (nothing is limited). */
export function rateLimitedBuilds(binding: RateLimit | null, key: string): BuildAdmission | null {
  if (!binding) return null;
  return {
    mayBuild: async (cold) => !cold || (await binding.limit({ key })).success,
    refused: (name, tag) =>
      new RegistryError(
        "TOOMANYREQUESTS",
        `${name}:${tag} is not built yet, and this client has started as many new images as it may for now; try again in ${coldBuildRetrySeconds} s (images already built pull without limit)`,
        { reason: "cold_build_limit" },
        { headers: { "Retry-After": String(coldBuildRetrySeconds) } },
      ),
  };
}

/** An anonymous client where only users build: it pulls what exists, never starts a build. */
export function noBuilds(refused: (name: string, tag: string) => RegistryError): BuildAdmission {
  return { mayBuild: async () => false, refused };
}
