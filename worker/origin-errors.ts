// The origin's failures as the edge throws them: OriginUnreachable when the origin cannot be asked
// or answers like something unwell, and the origin's own registry errors (a failed build, a
// 4xx/5xx JSON body) passed on with their code, message and status.

import { errorCodes, RegistryError, type ErrorCode } from "../shared/errors.ts";
import type { BuildStatus } from "../shared/origin-protocol.ts";

/** The origin could not be asked (network error, gateway error, or it refused the edge's secret). */
export class OriginUnreachable extends Error {
  override name = "OriginUnreachable";
}

/**
 * A failed build's error as the origin recorded it (an unknown code: MANIFEST_UNKNOWN), with its
 * Retry-After when the origin said when to ask again (a full build queue).
 */
export function failedBuildError(status: Extract<BuildStatus, { state: "failed" }>): RegistryError {
  const code: ErrorCode =
    status.error.code in errorCodes ? (status.error.code as ErrorCode) : "MANIFEST_UNKNOWN";
  return new RegistryError(code, status.error.message, status.error.detail, {
    status: status.status,
    headers: retryAfterHeaders(status.retryAfterSeconds),
  });
}

/** A Retry-After header for a whole number of seconds the origin gave; none for anything else. */
function retryAfterHeaders(seconds: unknown): Record<string, string> {
  const value = typeof seconds === "string" ? Number(seconds) : seconds;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0 || value > 86_400) {
    return {};
  }
  return { "Retry-After": String(value) };
}

/**
 * Passes on the origin's own registry error (4xx/5xx JSON) with its Retry-After; an unreadable 5xx
 * means it is unwell.
 */
export function errorFromResponse(response: Response, text: string): Error {
  const status = response.status;
  try {
    const body = JSON.parse(text) as {
      errors?: { code: string; message: string; detail?: unknown }[];
    };
    const first = body.errors?.[0];
    if (first) {
      const code: ErrorCode = first.code in errorCodes ? (first.code as ErrorCode) : "INTERNAL";
      return new RegistryError(code, first.message, first.detail, {
        status,
        headers: retryAfterHeaders(response.headers.get("Retry-After") ?? undefined),
      });
    }
  } catch {
    // fall through
  }
  if (status >= 500) return new OriginUnreachable(`the origin answered ${status}`);
  return new RegistryError("INTERNAL", `the origin answered ${status} unexpectedly`);
}
