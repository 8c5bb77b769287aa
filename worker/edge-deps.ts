// What the edge app is built from, as capability-sized interfaces: the stores (KV, R2, the Cache
// API, the isolate's blob-copy records) and the origin. worker/index.ts builds the real ones from
// the bindings for each request; the unit tests beside this code build them around an in-memory
// origin. Nothing here is shared across requests except plain values (see blob-copies.ts).

import type { Digest } from "../shared/digest.ts";
import type { LoginLimiter } from "../shared/login-check.ts";
import type { TagManifests } from "../shared/origin-protocol.ts";
import type { ByteRange, RangeRequest } from "../shared/range.ts";
import type { StoredManifest } from "../shared/registry-handler.ts";
import type { TagRecord } from "../shared/tag-record.ts";
import type { AccessLogVariables } from "./access-log.ts";
import type { EdgeAccess } from "./auth/edge-guard.ts";

/** Tag → manifest records (KV). */
export interface TagRecordStore {
  getTagRecord(canonicalName: string, tag: string): Promise<TagRecord | null>;
  /** Callers store the record's manifests first. */
  putTagRecord(canonicalName: string, record: TagRecord): Promise<void>;
}

/** Whether a manifest's use was reported to the origin on a day (UTC, YYYY-MM-DD; KV). */
export interface UsageMarkStore {
  isMarked(digest: string, day: string): Promise<boolean>;
  mark(digest: string, day: string): Promise<void>;
}

/** Manifests by digest (R2). */
export interface ManifestStore {
  getManifest(digest: Digest): Promise<StoredManifest | null>;
  hasManifest(digest: Digest): Promise<boolean>;
  /** Stores verified bytes. */
  putManifest(manifest: StoredManifest): Promise<void>;
}

export interface StoredBlob {
  size: number;
  range: ByteRange | null;
  body: ReadableStream<Uint8Array>;
}

export interface BlobReader {
  size(digest: Digest): Promise<number | null>;
  /** The blob, or the span the request's Range picks; null when it is not stored. */
  read(digest: Digest, range: RangeRequest): Promise<StoredBlob | null>;
}

export interface BlobWriter {
  /** Stores exactly `size` bytes; a short or corrupt body is refused and leaves nothing. */
  put(digest: Digest, body: ReadableStream<Uint8Array>, size: number): Promise<void>;
}

export interface CachedTag {
  manifest: StoredManifest;
  /** Epoch milliseconds when the tag answer stops being fresh. */
  expiresAt: number;
  revision: string | null;
}

/** The data-centre-local cache of tag answers (Cache API). */
export interface TagCache {
  matchTag(
    canonicalName: string,
    tag: string,
    answer: string,
    now: number,
  ): Promise<CachedTag | null>;
  putTag(
    canonicalName: string,
    tag: string,
    answer: string,
    entry: CachedTag,
    now: number,
  ): Promise<void>;
}

/** The data-centre-local cache of digest-addressed content (Cache API). */
export interface DigestCache {
  matchManifest(digest: Digest): Promise<StoredManifest | null>;
  putManifest(manifest: StoredManifest): Promise<void>;
  matchBlob(digest: Digest): Promise<{ size: number; body: ReadableStream<Uint8Array> } | null>;
  putBlob(digest: Digest, size: number, body: ReadableStream<Uint8Array>): Promise<void>;
}

export type CopyState =
  /** The leader is streaming the blob into R2; wait for the object there. */
  | "copying"
  /** The origin does not have the blob: followers answer 404 without asking again. */
  | "absent"
  /** The blob is too large for R2: followers stream from the origin themselves. */
  | "unstorable";

/** One leader's copy of a blob into R2, as plain values a follower may read. */
export interface CopyRecord {
  /** Identifies one leader, so a stale leader's cleanup never removes its successor's record. */
  readonly id: number;
  state: CopyState;
  /** Bytes that have passed towards R2 so far. */
  copied: number;
  /** Epoch ms of the last progress (or of the claim). */
  updatedAt: number;
}

/** Which blobs this isolate is copying into R2, and how far each copy got (plain values). */
export interface CopyTable {
  /** The live record for `digest`, if another request is copying it (or just found it absent). */
  current(digest: Digest, now: number): CopyRecord | null;
  /** Makes the caller the leader unless a live copy exists (then null); synchronous. */
  claim(digest: Digest, now: number): CopyRecord | null;
  /** Ends a leader's copy: "stored" and "failed" remove the record, other outcomes stay. */
  finish(
    digest: Digest,
    record: CopyRecord,
    outcome: "stored" | "failed" | Exclude<CopyState, "copying">,
    now: number,
  ): void;
}

export interface OriginBlob {
  size: number;
  body: ReadableStream<Uint8Array>;
}

/** What the edge asks of the origin (worker/origin-client.ts over HTTP). */
export interface OriginReader {
  /** Builds (or finds) the image for name:tag, waiting for the build. */
  resolveTag(name: string, tag: string): Promise<TagManifests>;
  /** The image if it is built or being built, never starting a build; null when there is none. */
  existingTag(name: string, tag: string): Promise<TagManifests | null>;
  /** A manifest by digest, verified against it; null when the origin does not know it. */
  fetchManifest(name: string, digest: Digest): Promise<StoredManifest | null>;
  listTags(name: string): Promise<string[]>;
  blobSize(name: string, digest: Digest): Promise<number | null>;
  /** A blob, or a span of it (unverified); null when the origin does not know it. */
  fetchBlob(name: string, digest: Digest, range?: ByteRange): Promise<OriginBlob | null>;
  /** Tells the origin's storage collector that these manifests were served from the edge. */
  reportUsage(digests: readonly string[]): Promise<void>;
  /** The web pages' data (/api/…), answered as the origin answers it (worker/web-routes.ts). */
  web(
    path: string,
    init: { method?: string; client: string; signal?: AbortSignal },
  ): Promise<Response>;
  /** The origin's answer to a package API GET (path and query); its registry errors thrown. */
  packageApi(pathAndQuery: string, init?: { signal?: AbortSignal }): Promise<Response>;
}

/** Everything one request of the edge app works with. */
export interface EdgeDeps {
  tags: TagRecordStore;
  usageMarks: UsageMarkStore;
  manifests: ManifestStore;
  blobs: BlobReader & BlobWriter;
  cache: TagCache & DigestCache;
  copies: CopyTable;
  origin: OriginReader;
  /** Whether an origin is configured (the start page says so; usage is reported only then). */
  originConfigured: boolean;
  /** Whether the edge is meant to be private (the start page says so). */
  isPrivate: boolean;
  /** A private edge's users and keys; null when public. Throws when misconfigured. */
  access(): EdgeAccess | null;
  loginLimiter: LoginLimiter;
  /** Counts cold builds per client; null: nothing is limited. */
  buildLimiter: RateLimit | null;
  /** The Analytics Engine dataset the access log writes to; null without the binding. */
  analytics: AnalyticsEngineDataset | null;
  waitUntil(promise: Promise<unknown>): void;
  now(): number;
}

/** What the runtime gives a request besides its bindings. */
export interface RequestContext {
  waitUntil(promise: Promise<unknown>): void;
}

/** Builds one request's dependencies (worker/index.ts: from the bindings). */
export type EdgeDepsFor<Bindings> = (
  request: Request,
  env: Bindings,
  ctx: RequestContext,
) => EdgeDeps;

/** The app's context: the bindings, and per request its dependencies and access-log notes. */
export type EdgeAppEnv<Bindings> = {
  Bindings: Bindings;
  Variables: AccessLogVariables & { deps: EdgeDeps };
};
