// Which source revision a tag names, remembered for a short while: resolving a git tag is a
// `git ls-remote` (a network round trip), and every image built from `latest` in the same minute
// needs the same answer. Concurrent callers share one resolution; outcomes, failures included,
// are kept for `ttlMs`.

import type { ResolvedSource } from "../nix/source.ts";

interface Entry {
  at: number;
  value: Promise<ResolvedSource>;
}

export class RevisionMemo {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly resolve: (tag: string) => Promise<ResolvedSource>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(tag: string): Promise<ResolvedSource> {
    const now = this.now();
    const entry = this.#entries.get(tag);
    if (entry && now - entry.at < this.ttlMs) return entry.value;
    const value = this.resolve(tag);
    // Handled here once, so a resolution nobody waits for any more cannot go unhandled.
    value.catch(() => undefined);
    this.#entries.set(tag, { at: now, value });
    if (this.#entries.size > 1000) this.#evict(now);
    return value;
  }

  #evict(now: number): void {
    for (const [tag, entry] of this.#entries) {
      if (now - entry.at >= this.ttlMs || this.#entries.size > 1000) this.#entries.delete(tag);
    }
  }
}
