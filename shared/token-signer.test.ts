import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { accessClaims } from "./token-claims.ts";
import { createTokenSigner } from "./token-signer.ts";

const oldKey = "old-key-0123456789abcdef0123456789abcdef";
const newKey = "new-key-0123456789abcdef0123456789abcdef";
const now = () => Math.floor(Date.now() / 1000);

describe("token signer", () => {
  it("signs with the first key and verifies with every key (rotation)", async () => {
    const before = createTokenSigner([oldKey]);
    const during = createTokenSigner([newKey, oldKey]);
    const after = createTokenSigner([newKey]);
    const old = await before.sign(accessClaims("alice", [], now(), 300));
    assert.equal((await during.verify(old))?.sub, "alice");
    assert.equal(await after.verify(old), null);
    const fresh = await during.sign(accessClaims("bob", [], now(), 300));
    assert.equal((await after.verify(fresh))?.sub, "bob");
  });

  it("refuses expired tokens, other algorithms, issuers and shapes", async () => {
    const signer = createTokenSigner([oldKey]);
    assert.equal(
      await signer.verify(await signer.sign(accessClaims("a", [], now() - 400, 300))),
      null,
    );
    const secret = new TextEncoder().encode(oldKey);
    const foreign = await new SignJWT({ use: "access", sub: "a", jti: "x", access: [] })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("someone-else")
      .setAudience("nixery")
      .setExpirationTime("5m")
      .sign(secret);
    assert.equal(await signer.verify(foreign), null);
    const unsigned = `${btoa(JSON.stringify({ alg: "none" }))}.${btoa(JSON.stringify({ sub: "a" }))}.`;
    assert.equal(await signer.verify(unsigned), null);
    const shapeless = await new SignJWT({ sub: "a" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("nixery-edge")
      .setAudience("nixery")
      .sign(secret);
    assert.equal(await signer.verify(shapeless), null);
  });
});
