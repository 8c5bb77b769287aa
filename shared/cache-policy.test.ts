import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { digestCacheControl, tagCacheControl } from "./cache-policy.ts";

describe("cache policy", () => {
  it("lets shared caches keep a public instance's answers", () => {
    assert.equal(digestCacheControl("public"), "public, max-age=31536000, immutable");
    assert.equal(tagCacheControl(300, "public"), "public, max-age=300");
    assert.equal(tagCacheControl(0, "public"), "no-cache");
  });

  it("never marks a private instance's answers public", () => {
    for (const value of [digestCacheControl("private"), tagCacheControl(300, "private")]) {
      assert.ok(!value.includes("public"), value);
      assert.match(value, /^private, /);
    }
  });
});
