// Waits for an event rather than for a fixed time: polls a check until it holds, with a deadline
// generous enough for a busy machine (a CI runner, or a laptop running other builds), and says
// what it was waiting for when the deadline passes.

import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface WaitOptions {
  /** Give up after this long (default 60 s: far above what an idle machine needs). */
  timeoutMs?: number;
  /** Time between checks (default 100 ms). */
  intervalMs?: number;
  /** A reason to stop early (e.g. the process being waited on has exited), or null to go on. */
  failIf?: () => string | null;
}

/**
 * Resolves with the first value of `check` that is neither false, null nor undefined; rejects
 * when the deadline passes or `failIf` gives a reason.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | false | null | undefined | Promise<T | false | null | undefined>,
  options: WaitOptions = {},
): Promise<T> {
  const { timeoutMs = 60_000, intervalMs = 100, failIf } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== false && value !== null && value !== undefined) return value;
    const reason = failIf?.();
    if (reason) throw new Error(`gave up waiting for ${what}: ${reason}`);
    if (Date.now() >= deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

/** Whether something accepts connections on 127.0.0.1:`port` now. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

/** Why waiting on `child` is pointless (it has exited), or null while it runs. */
export function childExited(
  child: { exitCode: number | null; signalCode: string | null },
  name: string,
): string | null {
  if (child.exitCode === null && child.signalCode === null) return null;
  return `${name} exited (${child.exitCode ?? child.signalCode})`;
}
