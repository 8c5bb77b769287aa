// The one place that decides what registry responses tell caches (browsers, proxies, CDNs).
// Digest-addressed content never changes; a tag's answer may be kept for the time the origin
// allows; errors and tag lists are never kept. Responses of a public instance may be kept by
// shared caches; a private instance (one that requires credentials) must say `private`, so no
// shared cache ever serves one user's image to another: pass its visibility here.

export type Visibility = "public" | "private";

const yearSeconds = 31536000;

/** Manifests and blobs by digest. */
export function digestCacheControl(visibility: Visibility): string {
  return `${visibility}, max-age=${yearSeconds}, immutable`;
}

/** A tag's manifest, kept `maxAgeSeconds` (0: revalidate every time). */
export function tagCacheControl(maxAgeSeconds: number, visibility: Visibility): string {
  return maxAgeSeconds > 0 ? `${visibility}, max-age=${maxAgeSeconds}` : "no-cache";
}

/** Tag lists and errors: answers that must never be reused. */
export const uncachedControl = "no-store";
