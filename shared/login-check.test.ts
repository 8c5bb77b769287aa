import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RegistryError } from "./errors.ts";
import { basicCredentials } from "./login-check.ts";

const basic = (text: string) => `Basic ${Buffer.from(text, "utf8").toString("base64")}`;

describe("Basic credentials", () => {
  it("split at the first colon and read UTF-8", () => {
    assert.deepEqual(basicCredentials(basic("alice:pa:ss")), { user: "alice", password: "pa:ss" });
    assert.deepEqual(basicCredentials(basic("jürgen:ü")), { user: "jürgen", password: "ü" });
    assert.equal(basicCredentials(null), null);
    assert.equal(basicCredentials("Bearer abc"), null);
  });

  it("answer 401 with a Basic challenge when malformed", () => {
    for (const header of ["Basic !!!", basic("nocolon"), `Basic ${btoa("\xff\xfe:x")}`]) {
      assert.throws(
        () => basicCredentials(header),
        (error: unknown) =>
          error instanceof RegistryError &&
          error.status === 401 &&
          /^Basic /.test(error.headers["WWW-Authenticate"] ?? ""),
        header,
      );
    }
  });
});
