import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RegistryError } from "../../shared/errors.ts";
import {
  NixBuildFailed,
  NixBuildTimedOut,
  PackagesNotFound,
  SourceUnavailable,
  TagNotFound,
} from "../nix/errors.ts";
import { redactCredentials } from "../nix/source.ts";
import { toBuildRegistryError } from "./map-error.ts";

describe("toBuildRegistryError", () => {
  it("maps each domain error to a registry error that says what happened", () => {
    const missing = toBuildRegistryError(new PackagesNotFound(["a", "b"]));
    assert.equal(missing.code, "MANIFEST_UNKNOWN");
    assert.equal(missing.message, "Could not find Nix packages: a, b");
    const unevaluable = toBuildRegistryError(
      new PackagesNotFound([], [{ name: "c", error: "Package 'c' is marked as broken" }]),
    );
    assert.equal(
      unevaluable.message,
      "Nix package c exists but does not evaluate: Package 'c' is marked as broken",
    );
    assert.deepEqual(unevaluable.detail, {
      missing: [],
      unevaluable: [{ name: "c", error: "Package 'c' is marked as broken" }],
    });
    assert.equal(toBuildRegistryError(new TagNotFound("v9", "repo")).status, 404);
    const failed = toBuildRegistryError(
      new NixBuildFailed("/nix/store/x-broken.drv", ["line 1", "error: boom"]),
    );
    assert.match(failed.message, /^image build failed: .*\nline 1\nerror: boom$/s);
    assert.match(toBuildRegistryError(new NixBuildTimedOut(7)).message, /timed out after 7 s/);
    const source = toBuildRegistryError(
      new SourceUnavailable("https://user:token@git.example.com/pkgs.git", "connection refused"),
    );
    assert.equal(source.status, 503);
    assert.ok(!source.message.includes("token"), source.message);
    const registry = new RegistryError("NAME_INVALID");
    assert.equal(toBuildRegistryError(registry), registry);
    assert.equal(
      toBuildRegistryError(new Error("secret detail")).message.includes("secret"),
      false,
    );
  });

  it("redacts credentials in URLs", () => {
    assert.equal(
      redactCredentials("see https://u:p@h/x and ssh://git@h/y"),
      "see https://***@h/x and ssh://***@h/y",
    );
  });
});
