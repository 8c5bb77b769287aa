// A LoginLimiter in memory (the origin's, and the edge's where no rate limiting binding is
// bound): failed logins counted per key (client address, user name) in a window that starts at
// a key's first failure. A key with `maxFailures` failures in its window waits for the window's
// end. Bounded: past `maxKeys` keys the expired ones go first, then the oldest, so guessing with
// endless user names cannot grow memory. Plain values only: nothing here is I/O.

import type { LoginLimiter } from "./login-check.ts";

export interface LoginLimits {
  maxFailures: number;
  windowSeconds: number;
  maxKeys?: number;
  now?: () => number;
}

interface Window {
  startedAt: number;
  failures: number;
}

export class MemoryLoginLimiter implements LoginLimiter {
  readonly #windows = new Map<string, Window>();
  readonly #limits: Required<LoginLimits>;

  constructor(limits: LoginLimits) {
    this.#limits = { maxKeys: 100_000, now: Date.now, ...limits };
  }

  #current(key: string, now: number): Window | null {
    const window = this.#windows.get(key);
    if (!window) return null;
    if (now - window.startedAt >= this.#limits.windowSeconds * 1000) {
      this.#windows.delete(key);
      return null;
    }
    return window;
  }

  async retryAfter(keys: readonly string[]): Promise<number> {
    const now = this.#limits.now();
    let wait = 0;
    for (const key of keys) {
      const window = this.#current(key, now);
      if (!window || window.failures < this.#limits.maxFailures) continue;
      const endsIn = window.startedAt + this.#limits.windowSeconds * 1000 - now;
      wait = Math.max(wait, Math.ceil(endsIn / 1000));
    }
    return wait;
  }

  async recordFailure(keys: readonly string[]): Promise<void> {
    const now = this.#limits.now();
    for (const key of keys) {
      const window = this.#current(key, now);
      if (window) {
        window.failures++;
        continue;
      }
      this.#makeRoom(now);
      this.#windows.set(key, { startedAt: now, failures: 1 });
    }
  }

  #makeRoom(now: number): void {
    if (this.#windows.size < this.#limits.maxKeys) return;
    for (const key of [...this.#windows.keys()]) this.#current(key, now);
    for (const key of this.#windows.keys()) {
      if (this.#windows.size < this.#limits.maxKeys) break;
      this.#windows.delete(key);
    }
  }
}
