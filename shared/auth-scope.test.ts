import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  covers,
  formatScopes,
  grantedAccess,
  parseResourceScope,
  parseScopes,
  pullAccess,
} from "./auth-scope.ts";

describe("token scopes", () => {
  it("reads the grammar's examples, a host with a port included", () => {
    assert.deepEqual(parseResourceScope("repository:samalba/my-app:pull,push"), {
      type: "repository",
      name: "samalba/my-app",
      actions: ["pull", "push"],
    });
    assert.deepEqual(parseResourceScope("repository:registry.example.com:5000/shell/git:pull"), {
      type: "repository",
      name: "registry.example.com:5000/shell/git",
      actions: ["pull"],
    });
    assert.deepEqual(parseResourceScope("repository(plugin):a/b:pull"), {
      type: "repository",
      name: "a/b",
      actions: ["pull"],
    });
    assert.deepEqual(parseResourceScope("registry:catalog:*"), {
      type: "registry",
      name: "catalog",
      actions: ["*"],
    });
  });

  it("drops entries that do not follow the grammar", () => {
    for (const text of ["", "repository", "repository:x", "Repo:x:pull", "repository:UP:pull"]) {
      assert.equal(parseResourceScope(text), null, text);
    }
    assert.equal(parseResourceScope(`repository:${"a".repeat(300)}:pull`), null);
  });

  it("merges repeated parameters and space-separated lists", () => {
    assert.deepEqual(
      parseScopes(["repository:hello:pull", "repository:hello:push repository:git:pull", "junk"]),
      [
        { type: "repository", name: "hello", actions: ["pull", "push"] },
        { type: "repository", name: "git", actions: ["pull"] },
      ],
    );
  });

  it("grants pull on repositories and nothing else", () => {
    const granted = grantedAccess(
      parseScopes(["repository:hello:pull,push", "repository:git:push", "registry:catalog:*"]),
    );
    assert.deepEqual(granted, [{ type: "repository", name: "hello", actions: ["pull"] }]);
    assert.equal(formatScopes(granted), "repository:hello:pull");
    assert.ok(covers(granted, pullAccess("hello")));
    assert.ok(!covers(granted, pullAccess("git")));
    assert.ok(!covers(granted, { type: "repository", name: "hello", actions: ["push"] }));
  });
});
