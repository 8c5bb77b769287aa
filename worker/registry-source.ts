// The edge's RegistrySource: a composition of the Cache API, KV, R2 and the origin. Manifests by
// tag: Cache API → KV → origin. Digest-addressed objects: Cache API → R2 → origin. What comes
// from the origin is verified against its digest before it is stored; a KV miss is never proof
// of absence. Invariant: a KV tag record is written only after its manifests are in R2.

import type { Digest } from "../shared/digest.ts";
import { RegistryError } from "../shared/errors.ts";
import { canonicalImageName, type ImageRequest } from "../shared/image-name.ts";
import { wantedKey, type ManifestWanted } from "../shared/media-types.ts";
import {
  selectManifest,
  tagManifestDigests,
  type TagManifests,
} from "../shared/origin-protocol.ts";
import type { RangeRequest } from "../shared/range.ts";
import type {
  BlobRead,
  RegistrySource,
  StoredManifest,
  TagAnswer,
} from "../shared/registry-handler.ts";
import { isFresh, remainingSeconds, tagRecordFrom, type TagRecord } from "../shared/tag-record.ts";
import { BlobBackfill } from "./blob-backfill.ts";
import type { AnswerLayer } from "./access-log.ts";
import type { BuildAdmission } from "./cold-build-admission.ts";
import { maxCachedBlobBytes } from "./edge-cache.ts";
import type { EdgeDeps } from "./edge-deps.ts";
import { logEvent } from "./log.ts";
import { OriginUnreachable } from "./origin-client.ts";

/** A request's stores and origin (worker/edge-deps.ts), and what it asks for. */
export interface EdgeSourceDeps extends Pick<
  EdgeDeps,
  "tags" | "manifests" | "blobs" | "cache" | "copies" | "origin" | "waitUntil" | "now"
> {
  /** The repository name of the request, used in origin URLs for digest reads. */
  repository: string;
  /** Whether this request may make the origin build (cold-build limits); null: it may. */
  admission: BuildAdmission | null;
}

// Nothing here outlives a request: concurrent misses for one tag each ask the origin, whose job
// table runs one build for all of them; blobs follow blob-backfill.ts.

export class EdgeRegistrySource implements RegistrySource {
  readonly #deps: EdgeSourceDeps;
  readonly #now: () => number;
  readonly #backfill: BlobBackfill;
  /**
   * Which layer answered this request's last manifest or blob (for the access log). Set where
   * each public method returns, so the outer call wins: a tag answered from its KV record is
   * "kv" although the manifest itself came from R2.
   */
  answeredBy: AnswerLayer | null = null;

  constructor(deps: EdgeSourceDeps) {
    this.#deps = deps;
    this.#now = deps.now;
    this.#backfill = new BlobBackfill(deps);
  }

