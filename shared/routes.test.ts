import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { assertReadMethod, matchRoute, registryPaths } from "./routes.ts";

describe("matchRoute", () => {
  const cases: [string, unknown][] = [
    ["/v2/", { kind: "base" }],
    ["/v2", { kind: "base" }],
    ["/v2/_catalog", { kind: "catalog" }],
    ["/v2/hello/manifests/latest", { kind: "manifest", name: "hello", reference: "latest" }],
    ["/v2/shell/git/manifests/v1", { kind: "manifest", name: "shell/git", reference: "v1" }],
    ["/v2/a/b/blobs/sha256:00", { kind: "blob", name: "a/b", digest: "sha256:00" }],
    ["/v2/a/tags/list", { kind: "tags", name: "a" }],
    ["/v2/a/blobs/uploads/", { kind: "upload", name: "a" }],
    ["/v2/a/blobs/uploads/123", { kind: "upload", name: "a" }],
    ["/v2/a/manifests/", null],
    ["/v3/a/manifests/latest", null],
    ["/other", null],
  ];
  for (const [path, expected] of cases) {
    it(path, () => assert.deepEqual(matchRoute(path), expected));
  }

  it("refuses writes as UNSUPPORTED", () => {
    const route = matchRoute("/v2/a/manifests/latest")!;
    assert.doesNotThrow(() => assertReadMethod("GET", route));
    assert.doesNotThrow(() => assertReadMethod("HEAD", route));
    for (const method of ["PUT", "POST", "DELETE", "PATCH"]) {
      assert.throws(() => assertReadMethod(method, route), { code: "UNSUPPORTED", status: 405 });
    }
    assert.throws(() => assertReadMethod("GET", matchRoute("/v2/a/blobs/uploads/")!), {
      code: "UNSUPPORTED",
    });
  });
});

describe("registryPaths", () => {
  it("builds the paths that matchRoute reads back", () => {
    const name = "shell/git";
    const digest = "sha256:" + "a".repeat(64);
    assert.equal(
      registryPaths.manifest.path({ name, reference: digest }),
      `/v2/${name}/manifests/${digest}`,
    );
    assert.deepEqual(matchRoute(registryPaths.blob.path({ name, digest })), {
      kind: "blob",
      name,
      digest,
    });
    assert.deepEqual(matchRoute(registryPaths.tags.path({ name })), { kind: "tags", name });
    assert.deepEqual(matchRoute(registryPaths.base.path()), { kind: "base" });
  });
});
