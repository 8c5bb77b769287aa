// Runs the programs the origin drives (nix-instantiate, nix-store, nix, git): an argv array and
// no shell, an explicit environment, all of stdout, the last lines of stderr, a timeout that
// stops the process with SIGTERM (SIGKILL only after a grace period) and AbortSignal support.

import { spawn } from "node:child_process";

export interface RunOptions {
  /** Stop the process (SIGTERM, then SIGKILL) after this many milliseconds. */
  timeoutMs?: number;
  /** Aborting stops the process the same way; the call then rejects with `signal.reason`. */
  signal?: AbortSignal;
  cwd?: string;
  /** Variables added to the runner's environment for this call. */
  env?: Record<string, string>;
  /** Called with each complete line of stderr as it arrives (progress reports). */
  onStderrLine?: (line: string) => void;
  /** Keep this many last lines of stderr for this call (default: the runner's `stderrLines`). */
  stderrLines?: number;
  /** What countingRunner counts this call as (default: program and operation). */
  countAs?: string;
}

export interface ProcessResult {
  /** null when the process ended by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last lines of stderr (at most the runner's `stderrLines`). */
  stderrTail: string[];
  timedOut: boolean;
}

/** Runs one program to completion. Rejects only when it cannot start or the call is aborted. */
export type NixRunner = (
  command: string,
  args: readonly string[],
  options?: RunOptions,
) => Promise<ProcessResult>;

export interface NixRunnerOptions {
  /** The whole environment of every child (nothing is inherited implicitly). */
  env: Record<string, string | undefined>;
  /** How long a process may take to exit after SIGTERM before it gets SIGKILL. */
  killGraceMs?: number;
  stderrLines?: number;
}

// SIGKILL on nix-store orphans its builder, so SIGTERM gets a generous grace period.
const defaultKillGraceMs = 10_000;
const defaultStderrLines = 60;

export function createNixRunner(runnerOptions: NixRunnerOptions): NixRunner {
  const killGraceMs = runnerOptions.killGraceMs ?? defaultKillGraceMs;
  const stderrLines = runnerOptions.stderrLines ?? defaultStderrLines;

  return (command, args, options = {}) =>
    new Promise<ProcessResult>((resolve, reject) => {
      const { signal } = options;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const child = spawn(command, args, {
        cwd: options.cwd,
        env: { ...runnerOptions.env, ...options.env },
        stdio: ["ignore", "pipe", "pipe"],
      });

      const stdout: Buffer[] = [];
      const stderr = new LineTail(options.stderrLines ?? stderrLines);
      let timedOut = false;
      let aborted = false;
      let killTimer: NodeJS.Timeout | undefined;

      const stop = () => {
        if (child.exitCode !== null || child.signalCode !== null || killTimer) return;
        child.kill("SIGTERM");
        killTimer = setTimeout(() => child.kill("SIGKILL"), killGraceMs);
      };
      const timeout =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              stop();
            }, options.timeoutMs);
      const onAbort = () => {
        aborted = true;
        stop();
      };
      signal?.addEventListener("abort", onAbort, { once: true });

      child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
      const onLine = options.onStderrLine;
      child.stderr.on("data", (chunk: Buffer) => {
        const lines = stderr.push(chunk.toString("utf8"));
        if (onLine) for (const line of lines) onLine(line);
      });

      const cleanUp = () => {
        clearTimeout(timeout);
        clearTimeout(killTimer);
        signal?.removeEventListener("abort", onAbort);
      };
      child.on("error", (error) => {
        cleanUp();
        reject(error);
      });
      // "close" (not "exit"): both pipes are drained by then.
      child.on("close", (exitCode, exitSignal) => {
        cleanUp();
        if (aborted) {
          reject(signal?.reason);
          return;
        }
        resolve({
          exitCode,
          signal: exitSignal,
          stdout: Buffer.concat(stdout).toString("utf8"),
          stderrTail: stderr.lines(),
          timedOut,
        });
      });
    });
}

/** Keeps the last `limit` lines of a stream of text chunks. */
class LineTail {
  private readonly kept: string[] = [];
  private partial = "";

  constructor(private readonly limit: number) {}

  /** Adds a chunk; returns the lines it completed. */
  push(text: string): string[] {
    const pieces = (this.partial + text).split("\n");
    this.partial = pieces.pop() ?? "";
    this.kept.push(...pieces);
    if (this.kept.length > this.limit) this.kept.splice(0, this.kept.length - this.limit);
    // A single line without end must not grow without bound.
    if (this.partial.length > 64 * 1024) this.partial = this.partial.slice(-64 * 1024);
    return pieces;
  }

  lines(): string[] {
    const all = this.partial === "" ? [...this.kept] : [...this.kept, this.partial];
    return all.slice(-this.limit);
  }
}

/**
 * A runner that also counts the processes it starts (for /metrics and tests), by program and
 * operation: "nix-store --realise", "nix-instantiate --eval", "git ls-remote".
 */
export type CountingRunner = NixRunner & { readonly counts: ReadonlyMap<string, number> };

export function countingRunner(runner: NixRunner): CountingRunner {
  const counts = new Map<string, number>();
  const counted: NixRunner = (command, args, options) => {
    const operation = args.find((arg) => !arg.startsWith("--extra-") && arg !== "nix-command");
    const key =
      options?.countAs ??
      (operation && /^-?-?[a-z][a-z-]*$/.test(operation) ? `${command} ${operation}` : command);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return runner(command, args, options);
  };
  return Object.assign(counted, { counts });
}
