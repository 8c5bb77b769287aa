// The claims of the tokens a private instance issues (distribution's spec/auth/jwt.md, signed
// with HS256 under a key the origin and the edge share). An access token is short-lived and lists
// what it grants; a refresh token (Docker's "identity token") names only its user and the version
// of that user's password entry, so changing or removing the entry revokes it. Both are JWTs;
// `use` keeps one from being taken for the other.

import { covers, type Access } from "./auth-scope.ts";

export const tokenIssuer = "nixery-edge";

/** The audience of every token (`service` in challenges, `aud` in tokens). */
export const tokenService = "nixery";

/** Access tokens live this long unless configured otherwise (the spec's minimum is 60 s). */
export const defaultAccessTokenSeconds = 300;
export const minAccessTokenSeconds = 60;
export const maxAccessTokenSeconds = 3600;

export interface AccessClaims {
  use: "access";
  iss: string;
  /** The user; empty for an anonymous token. */
  sub: string;
  aud: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  access: Access[];
}

export interface RefreshClaims {
  use: "refresh";
  iss: string;
  sub: string;
  aud: string;
  iat: number;
  jti: string;
  /** A fingerprint of the user's password entry when the token was issued. */
  ver: string;
}

export type TokenClaims = AccessClaims | RefreshClaims;

/** Signs and verifies tokens (jose in each app: HS256, issuer and audience checked). */
export interface TokenSigner {
  sign(claims: TokenClaims): Promise<string>;
  /** The claims of a token this instance signed and that has not expired; null otherwise. */
  verify(token: string): Promise<TokenClaims | null>;
}

function isAccessList(value: unknown): value is Access[] {
  return (
    Array.isArray(value) &&
    value.every(
      (entry) =>
        typeof entry?.type === "string" &&
        typeof entry?.name === "string" &&
        Array.isArray(entry?.actions) &&
        entry.actions.every((action: unknown) => typeof action === "string"),
    )
  );
}

/** Checks the shape of verified claims (a signed token of another shape is no token of ours). */
export function readClaims(payload: Record<string, unknown>): TokenClaims | null {
  const { use, sub, jti } = payload;
  if (typeof sub !== "string" || typeof jti !== "string") return null;
  if (use === "access" && isAccessList(payload.access) && typeof payload.exp === "number") {
    return payload as unknown as AccessClaims;
  }
  if (use === "refresh" && typeof payload.ver === "string" && sub !== "") {
    return payload as unknown as RefreshClaims;
  }
  return null;
}

/** A random token id (128 bits, hex). */
export function tokenId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

export function accessClaims(
  subject: string,
  access: Access[],
  nowSeconds: number,
  lifetimeSeconds: number,
): AccessClaims {
  return {
    use: "access",
    iss: tokenIssuer,
    sub: subject,
    aud: tokenService,
    iat: nowSeconds,
    nbf: nowSeconds,
    exp: nowSeconds + lifetimeSeconds,
    jti: tokenId(),
    access,
  };
}

/** Whether an access token allows a request that needs `needed` (null: any valid token). */
export function allows(claims: AccessClaims, needed: Access | null): boolean {
  return needed === null || covers(claims.access, needed);
}
