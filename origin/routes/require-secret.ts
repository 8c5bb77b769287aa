// Guards the build endpoints with the shared secret (constant-time comparison) when one is set.

import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { RegistryError } from "../../shared/errors.ts";

export function requireSecret(secret: string | null): MiddlewareHandler {
  const expected = secret ? createHash("sha256").update(secret).digest() : null;
  return async (c, next) => {
    if (expected) {
      const header = c.req.header("authorization") ?? "";
      const presented = header.startsWith("Bearer ") ? header.slice("Bearer ".length) : "";
      // Hashing both sides gives equal lengths, so timingSafeEqual never throws or leaks length.
      const actual = createHash("sha256").update(presented).digest();
      if (!timingSafeEqual(actual, expected)) {
        throw new RegistryError(
          "UNAUTHORIZED",
          "the build endpoint requires the origin's shared secret",
          undefined,
          {
            headers: { "WWW-Authenticate": 'Bearer realm="nixery-origin"' },
          },
        );
      }
    }
    await next();
  };
}
