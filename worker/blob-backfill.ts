// Blob misses: the origin's body is verified as it streams to the client, and a second read of
// it is copied into R2 (verified too, under waitUntil), so the first pull is served at origin
// speed and the next one from R2. Only verified, complete bytes are stored; a corrupt body ends the client's stream with
// an error instead of its last bytes.
//
// Concurrent misses for one blob in one isolate: the first request leads (it streams from the
// origin and copies into R2); the others follow by waiting on R2 with a deadline, reading only
// plain values about the leader's progress (blob-copies.ts). Nothing of the leader's request
// (its promises, its streams) is awaited by a follower: when the leader's client goes away or its
// copy fails, followers notice that the copy stopped and one of them takes over.

import type { Digest } from "../shared/digest.ts";
import type { ByteRange, RangeRequest } from "../shared/range.ts";
import type { BlobRead } from "../shared/registry-handler.ts";
import { recordClientProgress, recordProgress } from "./blob-copies.ts";
import { maxSinglePutBytes } from "./blob-store.ts";
import type { BlobReader, BlobWriter, CopyRecord, CopyTable, OriginReader } from "./edge-deps.ts";
import { logEvent } from "./log.ts";
import { verifiedStream, withLength } from "./verify.ts";

/** A follower that has waited this long streams from the origin itself (without storing). */
export const maxFollowerWaitMs = 60_000;
const firstPollMs = 20;
const maxPollMs = 250;

export interface BlobBackfillDeps {
  blobs: BlobReader & BlobWriter;
  copies: CopyTable;
  origin: OriginReader;
  waitUntil: (promise: Promise<unknown>) => void;
  repository: string;
  now: () => number;
}

type FollowOutcome =
  | { kind: "stored"; blob: BlobRead }
  | { kind: "absent" }
  | { kind: "stream" }
  | { kind: "take over" };

export class BlobBackfill {
  readonly #deps: BlobBackfillDeps;
  readonly #now: () => number;

  constructor(deps: BlobBackfillDeps) {
    this.#deps = deps;
    this.#now = deps.now;
  }

