// Objects a build in progress has stored but not yet recorded as part of a published image. The
// collector never deletes a pinned object, so a collection running in the middle of a build
// (which may take longer than the collector's grace period) cannot take its layers away.

export class Pins {
  readonly #counts = new Map<string, number>();

  /** Pins `digests` until the returned function is called (safe to call more than once). */
  pin(): { add(digest: string): void; release(): void } {
    const mine: string[] = [];
    let released = false;
    return {
      add: (digest) => {
        if (released) return;
        mine.push(digest);
        this.#counts.set(digest, (this.#counts.get(digest) ?? 0) + 1);
      },
      release: () => {
        if (released) return;
        released = true;
        for (const digest of mine) {
          const count = (this.#counts.get(digest) ?? 1) - 1;
          if (count <= 0) this.#counts.delete(digest);
          else this.#counts.set(digest, count);
        }
      },
    };
  }

  has(digest: string): boolean {
    return this.#counts.has(digest);
  }
}