  async manifestForTag(
    image: ImageRequest,
    tag: string,
    wanted: ManifestWanted,
  ): Promise<TagAnswer> {
    const { cache, tags } = this.#deps;
    const canonical = canonicalImageName(image);
    const answerKey = wantedKey(wanted);
    const cached = await cache.matchTag(canonical, tag, answerKey, this.#now());
    if (cached) {
      this.answeredBy = "cache";
      const maxAgeSeconds = Math.max(0, Math.floor((cached.expiresAt - this.#now()) / 1000));
      return { manifest: cached.manifest, maxAgeSeconds, revision: cached.revision };
    }

    const record = await tags.getTagRecord(canonical, tag);
    if (record && isFresh(record, this.#now())) {
      const manifest = await this.#answerOf(record, wanted);
      if (manifest) {
        this.answeredBy = "kv";
        return this.#cacheTag(canonical, tag, answerKey, record, manifest);
      }
    }

    const started = this.#now();
    let fresh: TagRecord;
    try {
      fresh = await this.#resolve(image.name, tag, canonical, record === null);
    } catch (error) {
      if (!isOriginOutage(error)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      if (record) return this.#stale(record, wanted, reason);
      if (!(error instanceof OriginUnreachable)) throw error;
      logEvent("origin unreachable", { image: image.name, tag, reason });
      throw new RegistryError(
        "ORIGIN_UNAVAILABLE",
        `the image builder is unreachable and ${image.name}:${tag} has not been built at this edge before; try again later`,
        { reason },
      );
    }
    const digest = selectManifest(fresh, wanted).digest;
    logEvent("tag resolved", { image: image.name, tag, digest, ms: this.#now() - started });
    const manifest = await this.manifestByDigest(digest);
    if (!manifest) {
      throw new RegistryError(
        "MANIFEST_UNKNOWN",
        `the builder lost the manifest of ${image.name}:${tag}`,
      );
    }
    this.answeredBy = "origin";
    return this.#cacheTag(canonical, tag, answerKey, fresh, manifest);
  }

  /**
   * The manifest a record answers `wanted` with, or null when it or (for an index) a manifest the
   * index lists is at neither this edge nor the origin: an index is served only with every child.
   */
  async #answerOf(record: TagRecord, wanted: ManifestWanted): Promise<StoredManifest | null> {
    const manifest = await this.manifestByDigest(selectManifest(record, wanted).digest);
    if (!manifest || !record.index || !wanted.index) return manifest;
    const flavour = wanted.index;
    const children = await Promise.all(
      record.index.platforms.map((p) => this.manifestByDigest(p.manifests[flavour].digest)),
    );
    return children.includes(null) ? null : manifest;
  }

  /**
   * Asks the origin, stores every manifest the answer names in R2 (both flavours, and with an
   * index the index and every platform's), then the tag record in KV.
   */
  async #resolve(name: string, tag: string, canonical: string, cold: boolean): Promise<TagRecord> {
    const result = await this.#fromOrigin(name, tag, cold);
    const record = tagRecordFrom(result, this.#now());
    const stored = await Promise.all(
      tagManifestDigests(record).map((digest) => this.manifestByDigest(digest)),
    );
    if (stored.includes(null)) {
      throw new RegistryError("MANIFEST_UNKNOWN", `the builder lost a manifest of ${name}:${tag}`);
    }
    this.#deps.waitUntil(
      this.#deps.tags
        .putTagRecord(canonical, record)
        .catch(logFailure("kv put", { image: name, tag })),
    );
    return record;
  }

  /**
   * The origin's answer for a tag: a build when this request may start one, else only what the
   * origin already has (so a client past its cold-build limit still pulls built images).
   */
  async #fromOrigin(name: string, tag: string, cold: boolean): Promise<TagManifests> {
    const { origin, admission } = this.#deps;
    if (!admission || (await admission.mayBuild(cold))) return origin.resolveTag(name, tag);
    const existing = await origin.existingTag(name, tag);
    if (existing) return existing;
    logEvent("build refused", { image: name, tag, reason: "admission" });
    throw admission.refused(name, tag);
  }

  #cacheTag(
    canonical: string,
    tag: string,
    answerKey: string,
    record: TagRecord,
    manifest: StoredManifest,
  ): TagAnswer {
    const now = this.#now();
    this.#deps.waitUntil(
      this.#deps.cache
        .putTag(
          canonical,
          tag,
          answerKey,
          { manifest, expiresAt: record.expiresAt, revision: record.revision },
          now,
        )
        .catch(logFailure("cache put", { tag })),
    );
    return { manifest, maxAgeSeconds: remainingSeconds(record, now), revision: record.revision };
  }

  async #stale(record: TagRecord, wanted: ManifestWanted, reason: string): Promise<TagAnswer> {
    const digest = selectManifest(record, wanted).digest;
    const manifest = await this.#answerOf(record, wanted).catch(() => null);
    if (!manifest)
      throw new RegistryError("ORIGIN_UNAVAILABLE", "the image builder is unreachable", { reason });
    logEvent("serving stale tag", {
      image: record.name,
      tag: record.tag,
      digest,
      reason,
      ageSeconds: Math.floor((this.#now() - record.resolvedAt) / 1000),
    });
    this.answeredBy = "stale";
    return {
      manifest,
      maxAgeSeconds: 0,
      revision: record.revision,
      headers: { "X-Nixery-Stale": "true", Warning: '110 - "Response is Stale"' },
    };
  }

  /** Tags come from the origin (they are the package source's refs); `latest` while it is down. */
  async listTags(): Promise<string[]> {
    try {
      return await this.#deps.origin.listTags(this.#deps.repository);
    } catch (error) {
      if (!isOriginOutage(error)) throw error;
      return ["latest"];
    }
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

function isOriginOutage(error: unknown): boolean {
  return (
    error instanceof OriginUnreachable || (error instanceof RegistryError && error.status >= 500)
  );
}

function outageError(error: unknown, what: string): unknown {
  if (!(error instanceof OriginUnreachable)) return error;
  return new RegistryError("ORIGIN_UNAVAILABLE", `the image builder is unreachable and ${what}`, {
    reason: error.message,
  });
}

function logFailure(what: string, fields: Record<string, string>) {
  return (error: unknown) =>
    logEvent(`${what} failed`, {
      ...fields,
      reason: error instanceof Error ? error.message : String(error),
    });
}
