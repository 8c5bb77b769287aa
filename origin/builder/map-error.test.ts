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
import { BuildQueueFull, isTransient, PlatformBuildFailed } from "./errors.ts";
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

  it("names the platform that failed an index, with its own error's code", () => {
    const failed = toBuildRegistryError(
      new PlatformBuildFailed([
        {
          platform: "linux/arm64",
          error: new NixBuildFailed("/nix/store/x-busybox.drv", ["error: boom"]),
        },
      ]),
    );
    assert.equal(failed.code, "MANIFEST_UNKNOWN");
    assert.match(
      failed.message,
      /^the linux\/arm64 image failed, and an index is served only when every platform builds: image build failed: /,
    );
    assert.deepEqual((failed.detail as { failedPlatforms: string[] }).failedPlatforms, [
      "linux/arm64",
    ]);
    assert.equal((failed.detail as { reason: string }).reason, "build_failed");

    const queued = new PlatformBuildFailed([
      { platform: "linux/amd64", error: new BuildQueueFull(100) },
    ]);
    assert.equal(toBuildRegistryError(queued).status, 429);
    assert.equal(toBuildRegistryError(queued).headers["Retry-After"], "60");
    assert.equal(isTransient(queued), true);
    assert.equal(
      isTransient(new PlatformBuildFailed([{ platform: "linux/arm64", error: 1 }])),
      false,
    );
  });
});
