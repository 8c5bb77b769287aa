// Per-key single-flight: concurrent callers with the same key share one running promise.

export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const existing = this.running.get(key);
    if (existing) return existing;
    const promise = work().finally(() => this.running.delete(key));
    this.running.set(key, promise);
    return promise;
  }

  get(key: string): Promise<T> | undefined {
    return this.running.get(key);
  }

  /** Settles when every promise running now has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }

  get size(): number {
    return this.running.size;
  }
}
