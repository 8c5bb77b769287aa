// The bytes of manifests read from storage in the last minute, kept in memory: a warm manifest
// request then costs no file read (four threadpool round trips: open, stat, read, close, which
// were a fifth of the origin's CPU and most of its latency under load) nor an S3 GET. A manifest
// is addressed by its digest, so the bytes never change. Every storage collection forgets them
// all (`epoch` changes), so a collected manifest is restored to storage when asked for again; the
// minute bounds how long one removed behind the origin's back is still answered from here, as
// StoredManifests does for tags.

import type { Digest } from "../../shared/digest.ts";

export interface RecentManifest {
  bytes: Uint8Array<ArrayBuffer>;
  mediaType: string;
}

const freshMs = 60_000;
/** Manifests are a few KiB; past this many bytes the oldest are dropped. */
const maxBytes = 16 * 1024 * 1024;

export class RecentManifests {
  readonly #entries = new Map<Digest, RecentManifest & { at: number }>();
  #bytes = 0;
  #epoch: number;

  /** `epoch`: changes when storage may have lost objects (the number of collections run). */
  constructor(
    private readonly epoch: () => number,
    private readonly now: () => number = Date.now,
  ) {
    this.#epoch = epoch();
  }

  get(digest: Digest): RecentManifest | null {
    if (this.epoch() !== this.#epoch) {
      this.#entries.clear();
      this.#bytes = 0;
      this.#epoch = this.epoch();
    }
    const entry = this.#entries.get(digest);
    if (!entry) return null;
    if (this.now() - entry.at < freshMs) return entry;
    this.delete(digest);
    return null;
  }

  put(digest: Digest, { bytes, mediaType }: RecentManifest): void {
    if (bytes.byteLength > maxBytes / 16) return;
    this.delete(digest);
    this.#entries.set(digest, { bytes, mediaType, at: this.now() });
    this.#bytes += bytes.byteLength;
    // Maps iterate in insertion order: the first entries are the oldest.
    for (const oldest of this.#entries.keys()) {
      if (this.#bytes <= maxBytes) break;
      this.delete(oldest);
    }
  }

  delete(digest: Digest): void {
    const entry = this.#entries.get(digest);
    if (!entry) return;
    this.#entries.delete(digest);
    this.#bytes -= entry.bytes.byteLength;
  }
}
