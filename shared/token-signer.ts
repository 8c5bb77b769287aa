// Signs and verifies the private instance's tokens with jose: HS256 under keys the origin and the
// edge share (the one signer both apps use). The first key signs; every key verifies, so a new key can be rolled out before
// the old one is dropped without logging anyone out.

import { jwtVerify, SignJWT } from "jose";
import {
  readClaims,
  tokenIssuer,
  tokenService,
  type TokenClaims,
  type TokenSigner,
} from "./token-claims.ts";

/** Seconds of clock difference between the machines that sign and verify. */
const clockToleranceSeconds = 10;

export function createTokenSigner(keys: readonly string[]): TokenSigner {
  if (keys.length === 0) throw new Error("a token signer needs at least one key");
  const secrets = keys.map((key) => new TextEncoder().encode(key));
  return {
    async sign(claims: TokenClaims): Promise<string> {
      return new SignJWT({ ...claims })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .sign(secrets[0]!);
    },
    async verify(token: string): Promise<TokenClaims | null> {
      for (const secret of secrets) {
        try {
          const { payload } = await jwtVerify(token, secret, {
            algorithms: ["HS256"],
            issuer: tokenIssuer,
            audience: tokenService,
            clockTolerance: clockToleranceSeconds,
          });
          return readClaims(payload);
        } catch {
          // not signed with this key, malformed, or expired: try the next key
        }
      }
      return null;
    },
  };
}
