// Digest-addressed reads at the edge: Cache API → R2 → origin, for manifests and blobs. What comes
// from the origin is verified against its digest (worker/origin-client.ts, blob-backfill.ts) before
// it is stored; verified bytes are served even when storing them fails.

import type { Digest } from "../shared/digest.ts";
import type { RangeRequest } from "../shared/range.ts";
import type { BlobRead, StoredManifest } from "../shared/registry-handler.ts";
import type { AnswerLayer } from "./access-log.ts";
import { BlobBackfill } from "./blob-backfill.ts";
import { maxCachedBlobBytes } from "./edge-cache.ts";
import type { EdgeDeps } from "./edge-deps.ts";
import { logEvent } from "./log.ts";
import { logFailure, outageError } from "./source-failures.ts";

/** The stores and origin a digest read uses, and the repository named in origin URLs. */
export interface DigestSourceDeps extends Pick<
  EdgeDeps,
  "manifests" | "blobs" | "cache" | "copies" | "origin" | "waitUntil" | "now"
> {
  /** The repository name of the request, used in origin URLs for digest reads. */
  repository: string;
}

export class EdgeDigestSource {
  readonly #deps: DigestSourceDeps;
  readonly #backfill: BlobBackfill;
  /**
   * Which layer answered this request's last manifest or blob (for the access log). Set where
   * each public method returns, so the outer call wins: a tag answered from its KV record is
   * "kv" although the manifest itself came from R2.
   */
  answeredBy: AnswerLayer | null = null;

  constructor(deps: DigestSourceDeps) {
    this.#deps = deps;
    this.#backfill = new BlobBackfill(deps);
  }

  async manifestByDigest(digest: Digest): Promise<StoredManifest | null> {
    const { cache, manifests, origin, waitUntil, repository } = this.#deps;
    const cached = await cache.matchManifest(digest);
    if (cached) {
      this.answeredBy = "cache";
      return cached;
    }
    const stored = await manifests.getManifest(digest);
    if (stored) {
      this.answeredBy = "r2";
      waitUntil(cache.putManifest(stored).catch(logFailure("cache put", { digest })));
      return stored;
    }
    let fetched: StoredManifest | null;
    try {
      fetched = await origin.fetchManifest(repository, digest);
    } catch (error) {
      throw outageError(error, `manifest ${digest} is not at this edge`);
    }
    if (!fetched) return null;
    this.answeredBy = "origin";
    // Verified bytes: serve them even if storing fails (a concurrent put of the same key may be
    // refused by R2's one-write-per-second limit); the next request stores them again.
    await manifests
      .putManifest(fetched)
      .then(
        () => logEvent("manifest backfilled", { image: repository, digest }),
        logFailure("manifest put", { digest }),
      );
    return fetched;
  }

  async readBlob(
    digest: Digest,
    range: RangeRequest,
    method: "GET" | "HEAD",
  ): Promise<BlobRead | null> {
    const { cache, blobs, manifests, waitUntil } = this.#deps;
    if (method === "HEAD") {
      const size = await blobs.size(digest);
      if (size !== null) {
        this.answeredBy = "r2";
        return { size, range: range.resolve(size), body: null };
      }
    } else {
      const cached = await cache.matchBlob(digest);
      if (cached) {
        const span = resolveOrCancel(range, cached.size, cached.body);
        if (!span) {
          this.answeredBy = "cache";
          return { size: cached.size, range: null, body: cached.body };
        }
        await cached.body.cancel();
      }
      const stored = await blobs.read(digest, range);
      if (stored) {
        this.answeredBy = "r2";
        if (!cached && !stored.range && stored.size <= maxCachedBlobBytes) {
          const [toClient, toCache] = stored.body.tee();
          waitUntil(
            cache.putBlob(digest, stored.size, toCache).catch(logFailure("cache put", { digest })),
          );
          return { ...stored, body: toClient };
        }
        return stored;
      }
    }
    // Manifests are blobs too: let the handler serve them from the manifest path.
    if (await manifests.hasManifest(digest)) return null;
    try {
      const read = await this.#backfill.read(digest, range, method);
      if (read) this.answeredBy = "origin";
      return read;
    } catch (error) {
      throw outageError(error, `blob ${digest} is not at this edge`);
    }
  }
}

function resolveOrCancel(
  range: RangeRequest,
  size: number,
  body: ReadableStream,
): ReturnType<RangeRequest["resolve"]> {
  try {
    return range.resolve(size);
  } catch (error) {
    void body.cancel();
    throw error;
  }
}
