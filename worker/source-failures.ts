// How the edge's sources tell an origin outage from an answer, and log a background write that
// failed (a cache or store put under waitUntil never fails the request that started it).

import { RegistryError } from "../shared/errors.ts";
import { logEvent } from "./log.ts";
import { OriginUnreachable } from "./origin-errors.ts";

/** The origin could not answer (unreachable, or a 5xx): stale or fallback answers may serve. */
export function isOriginOutage(error: unknown): boolean {
  return (
    error instanceof OriginUnreachable || (error instanceof RegistryError && error.status >= 500)
  );
}

/** An unreachable origin as the registry error a client gets for `what`; other errors as they are. */
export function outageError(error: unknown, what: string): unknown {
  if (!(error instanceof OriginUnreachable)) return error;
  return new RegistryError("ORIGIN_UNAVAILABLE", `the image builder is unreachable and ${what}`, {
    reason: error.message,
  });
}

export function logFailure(what: string, fields: Record<string, string>) {
  return (error: unknown) =>
    logEvent(`${what} failed`, {
      ...fields,
      reason: error instanceof Error ? error.message : String(error),
    });
}
