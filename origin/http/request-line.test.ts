import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { forwardedTarget, urlSafeHost, type RequestLine } from "./request-line.ts";

const own = "127.0.0.1:8080";

function line(url: string, headers: string[] = ["Host", "h"], method = "GET", version = "1.1") {
  return { method, url, httpVersion: version, rawHeaders: headers } satisfies RequestLine;
}

describe("forwardedTarget", () => {
  it("forwards origin-form targets with the client's Host when a URL can hold it", () => {
    assert.deepEqual(forwardedTarget(line("/v2/?n=1", ["Host", "registry.example:5000"]), own), {
      kind: "origin",
      path: "/v2/?n=1",
      host: "registry.example:5000",
    });
  });

  for (const host of ["a.1", "999.1.1.1", "1.2.3.4.5", "09.1", "example.com:99999", ""]) {
    it(`replaces the valid HTTP host ${JSON.stringify(host)} that no URL can hold`, () => {
      const target = forwardedTarget(line("/v2/", ["Host", host]), own);
      assert.deepEqual(target, { kind: "origin", path: "/v2/", host: own });
    });
  }

  it("takes the authority of an absolute-form target (RFC 9112 §3.2.2)", () => {
    assert.deepEqual(forwardedTarget(line("http://other:81/v2/x?y", ["Host", "h"]), own), {
      kind: "origin",
      path: "/v2/x?y",
      host: "other:81",
    });
    assert.deepEqual(forwardedTarget(line("HTTP://a.1?q", []), own), {
      kind: "origin",
      path: "/?q",
      host: own,
    });
  });

  it("accepts OPTIONS * and HTTP/1.0 without Host", () => {
    assert.deepEqual(forwardedTarget(line("*", ["Host", "h"], "OPTIONS"), own), {
      kind: "asterisk",
    });
    assert.deepEqual(forwardedTarget(line("/v2/", [], "GET", "1.0"), own), {
      kind: "origin",
      path: "/v2/",
      host: own,
    });
  });

  const malformed: [string, RequestLine][] = [
    ["two Host fields", line("/", ["Host", "a", "host", "b"])],
    ["an invalid Host", line("/", ["Host", "a:b:c"])],
    ["a Host with a space", line("/", ["Host", "a b"])],
    ["HTTP/1.1 without Host", line("/", [])],
    ["* for GET", line("*")],
    ["authority-form for GET", line("example.com:80")],
    ["userinfo in an absolute target", line("http://u@h/")],
    ["an absolute target without host", line("http:///v2/")],
  ];
  for (const [what, request] of malformed) {
    it(`refuses ${what} with 400 BAD_REQUEST`, () => {
      assert.throws(() => forwardedTarget(request, own), { code: "BAD_REQUEST", status: 400 });
    });
  }

  it("keeps hosts that a URL holds as they are", () => {
    assert.equal(urlSafeHost("[::1]:8080", own), "[::1]:8080");
    assert.equal(urlSafeHost("Registry.Example", own), "Registry.Example");
  });
});
