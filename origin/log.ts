// Structured JSON logs from the origin, one object per line on stdout (shared/log-line.ts).

import { formatLogLine, type LogFields } from "../shared/log-line.ts";

export type { LogFields };

export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

/**
 * Writes lines to stdout until stdout fails (its reader went away: EPIPE), then drops them. Without
 * this, the failed write's 'error' reached the uncaught-exception handler, which logged it to the
 * same broken stdout: a loop that kept a core busy for as long as the origin ran.
 */
export function stdoutLines(): (line: string) => void {
  let broken = false;
  process.stdout.on("error", () => {
    broken = true;
  });
  // Nothing is logged to stderr, but a broken one must not end the process either.
  process.stderr.on("error", () => {});
  return (line) => {
    if (!broken && process.stdout.writable) process.stdout.write(line);
  };
}

export function createLogger(write: (line: string) => void = stdoutLines()): Logger {
  return {
    info: (event, fields) => write(`${formatLogLine("info", event, fields)}\n`),
    warn: (event, fields) => write(`${formatLogLine("warn", event, fields)}\n`),
    error: (event, fields) => write(`${formatLogLine("error", event, fields)}\n`),
  };
}
