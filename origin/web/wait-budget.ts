// Bounds the requests that wait for a build's progress (long polls): at most `perClient` at once
// for one client and `total` for all. A request past either bound is answered at once with the
// state as it is (the page's script then asks again a second later), so a page left open, or a
// thousand of them, cannot hold more than this many connections and timers.

export class WaitBudget {
  readonly #byClient = new Map<string, number>();
  #total = 0;

  constructor(
    private readonly perClient: number,
    private readonly total: number,
  ) {}

  /** A release function when `client` may wait now, else null. Release exactly once. */
  take(client: string): (() => void) | null {
    const held = this.#byClient.get(client) ?? 0;
    if (held >= this.perClient || this.#total >= this.total) return null;
    this.#byClient.set(client, held + 1);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const now = (this.#byClient.get(client) ?? 1) - 1;
      if (now <= 0) this.#byClient.delete(client);
      else this.#byClient.set(client, now);
    };
  }

  get waiting(): number {
    return this.#total;
  }
}
