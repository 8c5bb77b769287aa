// Which manifests storage holds, remembered for a minute: a warm tag request then costs no
// storage round trip (an S3 HEAD is tens of milliseconds), yet objects removed behind the origin's
// back are noticed soon. A manifest the storage collector removed is written back from the
// database (a restore, same bytes) rather than rebuilt.

import type { Digest } from "../../shared/digest.ts";
import { manifestKey } from "../../shared/storage-keys.ts";
import type { Restored } from "../gc/restore.ts";
import type { BlobReader } from "../storage/storage.ts";

const memoMs = 60_000;
const memoLimit = 10_000;

export class StoredManifests {
  readonly #seen = new Map<Digest, number>();

  constructor(
    private readonly storage: BlobReader,
    private readonly restore: (digest: Digest) => Promise<Restored>,
    private readonly now: () => number,
  ) {}

  async has(digest: Digest): Promise<boolean> {
    const seen = this.#seen.get(digest);
    if (seen !== undefined && this.now() - seen < memoMs) return true;
    const stored =
      (await this.storage.stat(manifestKey(digest))) !== null ||
      (await this.restore(digest).catch(() => null)) === "manifest";
    if (stored) {
      if (this.#seen.size >= memoLimit) this.#seen.clear();
      this.#seen.set(digest, this.now());
    } else {
      this.#seen.delete(digest);
    }
    return stored;
  }

  /** Forgets `digest`, e.g. after it was restored: the next question asks storage. */
  forget(digest: Digest): void {
    this.#seen.delete(digest);
  }
}
