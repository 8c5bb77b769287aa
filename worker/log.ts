// Structured logs: one JSON line per event with fixed keys (image, tag, layer, digest, ms).

export interface LogFields {
  image?: string;
  tag?: string;
  layer?: string;
  digest?: string;
  ms?: number;
  [key: string]: string | number | boolean | undefined;
}

export function logEvent(event: string, fields: LogFields = {}): void {
  console.log(JSON.stringify({ event, ...fields }));
}
