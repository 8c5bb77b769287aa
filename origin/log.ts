// Structured JSON logs from the origin, one object per line on stdout (shared/log-line.ts).

import { formatLogLine, type LogFields } from "../shared/log-line.ts";

export type { LogFields };

export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

export function createLogger(
  write: (line: string) => void = (line) => process.stdout.write(line),
): Logger {
  return {
    info: (event, fields) => write(`${formatLogLine("info", event, fields)}\n`),
    warn: (event, fields) => write(`${formatLogLine("warn", event, fields)}\n`),
    error: (event, fields) => write(`${formatLogLine("error", event, fields)}\n`),
  };
}
