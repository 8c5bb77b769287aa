// Guards the build endpoints with the shared secret (constant-time comparison) when one is set.

import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { RegistryError } from "../../shared/errors.ts";

/** Whether an Authorization header carries `Bearer <secret>` (false when no secret is set). */
export function presentsSecret(header: string | undefined, secret: string | null): boolean {
  if (!secret) return false;
  const presented = header?.startsWith("Bearer ") ? header.slice("Bearer ".length) : "";
  // Hashing both sides gives equal lengths, so timingSafeEqual never throws or leaks length.
  const expected = createHash("sha256").update(secret).digest();
  const actual = createHash("sha256").update(presented).digest();
  return timingSafeEqual(actual, expected);
}

export function requireSecret(secret: string | null): MiddlewareHandler {
  return async (c, next) => {
    if (secret && !presentsSecret(c.req.header("authorization"), secret)) {
      // A bare challenge (no realm): these endpoints are for the edge, not for registry clients.
      throw new RegistryError(
        "UNAUTHORIZED",
        "this endpoint requires the origin's shared secret (ORIGIN_SECRET)",
        undefined,
        { headers: { "WWW-Authenticate": "Bearer" } },
      );
    }
    await next();
  };
}
