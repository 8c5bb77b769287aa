// The builder's side of the storage lifecycle: making a collected manifest or blob again (one
// restore per digest, however many requests ask for it, failures remembered like failed builds),
// and recording that an image was used (written to the database at most every `touchEveryMs` per
// manifest, so a warm pull costs no write).

import type { Digest } from "../../shared/digest.ts";
import type { PublishedImages } from "../cache/published-images.ts";
import { restoreObject, type RestoreDeps, type Restored } from "./restore.ts";
import { OriginStopping } from "./errors.ts";
import { JobTable } from "./job-table.ts";

export interface ObjectUpkeepOptions {
  restore: RestoreDeps;
  published: PublishedImages;
  failureTtlMs: number;
  touchEveryMs: number;
  signal?: AbortSignal;
  now: () => number;
}

/** At most this many uses are remembered (then the memo starts again). */
const touchedLimit = 10_000;

export class ObjectUpkeep {
  readonly #restores: JobTable<Restored>;
  readonly #touched = new Map<Digest, number>();
  #restored = 0;

  constructor(private readonly options: ObjectUpkeepOptions) {
    this.#restores = new JobTable({
      keepFinishedMs: 0,
      failureTtlMs: options.failureTtlMs,
      remember: (error) => !(error instanceof OriginStopping || options.signal?.aborted),
      now: options.now,
    });
  }

  /** Makes a collected object again; what was restored, or null for a digest never published. */
  async restore(digest: Digest): Promise<Restored> {
    const deps = this.options.restore;
    const job = this.#restores.start(`restore:${digest}`, async () => {
      const restored = await restoreObject(deps, digest, this.options.signal);
      if (restored) this.#restored++;
      return restored;
    });
    return job.result();
  }

  /** Objects restored since start (for /metrics). */
  get restoredCount(): number {
    return this.#restored;
  }

  /** Records that the images holding these manifests were requested now. */
  touch(digests: readonly Digest[]): void {
    const published = this.options.published;
    const now = this.options.now();
    const due = digests.filter(
      (digest) => now - (this.#touched.get(digest) ?? 0) >= this.options.touchEveryMs,
    );
    if (due.length === 0) return;
    if (this.#touched.size >= touchedLimit) this.#touched.clear();
    for (const digest of due) this.#touched.set(digest, now);
    published.touch(due, now);
  }
}
