import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { pullAccess } from "./auth-scope.ts";
import { bearerChallenge, tokenRealm, unauthorized } from "./auth-challenge.ts";
import { RegistryError } from "./errors.ts";

describe("challenges", () => {
  it("put the realm on the host and scheme the client used", () => {
    assert.equal(tokenRealm("http://127.0.0.1:8080/v2/"), "http://127.0.0.1:8080/auth/token");
    assert.equal(tokenRealm("HTTPS://Reg.Example.com/v2/x"), "https://Reg.Example.com/auth/token");
    assert.equal(tokenRealm("http://[::1]:5000/v2/"), "http://[::1]:5000/auth/token");
    assert.equal(
      tokenRealm("http://10.0.0.1:8081/v2/", "https://registry.example.com"),
      "https://registry.example.com/auth/token",
    );
  });

  it("refuse a Host that names no host with 400, never 500", () => {
    for (const url of ['http://a"b/v2/', "http://a b/v2/", "http:///v2/", "http://x,y=z/v2/"]) {
      assert.throws(
        () => tokenRealm(url),
        (error: unknown) => error instanceof RegistryError && error.status === 400,
        url,
      );
    }
  });

  it("say realm, service, scope and why, and list the scope in the 401's detail", () => {
    const realm = "http://h/auth/token";
    assert.equal(
      bearerChallenge(realm, pullAccess("shell/git"), "insufficient_scope"),
      'Bearer realm="http://h/auth/token",service="nixery",scope="repository:shell/git:pull",error="insufficient_scope"',
    );
    assert.equal(
      bearerChallenge(realm, null),
      'Bearer realm="http://h/auth/token",service="nixery"',
    );
    const error = unauthorized(realm, pullAccess("hello"), "log in");
    assert.equal(error.status, 401);
    assert.deepEqual(error.toBody().errors[0], {
      code: "UNAUTHORIZED",
      message: "log in",
      detail: [{ Type: "repository", Name: "hello", Action: "pull" }],
    });
  });
});