  async read(
    digest: Digest,
    range: RangeRequest,
    method: "GET" | "HEAD",
  ): Promise<BlobRead | null> {
    const { origin, repository, copies } = this.#deps;
    if (method === "HEAD") {
      const size = await origin.blobSize(repository, digest);
      return size === null ? null : { size, range: range.resolve(size), body: null };
    }
    const started = this.#now();
    for (;;) {
      const claimed = copies.claim(digest, this.#now());
      if (claimed) return this.#lead(digest, range, claimed);
      const leader = copies.current(digest, this.#now())!;
      const outcome = await this.#follow(digest, range, leader, started);
      switch (outcome.kind) {
        case "stored":
          return outcome.blob;
        case "absent":
          return null;
        case "stream":
          return this.#stream(digest, range);
        case "take over":
          logEvent("blob copy taken over", { digest, copied: leader.copied });
          continue;
      }
    }
  }

  /** Waits on R2 while the leader's copy moves; says what to do when it does not end there. */
  async #follow(
    digest: Digest,
    range: RangeRequest,
    leader: CopyRecord,
    started: number,
  ): Promise<FollowOutcome> {
    let pause = firstPollMs;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, maxPollMs);
      if (leader.state === "absent") return { kind: "absent" };
      if (leader.state === "unstorable") return { kind: "stream" };
      const stored = await this.#deps.blobs.read(digest, range);
      if (stored) return { kind: "stored", blob: stored };
      if (this.#deps.copies.current(digest, this.#now()) !== leader) return { kind: "take over" };
      if (this.#now() - started > maxFollowerWaitMs) return { kind: "stream" };
    }
  }

  /**
   * Streams from the origin to the client, verified, then copies the whole blob into R2 from a
   * second origin read, once the client's stream has ended (completed, failed or cancelled). The
   * client's stream is not teed into the copy, and the copy does not run beside it: a tee runs at
   * the pace of its slower branch, and a concurrent copy (hashing, R2's own checksum) competes
   * for the same CPU; either made the first pull of a 100 MB layer many times slower than the
   * origin. Followers see the client's progress too, so they keep waiting rather than take over.
   */
  async #lead(digest: Digest, range: RangeRequest, record: CopyRecord): Promise<BlobRead | null> {
    const { origin, repository, copies } = this.#deps;
    let copying = false;
    try {
      const blob = await origin.fetchBlob(repository, digest);
      if (!blob) {
        copies.finish(digest, record, "absent", this.#now());
        return null;
      }
      const storable = blob.size <= maxSinglePutBytes;
      if (!storable) {
        copies.finish(digest, record, "unstorable", this.#now());
        logEvent("blob too large to store", { digest, size: blob.size });
      }
      let span: ByteRange | null;
      try {
        span = range.resolve(blob.size);
      } catch (error) {
        await blob.body.cancel().catch(() => {});
        if (storable) this.#copy(digest, record, blob.size, Promise.resolve());
        copying = storable;
        throw error;
      }
      if (span) {
        await blob.body.cancel().catch(() => {});
        copying = storable;
        if (storable) this.#copy(digest, record, blob.size, Promise.resolve());
        return await this.#span(digest, blob.size, span);
      }
      const clientDone = Promise.withResolvers<void>();
      const verified = verifiedStream(blob.body, digest, blob.size, {
        onBytes: () => recordClientProgress(record, this.#now()),
        onEnd: () => clientDone.resolve(),
      });
      copying = storable;
      if (storable) this.#copy(digest, record, blob.size, clientDone.promise);
      return { size: blob.size, range: null, body: withLength(verified, blob.size) };
    } catch (error) {
      if (!copying) copies.finish(digest, record, "failed", this.#now());
      throw error;
    }
  }

  /**
   * Reads the blob from the origin into R2 under waitUntil once `after` settles, recording
   * progress for followers.
   */
  #copy(digest: Digest, record: CopyRecord, size: number, after: Promise<void>): void {
    const { blobs, copies, origin, repository, waitUntil } = this.#deps;
    const now = this.#now;
    let started = now();
    const storing = (async () => {
      await after;
      started = now();
      recordClientProgress(record, started);
      const blob = await origin.fetchBlob(repository, digest);
      if (!blob) throw new Error("the origin no longer has the blob");
      const verified = verifiedStream(blob.body, digest, size, {
        onBytes: (bytes) => recordProgress(record, bytes, now()),
      });
      await blobs.put(digest, verified, size);
    })().then(
      () => {
        copies.finish(digest, record, "stored", this.#now());
        logEvent("blob backfilled", { digest, size, ms: this.#now() - started });
      },
      (error: unknown) => {
        copies.finish(digest, record, "failed", this.#now());
        logEvent("blob backfill refused", { digest, reason: (error as Error).message });
      },
    );
    waitUntil(storing);
  }

  /**
   * A range on a miss is forwarded to the origin, unverified (the client checks the whole blob);
   * the whole blob is being stored meanwhile, so the next request is served by R2.
   */
  async #span(digest: Digest, size: number, span: ByteRange): Promise<BlobRead | null> {
    const part = await this.#deps.origin.fetchBlob(this.#deps.repository, digest, span);
    if (!part) return null;
    return { size, range: span, body: withLength(part.body, span.end - span.start + 1) };
  }

  /** A follower that cannot wait: its own origin stream, verified, not stored. */
  async #stream(digest: Digest, range: RangeRequest): Promise<BlobRead | null> {
    const blob = await this.#deps.origin.fetchBlob(this.#deps.repository, digest);
    if (!blob) return null;
    let span: ByteRange | null;
    try {
      span = range.resolve(blob.size);
    } catch (error) {
      await blob.body.cancel().catch(() => {});
      throw error;
    }
    if (span) {
      await blob.body.cancel().catch(() => {});
      return this.#span(digest, blob.size, span);
    }
    const verified = verifiedStream(blob.body, digest, blob.size);
    return { size: blob.size, range: null, body: withLength(verified, blob.size) };
  }
}
