// The edge's LoginLimiter. Cloudflare's rate limiting binding LOGIN_LIMITER counts failed logins
// per key (client address, user name); when it refuses one, a marker in the Cache API for this
// data centre makes every isolate refuse that key for a minute before comparing any password
// (the binding has no way to look without counting). Without the binding, failures are counted
// in this isolate's memory (plain values), which limits less: bind LOGIN_LIMITER when deployed.

import type { LoginLimiter } from "../../shared/login-check.ts";
import { MemoryLoginLimiter } from "../../shared/memory-login-limiter.ts";

/** Marks of limiter keys that must wait, shared by a data centre's isolates (worker/edge-cache.ts). */
export interface LoginBlocks {
  /** Until when (epoch ms) a key (a hash) must wait, or null. */
  matchLoginBlock(keyHash: string): Promise<number | null>;
  putLoginBlock(keyHash: string, until: number, now: number): Promise<void>;
}

/** The longest period a rate limiting binding counts in; a refused key waits this long. */
export const loginBlockSeconds = 60;

const isolateLimiter = new MemoryLoginLimiter({ maxFailures: 5, windowSeconds: 60 });

async function hashKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

export class BindingLoginLimiter implements LoginLimiter {
  constructor(
    private readonly binding: RateLimit,
    private readonly cache: LoginBlocks,
    private readonly now: () => number = Date.now,
  ) {}

  async retryAfter(keys: readonly string[]): Promise<number> {
    const now = this.now();
    let wait = 0;
    for (const key of keys) {
      const until = await this.cache.matchLoginBlock(await hashKey(key));
      if (until !== null && until > now) wait = Math.max(wait, Math.ceil((until - now) / 1000));
    }
    return wait;
  }

  async recordFailure(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const hashed = await hashKey(key);
      const { success } = await this.binding.limit({ key: hashed });
      if (!success) {
        const now = this.now();
        await this.cache.putLoginBlock(hashed, now + loginBlockSeconds * 1000, now);
      }
    }
  }
}

export function loginLimiter(binding: RateLimit | undefined, cache: LoginBlocks): LoginLimiter {
  return binding ? new BindingLoginLimiter(binding, cache) : isolateLimiter;
}
