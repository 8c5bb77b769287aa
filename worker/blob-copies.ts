// Which blobs this isolate is copying from the origin into R2 right now, as plain values only.
// workerd forbids one request from using another's I/O objects (streams, promises that settle on
// its I/O), and a promise whose request was cancelled can stay pending forever; so followers never
// await a leader. They read this record (a number that grows as the leader's bytes pass) and wait
// on R2 themselves, taking over when the record disappears without an object or stops moving.

import type { Digest } from "../shared/digest.ts";

export type CopyState =
  /** The leader is streaming the blob into R2; wait for the object there. */
  | "copying"
  /** The origin does not have the blob: followers answer 404 without asking again. */
  | "absent"
  /** The blob is too large for R2: followers stream from the origin themselves. */
  | "unstorable";

export interface CopyRecord {
  /** Identifies one leader, so a stale leader's cleanup never removes its successor's record. */
  readonly id: number;
  state: CopyState;
  /** Bytes that have passed towards R2 so far. */
  copied: number;
  /** Epoch ms of the last progress (or of the claim). */
  updatedAt: number;
}

/** A copy that has not moved for this long is taken over (its request may have been cancelled). */
export const stalledAfterMs = 5_000;
/** Records kept at most; the oldest are dropped first (outcomes are only a hint). */
const maxRecords = 1_000;

let nextId = 1;
const records = new Map<Digest, CopyRecord>();

/** The live record for `digest`, if another request is copying it (or just found it absent). */
export function currentCopy(digest: Digest, now: number): CopyRecord | null {
  const record = records.get(digest);
  if (!record) return null;
  if (record.state === "copying" && now - record.updatedAt > stalledAfterMs) return null;
  return record;
}

/**
 * Makes the caller the leader for `digest` unless a live copy exists (then null). Synchronous, so
 * of two requests in one isolate exactly one leads.
 */
export function claimCopy(digest: Digest, now: number): CopyRecord | null {
  const live = currentCopy(digest, now);
  if (live?.state === "copying") return null;
  const record: CopyRecord = { id: nextId++, state: "copying", copied: 0, updatedAt: now };
  records.delete(digest);
  records.set(digest, record);
  if (records.size > maxRecords) records.delete(records.keys().next().value!);
  return record;
}

/** The leader's own client is still receiving the blob (the copy starts after it). */
export function recordClientProgress(record: CopyRecord, now: number): void {
  record.updatedAt = now;
}

export function recordProgress(record: CopyRecord, bytes: number, now: number): void {
  record.copied += bytes;
  record.updatedAt = now;
}

/** Ends a leader's copy: "stored" and "failed" remove the record, other outcomes stay as hints. */
export function finishCopy(
  digest: Digest,
  record: CopyRecord,
  outcome: "stored" | "failed" | Exclude<CopyState, "copying">,
  now: number,
): void {
  if (records.get(digest)?.id !== record.id) return;
  if (outcome === "stored" || outcome === "failed") {
    records.delete(digest);
    return;
  }
  record.state = outcome;
  record.updatedAt = now;
}
