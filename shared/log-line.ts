// One structured log line (JSON, fixed keys: event, image, tag, layer, digest, ms), written the
// same way by the origin and the Worker so one query reads both.

export interface LogFields {
  image?: string;
  tag?: string;
  layer?: string;
  digest?: string;
  ms?: number;
  [key: string]: unknown;
}

export type LogLevel = "info" | "warn" | "error";

export function formatLogLine(level: LogLevel, event: string, fields: LogFields = {}): string {
  return JSON.stringify({ time: new Date().toISOString(), level, event, ...fields });
}
