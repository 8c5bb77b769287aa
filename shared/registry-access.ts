// Who may use a registry route of a private instance: a request needs a bearer token this
// instance signed, unexpired, whose access covers the route's repository (`pull`); `/v2/` and
// the catalog need any valid token. Without one the answer is the 401 challenge, which tells
// the client where to get a token and for which scope. Both apps call this before anything
// else answers (the edge: before the Cache API, KV and R2).

import { pullAccess, type Access } from "./auth-scope.ts";
import { unauthorized } from "./auth-challenge.ts";
import type { Route } from "./routes.ts";
import { allows, type AccessClaims, type TokenSigner } from "./token-claims.ts";

/** The access a route needs; null for routes any valid token may use. */
export function requiredAccess(route: Route): Access | null {
  return route.kind === "base" || route.kind === "catalog" ? null : pullAccess(route.name);
}

/** The token of an `Authorization: Bearer …` header, or null. */
export function bearerToken(header: string | null): string | null {
  const match = header ? /^bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match ? match[1]! : null;
}

/**
 * The claims of a request's token when they allow `needed`; otherwise throws the 401
 * challenge for `needed` (`realm` is computed only then: it may refuse a bad Host).
 */
export async function authorizeRequest(
  request: Request,
  needed: Access | null,
  signer: Pick<TokenSigner, "verify">,
  realm: () => string,
  host: string,
): Promise<AccessClaims> {
  const token = bearerToken(request.headers.get("authorization"));
  if (token === null) {
    throw unauthorized(
      realm(),
      needed,
      `authentication required: ${host} is a private registry; log in first (docker login ${host})`,
    );
  }
  const claims = await signer.verify(token);
  if (!claims || claims.use !== "access") {
    throw unauthorized(
      realm(),
      needed,
      "the token is invalid or has expired; get a new one from the realm",
      "invalid_token",
    );
  }
  if (!allows(claims, needed)) {
    throw unauthorized(
      realm(),
      needed,
      `the token does not grant ${needed!.actions.join(",")} on ${needed!.name}`,
      "insufficient_scope",
    );
  }
  return claims;
}
