// How often each image was pulled: every manifest the origin answers a tag with, and every one an
// edge reports having served from its own caches, counts once for the images holding it. Counted
// in memory and written in one transaction at most every `flushEveryMs` (and before a read), so a
// warm pull costs no database write of its own.

import type { Digest } from "../../shared/digest.ts";
import type { Db } from "./database.ts";

/** At most this many distinct manifests are counted between writes (then a write is forced). */
const maxPending = 5_000;

export class PullCounts {
  readonly #pending = new Map<Digest, number>();
  readonly #update;
  #lastFlush: number;

  constructor(
    private readonly db: Db,
    private readonly flushEveryMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {
    this.#update = db.prepare(
      `UPDATE images SET pulls = pulls + @count
       WHERE image_id IN (SELECT image_id FROM image_objects WHERE digest = @digest)`,
    );
    this.#lastFlush = now();
  }

  count(digests: readonly Digest[]): void {
    for (const digest of digests) this.#pending.set(digest, (this.#pending.get(digest) ?? 0) + 1);
    if (this.#pending.size >= maxPending || this.now() - this.#lastFlush >= this.flushEveryMs) {
      this.flush();
    }
  }

  /** Writes what was counted since the last write. */
  flush(): void {
    this.#lastFlush = this.now();
    if (this.#pending.size === 0) return;
    const pending = [...this.#pending];
    this.#pending.clear();
    this.db.transaction(() => {
      for (const [digest, count] of pending) this.#update.run({ digest, count });
    })();
  }
}
