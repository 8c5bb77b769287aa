// The data-centre-local Cache API in front of KV and R2: tag answers (keyed by image, tag and
// what the client takes: a manifest flavour and maybe an index, since tag responses vary on
// Accept), manifests and blobs by digest, and the marks of login limiter keys that must wait
// (worker/auth/login-limiter.ts). The only
// code that touches `caches`. Entries live under a private path of the edge's own host. Their
// Cache-Control only tells the Cache API how long to keep them: they are never sent to clients
// (shared/cache-policy.ts decides what clients are told).

import { isDigest, type Digest } from "../shared/digest.ts";
import type { StoredManifest } from "../shared/registry-handler.ts";
import type { CachedTag, DigestCache, TagCache } from "./edge-deps.ts";

/** Blobs above this size are not put in the Cache API (R2 serves them). */
export const maxCachedBlobBytes = 512 * 1024 * 1024;
const immutableSeconds = 31536000;
const expiresHeader = "X-Edge-Expires-At";
const revisionHeader = "X-Edge-Revision";

export class EdgeCache implements TagCache, DigestCache {
  readonly #cache: Cache;
  readonly #base: string;

  /** `base` is the edge's own origin (scheme and host of the incoming request). */
  constructor(cache: Cache, base: string) {
    this.#cache = cache;
    this.#base = base;
  }

  #key(path: string): Request {
    return new Request(`${this.#base}/_edge-cache/${path}`);
  }

  /** `answer` is shared/media-types.ts' wantedKey, e.g. "docker" or "docker+docker-index". */
  #tagKey(canonicalName: string, tag: string, answer: string): Request {
    return this.#key(
      `tags/${canonicalName}/${encodeURIComponent(tag)}?answer=${encodeURIComponent(answer)}`,
    );
  }

  async matchTag(
    canonicalName: string,
    tag: string,
    answer: string,
    now: number,
  ): Promise<CachedTag | null> {
    const response = await this.#cache.match(this.#tagKey(canonicalName, tag, answer));
    if (!response) return null;
    const manifest = await readManifest(response);
    const expiresAt = Number(response.headers.get(expiresHeader));
    if (!manifest || !(expiresAt > now)) return null;
    return { manifest, expiresAt, revision: response.headers.get(revisionHeader) };
  }

  async putTag(
    canonicalName: string,
    tag: string,
    answer: string,
    entry: CachedTag,
    now: number,
  ): Promise<void> {
    const seconds = Math.floor((entry.expiresAt - now) / 1000);
    if (seconds <= 0) return;
    await this.#cache.put(
      this.#tagKey(canonicalName, tag, answer),
      manifestEntry(entry.manifest, seconds, {
        [expiresHeader]: String(entry.expiresAt),
        ...(entry.revision ? { [revisionHeader]: entry.revision } : {}),
      }),
    );
  }

  async matchManifest(digest: Digest): Promise<StoredManifest | null> {
    const response = await this.#cache.match(this.#key(`manifests/${digest}`));
    return response ? readManifest(response) : null;
  }

  async putManifest(manifest: StoredManifest): Promise<void> {
    await this.#cache.put(
      this.#key(`manifests/${manifest.digest}`),
      manifestEntry(manifest, immutableSeconds, {}),
    );
  }

  /** A cached blob's size and body, or null. */
  async matchBlob(
    digest: Digest,
  ): Promise<{ size: number; body: ReadableStream<Uint8Array> } | null> {
    const response = await this.#cache.match(this.#key(`blobs/${digest}`));
    if (!response?.body) return null;
    const size = Number(response.headers.get("Content-Length"));
    if (!Number.isSafeInteger(size)) {
      await response.body.cancel();
      return null;
    }
    return { size, body: response.body };
  }

  /** Until when (epoch ms) a login limiter key (a hash) must wait, or null. */
  async matchLoginBlock(keyHash: string): Promise<number | null> {
    const response = await this.#cache.match(this.#key(`login-limited/${keyHash}`));
    if (!response) return null;
    await response.body?.cancel();
    const until = Number(response.headers.get(expiresHeader));
    return Number.isFinite(until) ? until : null;
  }

  async putLoginBlock(keyHash: string, until: number, now: number): Promise<void> {
    const seconds = Math.ceil((until - now) / 1000);
    if (seconds <= 0) return;
    await this.#cache.put(
      this.#key(`login-limited/${keyHash}`),
      new Response(null, {
        headers: { [expiresHeader]: String(until), "Cache-Control": `public, max-age=${seconds}` },
      }),
    );
  }

  async putBlob(digest: Digest, size: number, body: ReadableStream<Uint8Array>): Promise<void> {
    const fixed = new FixedLengthStream(size);
    body.pipeTo(fixed.writable).catch(() => {});
    await this.#cache.put(
      this.#key(`blobs/${digest}`),
      new Response(fixed.readable, {
        headers: {
          "Content-Type": "application/octet-stream",
          "Cache-Control": `public, max-age=${immutableSeconds}, immutable`,
        },
      }),
    );
  }
}

function manifestEntry(
  manifest: StoredManifest,
  seconds: number,
  extra: Record<string, string>,
): Response {
  return new Response(manifest.bytes, {
    headers: {
      ...extra,
      "Content-Type": manifest.mediaType,
      "Docker-Content-Digest": manifest.digest,
      "Cache-Control": `public, max-age=${seconds}`,
    },
  });
}

async function readManifest(response: Response): Promise<StoredManifest | null> {
  const digest = response.headers.get("Docker-Content-Digest");
  const mediaType = response.headers.get("Content-Type");
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (!digest || !isDigest(digest) || !mediaType) return null;
  return { digest, mediaType, bytes };
}
