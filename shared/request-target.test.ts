import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { requestHost, requestTarget } from "./request-target.ts";

describe("requestTarget", () => {
  for (const host of [
    "a.1",
    "999.1.1.1",
    "1.2.3.4.5",
    "09.1",
    "a:b:c",
    "example.com:99999",
    "x y",
  ]) {
    it(`reads the path under the host "${host}", which URL refuses`, () => {
      assert.throws(() => new URL(`http://${host}/v2/`));
      const target = requestTarget(`http://${host}/v2/hello/tags/list?n=2&last=a`);
      assert.equal(target.pathname, "/v2/hello/tags/list");
      assert.equal(target.searchParams.get("n"), "2");
      assert.equal(target.searchParams.get("last"), "a");
      assert.equal(requestHost(`http://${host}/v2/`), host);
    });
  }

  it("never lets the path choose the host", () => {
    assert.equal(requestTarget("http://h//evil.example/v2/").pathname, "//evil.example/v2/");
    assert.equal(requestTarget("http://h").pathname, "/");
    assert.equal(requestTarget("/v2/x?y=1").pathname, "/v2/x");
  });

  it("keeps percent-encoding for the router to decode", () => {
    assert.equal(requestTarget("http://h/v2/a%2Fb/%zz").pathname, "/v2/a%2Fb/%zz");
  });
});
