// HTTP Range for blob reads: one `bytes=` range, answered with 206, or 416 when unsatisfiable.
// Multi-range requests are refused (416) rather than answered with multipart bodies. A header is
// read once into its syntax; a store gets a hint to fetch just that span in one operation, and the
// exact span (or the 416) is decided once the blob's size is known.

import { RegistryError } from "./errors.ts";

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/** A store read's span, before the size is known: `{offset, length?}` or `{suffix}` (R2's form). */
export type RangeHint = { offset: number; length?: number } | { suffix: number };

/** A request's Range: a hint for stores, and the exact span once the size is known. */
export interface RangeRequest {
  hint: RangeHint | null;
  /** Given a blob's size, the byte range to send (null: all); throws RANGE_INVALID. */
  resolve(size: number): ByteRange | null;
}

type RangeSyntax =
  | { kind: "whole" }
  | { kind: "suffix"; length: number }
  | { kind: "from"; start: number; end: number | null }
  | { kind: "invalid"; why: string };

function unsatisfiable(size: number, why: string): RegistryError {
  return new RegistryError("RANGE_INVALID", `requested range not satisfiable: ${why}`, undefined, {
    headers: { "Content-Range": `bytes */${size}` },
  });
}

function readSyntax(header: string | null | undefined): RangeSyntax {
  if (header === null || header === undefined) return { kind: "whole" };
  const trimmed = header.trim();
  const unitMatch = /^([A-Za-z]+)=(.*)$/.exec(trimmed);
  if (!unitMatch)
    return { kind: "invalid", why: `malformed Range header "${trimmed.slice(0, 60)}"` };
  // RFC 9110: a range unit the server does not understand is ignored.
  if (unitMatch[1]!.toLowerCase() !== "bytes") return { kind: "whole" };
  const spec = unitMatch[2]!.trim();
  if (spec.includes(",")) return { kind: "invalid", why: "multiple ranges are not supported" };
  const match = /^(\d*)-(\d*)$/.exec(spec);
  if (!match || (match[1] === "" && match[2] === "")) {
    return { kind: "invalid", why: `malformed byte range "${spec.slice(0, 60)}"` };
  }
  const [, first, last] = match;
  if (first === "") return { kind: "suffix", length: Number(last) };
  return { kind: "from", start: Number(first), end: last === "" ? null : Number(last) };
}

/**
 * Resolves a Range header against a blob of `size` bytes. Returns null when the whole blob is
 * wanted (no header, or a unit other than bytes, which RFC 9110 says to ignore).
 */
export function parseRange(header: string | null | undefined, size: number): ByteRange | null {
  const syntax = readSyntax(header);
  switch (syntax.kind) {
    case "whole":
      return null;
    case "invalid":
      throw unsatisfiable(size, syntax.why);
    case "suffix":
      if (syntax.length === 0 || size === 0) throw unsatisfiable(size, "empty suffix range");
      return { start: Math.max(0, size - syntax.length), end: size - 1 };
    case "from": {
      const { start, end } = syntax;
      if (end !== null && end < start) throw unsatisfiable(size, "range end before start");
      if (start >= size) {
        throw unsatisfiable(size, `start ${start} is beyond the blob's ${size} bytes`);
      }
      return { start, end: end === null ? size - 1 : Math.min(end, size - 1) };
    }
  }
}

/** The span a store should read for this header, or null (the whole blob, or only size can tell). */
export function rangeHint(header: string | null | undefined): RangeHint | null {
  const syntax = readSyntax(header);
  if (syntax.kind === "suffix") {
    return Number.isSafeInteger(syntax.length) && syntax.length > 0
      ? { suffix: syntax.length }
      : null;
  }
  if (syntax.kind !== "from" || !Number.isSafeInteger(syntax.start)) return null;
  if (syntax.end === null) return { offset: syntax.start };
  if (!Number.isSafeInteger(syntax.end) || syntax.end < syntax.start) return null;
  return { offset: syntax.start, length: syntax.end - syntax.start + 1 };
}

export function rangeRequest(header: string | null | undefined): RangeRequest {
  return { hint: rangeHint(header), resolve: (size) => parseRange(header, size) };
}

export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}
