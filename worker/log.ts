// Structured logs from the Worker: one JSON line per event on the console (wrangler tail shows them).

import { formatLogLine, type LogFields, type LogLevel } from "../shared/log-line.ts";

export type { LogFields };

export function logEvent(event: string, fields: LogFields = {}, level: LogLevel = "info"): void {
  console.log(formatLogLine(level, event, fields));
}
