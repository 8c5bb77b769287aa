// The edge's RegistrySource: manifests by tag, Cache API → KV → origin, over the digest-addressed
// reads of worker/digest-source.ts (Cache API → R2 → origin). A KV miss is never proof of
// absence; while the origin is down a tag's last record answers, marked stale. Invariant: a KV tag
// record is written only after its manifests are in R2.

import { RegistryError } from "../shared/errors.ts";
import { canonicalImageName, type ImageRequest } from "../shared/image-name.ts";
import { wantedKey, type ManifestWanted } from "../shared/media-types.ts";
import {
  selectManifest,
  tagManifestDigests,
  type TagManifests,
} from "../shared/origin-protocol.ts";
import type { RegistrySource, StoredManifest, TagAnswer } from "../shared/registry-handler.ts";
import { isFresh, remainingSeconds, tagRecordFrom, type TagRecord } from "../shared/tag-record.ts";
import type { BuildAdmission } from "./cold-build-admission.ts";
import { EdgeDigestSource, type DigestSourceDeps } from "./digest-source.ts";
import type { EdgeDeps } from "./edge-deps.ts";
import { logEvent } from "./log.ts";
import { OriginUnreachable } from "./origin-errors.ts";
import { isOriginOutage, logFailure } from "./source-failures.ts";

/** A request's stores and origin (worker/edge-deps.ts), and what it asks for. */
export interface EdgeSourceDeps extends DigestSourceDeps, Pick<EdgeDeps, "tags"> {
  /** Whether this request may make the origin build (cold-build limits); null: it may. */
  admission: BuildAdmission | null;
}

// Nothing here outlives a request: concurrent misses for one tag each ask the origin, whose job
// table runs one build for all of them; blobs follow blob-backfill.ts.

export class EdgeRegistrySource extends EdgeDigestSource implements RegistrySource {
  readonly #deps: EdgeSourceDeps;
  readonly #now: () => number;

  constructor(deps: EdgeSourceDeps) {
    super(deps);
    this.#deps = deps;
    this.#now = deps.now;
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
}
