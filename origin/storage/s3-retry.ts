// When and how long the S3 client waits before trying a request again: exponential backoff with
// full jitter on 429 (R2 allows one write per second per key), 5xx and network errors.

export interface RetryOptions {
  /** Total tries, the first included. */
  attempts: number;
  /** Upper bound of the first wait; doubles with each retry. */
  baseDelayMs: number;
  /** Upper bound of any single wait. */
  maxDelayMs: number;
}

export const defaultRetryOptions: RetryOptions = {
  attempts: 6,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
};

/** The longest Retry-After obeyed (it may exceed maxDelayMs: the server knows best). */
const maxRetryAfterMs = 60_000;

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * The wait before retry number `retry` (0 for the first retry): a uniformly random delay up to
 * min(max, base·2^retry) ("full jitter", so concurrent writers of one key spread out), but never
 * less than a server's Retry-After.
 */
export function retryDelayMs(
  options: RetryOptions,
  retry: number,
  retryAfter?: string | null,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** retry);
  const jittered = Math.random() * ceiling;
  const seconds = retryAfter ? Number(retryAfter) : NaN;
  const floor = Number.isFinite(seconds) ? Math.min(seconds * 1000, maxRetryAfterMs) : 0;
  return Math.max(jittered, floor);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
