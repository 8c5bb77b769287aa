import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { pathTemplate } from "./path-template.ts";

describe("pathTemplate", () => {
  const blob = pathTemplate("/v2/:name{.+}/blobs/:digest");

  it("builds a path and matches it back to the same parameters", () => {
    const path = blob.path({ name: "shell/git", digest: "sha256:00ff" });
    assert.equal(path, "/v2/shell/git/blobs/sha256:00ff");
    assert.deepEqual(blob.match(path), { name: "shell/git", digest: "sha256:00ff" });
  });

  it("percent-encodes what a segment cannot hold, and decodes it when matching", () => {
    const build = pathTemplate("/_origin/builds/:id");
    const path = build.path({ id: "a/b c?d#e%f" });
    assert.equal(path, "/_origin/builds/a%2Fb%20c%3Fd%23e%25f");
    assert.deepEqual(build.match(path), { id: "a/b c?d#e%f" });
    assert.equal(build.match("/_origin/builds/a/b"), null, "one segment only");
    assert.deepEqual(
      build.match("/_origin/builds/%E0%A4%A"),
      { id: "%E0%A4%A" },
      "bad escapes kept",
    );
  });

  it("takes an optional trailing slash on a template that ends with one", () => {
    const base = pathTemplate("/v2/");
    assert.equal(base.path(), "/v2/");
    assert.deepEqual(base.match("/v2"), {});
    assert.deepEqual(base.match("/v2/"), {});
    assert.equal(base.match("/v2//"), null);
    assert.equal(pathTemplate("/_origin/gc").match("/_origin/gc/"), null);
  });

  it("matches anything below a template ending in /*, and builds its fixed part", () => {
    const upload = pathTemplate("/v2/:name{.+}/blobs/uploads/*");
    assert.deepEqual(upload.match("/v2/a/b/blobs/uploads"), { name: "a/b" });
    assert.deepEqual(upload.match("/v2/a/blobs/uploads/1/2"), { name: "a" });
    assert.equal(upload.match("/v2/a/blobs/uploadsx"), null);
    assert.equal(upload.path({ name: "a" }), "/v2/a/blobs/uploads");
  });

  it("treats regular-expression characters in the text literally", () => {
    assert.equal(pathTemplate("/v2/_catalog").match("/v2/_catalogs"), null);
    assert.deepEqual(pathTemplate("/a.b/:x").match("/a.b/1"), { x: "1" });
    assert.equal(pathTemplate("/a.b/:x").match("/aXb/1"), null);
  });
});
