// HTTP Range for blob reads: one `bytes=` range, answered with 206, or 416 when unsatisfiable.
// Multi-range requests are refused (416) rather than answered with multipart bodies.

import { RegistryError } from "./errors.ts";

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

function unsatisfiable(size: number, why: string): RegistryError {
  return new RegistryError("RANGE_INVALID", `requested range not satisfiable: ${why}`, undefined, {
    headers: { "Content-Range": `bytes */${size}` },
  });
}

/**
 * Resolves a Range header against a blob of `size` bytes. Returns null when the whole blob is
 * wanted (no header, or a unit other than bytes, which RFC 9110 says to ignore).
 */
export function parseRange(header: string | null | undefined, size: number): ByteRange | null {
  if (header === null || header === undefined) return null;
  const trimmed = header.trim();
  const unitMatch = /^([A-Za-z]+)=(.*)$/.exec(trimmed);
  if (!unitMatch) throw unsatisfiable(size, `malformed Range header "${trimmed.slice(0, 60)}"`);
  if (unitMatch[1]!.toLowerCase() !== "bytes") return null;
  const spec = unitMatch[2]!.trim();
  if (spec.includes(",")) throw unsatisfiable(size, "multiple ranges are not supported");
  const match = /^(\d*)-(\d*)$/.exec(spec);
  if (!match || (match[1] === "" && match[2] === "")) {
    throw unsatisfiable(size, `malformed byte range "${spec.slice(0, 60)}"`);
  }
  const [, first, last] = match;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) throw unsatisfiable(size, "empty suffix range");
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== "" && Number(last) < start) throw unsatisfiable(size, "range end before start");
  if (start >= size) throw unsatisfiable(size, `start ${start} is beyond the blob's ${size} bytes`);
  return { start, end };
}

export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}
