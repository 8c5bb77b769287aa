// Which blobs this isolate is copying from the origin into R2 right now, as plain values only.
// workerd forbids one request from using another's I/O objects (streams, promises that settle on
// its I/O), and a promise whose request was cancelled can stay pending forever; so followers never
// await a leader. They read this record (a number that grows as the leader's bytes pass) and wait
// on R2 themselves, taking over when the record disappears without an object or stops moving.

import type { Digest } from "../shared/digest.ts";
import type { CopyRecord, CopyState, CopyTable } from "./edge-deps.ts";

/** A copy that has not moved for this long is taken over (its request may have been cancelled). */
export const stalledAfterMs = 5_000;
/** Records kept at most; the oldest are dropped first (outcomes are only a hint). */
const maxRecords = 1_000;

/** One isolate's copy records (worker/index.ts keeps one table for the isolate's life). */
export class IsolateCopyTable implements CopyTable {
  #nextId = 1;
  readonly #records = new Map<Digest, CopyRecord>();

  current(digest: Digest, now: number): CopyRecord | null {
    const record = this.#records.get(digest);
    if (!record) return null;
    if (record.state === "copying" && now - record.updatedAt > stalledAfterMs) return null;
    return record;
  }

  claim(digest: Digest, now: number): CopyRecord | null {
    const live = this.current(digest, now);
    if (live?.state === "copying") return null;
    const record: CopyRecord = { id: this.#nextId++, state: "copying", copied: 0, updatedAt: now };
    this.#records.delete(digest);
    this.#records.set(digest, record);
    if (this.#records.size > maxRecords) this.#records.delete(this.#records.keys().next().value!);
    return record;
  }

  finish(
    digest: Digest,
    record: CopyRecord,
    outcome: "stored" | "failed" | Exclude<CopyState, "copying">,
    now: number,
  ): void {
    if (this.#records.get(digest)?.id !== record.id) return;
    if (outcome === "stored" || outcome === "failed") {
      this.#records.delete(digest);
      return;
    }
    record.state = outcome;
    record.updatedAt = now;
  }
}

/** The leader's own client is still receiving the blob (the copy starts after it). */
export function recordClientProgress(record: CopyRecord, now: number): void {
  record.updatedAt = now;
}

export function recordProgress(record: CopyRecord, bytes: number, now: number): void {
  record.copied += bytes;
  record.updatedAt = now;
}
