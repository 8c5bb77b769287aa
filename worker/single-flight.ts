// Per-isolate single-flight: concurrent callers with the same key share one in-flight promise,
// so concurrent misses for one object cause one origin request. Only plain values cross requests
// (workerd forbids sharing I/O objects such as streams between request contexts).

export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>();

  /** Runs `work` unless a call with `key` is already running; then returns that call's promise. */
  run(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.#inFlight.get(key);
    if (running) return running;
    const promise = work().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, promise);
    return promise;
  }

  /** The running call for `key`, if any (a follower may wait for it, then read the stored copy). */
  current(key: string): Promise<T> | undefined {
    return this.#inFlight.get(key);
  }

  get size(): number {
    return this.#inFlight.size;
  }
}
