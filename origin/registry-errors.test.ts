import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RegistryError } from "../shared/errors.ts";
import { PackagesNotFound } from "./nix/lookup-errors.ts";
import { NixBuildFailed } from "./nix/build-errors.ts";
import {
  NixBuildTimedOut,
  NixCommandFailed,
  NixEvalFailed,
  SourceUnavailable,
  TagNotFound,
} from "./nix/errors.ts";
import { redactCredentials } from "./nix/source.ts";
import { BuildQueueFull, isTransient, PlatformBuildFailed } from "./builder/errors.ts";
import { mapOriginError } from "./registry-errors.ts";

const drv = "/nix/store/00000000000000000000000000000000-broken-1.0.drv";

describe("mapOriginError", () => {
  it("maps each domain error to a registry error that says what happened", () => {
    const missing = mapOriginError(new PackagesNotFound(["a", "_7zip"]));
    assert.equal(missing.code, "MANIFEST_UNKNOWN");
    assert.equal(missing.message, "Could not find Nix packages: a, 7zip");
    assert.deepEqual(missing.detail, { missing: ["a", "7zip"] });
    assert.equal(mapOriginError(new TagNotFound("v9", "repo")).status, 404);
    const failed = mapOriginError(
      new NixBuildFailed({
        packages: ["broken"],
        derivation: drv,
        requested: true,
        exitCode: 2,
        logTail: ["line 1", "error: boom"],
        download: null,
        nixOutput: ["@nix {}"],
      }),
    );
    assert.equal(
      failed.message,
      `Could not build broken: ${drv} failed (builder exit code 2). Last lines of its build log:\nline 1\nerror: boom`,
    );
    assert.deepEqual(failed.detail, {
      reason: "build_failed",
      packages: ["broken"],
      derivation: drv,
      log: ["line 1", "error: boom"],
    });
    assert.match(mapOriginError(new NixBuildTimedOut(7)).message, /timed out after 7 s/);
    const evaluation = mapOriginError(new NixEvalFailed("syntax error, unexpected ';'"));
    assert.equal(
      evaluation.message,
      "The package set does not evaluate: syntax error, unexpected ';'",
    );
    const source = mapOriginError(
      new SourceUnavailable("https://user:token@git.example.com/pkgs.git", "connection refused"),
    );
    assert.equal(source.status, 503);
    assert.ok(!source.message.includes("token"), source.message);
    const fetchGit = mapOriginError(
      new NixEvalFailed("fatal: could not read from 'https://user:token@git.example.com/p.git'"),
    );
    assert.ok(!fetchGit.message.includes("token"), fetchGit.message);
    const closure = mapOriginError(new NixCommandFailed("Reading the closure", "boom"));
    assert.equal(closure.status, 500);
    const registry = new RegistryError("NAME_INVALID");
    assert.equal(mapOriginError(registry), registry);
    assert.equal(mapOriginError(new Error("secret detail")).message.includes("secret"), false);
  });

  it("never doubles a prefix", () => {
    for (const error of [
      new NixBuildTimedOut(7, "build", ["hangs"]),
      new NixBuildTimedOut(7, "evaluate"),
      new NixEvalFailed("x"),
      new PackagesNotFound(["x"]),
    ]) {
      const message = mapOriginError(error).message;
      assert.doesNotMatch(
        message,
        /failed: .*failed:|image build failed|Nix build failed/,
        message,
      );
    }
  });

  it("words every refusal for a registry user, by the name as typed", () => {
    const error = new PackagesNotFound(
      [],
      [
        { name: "_1password", reason: "unfree", drvName: "1password-8.10" },
        {
          name: "openssl_1_1",
          reason: "insecure",
          drvName: "openssl-1.1.1w",
          vulnerabilities: ["OpenSSL 1.1 is end of life"],
        },
        { name: "foo", reason: "broken", drvName: "foo-1" },
        { name: "bar", reason: "unsupported", drvName: "bar-2" },
        { name: "app", reason: "unfree", drvName: "sdk-3", dependency: true },
        { name: "old", reason: "error", error: "old has been removed" },
        { name: "x1", reason: "unexplained" },
        { name: "x2", reason: "unexplained" },
      ],
    );
    const mapped = mapOriginError(error);
    assert.deepEqual(mapped.message.split("\n"), [
      "Nix package 1password (1password-8.10) has an unfree license in this package set, and this origin does not build unfree packages; its operator can allow them with NIXERY_ALLOW_UNFREE=true.",
      "Nix package openssl_1_1 (openssl-1.1.1w) is marked as insecure in this package set (OpenSSL 1.1 is end of life), and this origin does not build insecure packages; its operator can allow them with NIXERY_ALLOW_INSECURE=true.",
      "Nix package foo (foo-1) is marked as broken in this package set, and this origin does not build broken packages; its operator can allow them with NIXERY_ALLOW_BROKEN=true (the build may still fail).",
      "Nix package bar (bar-2) is not available for this image's platform in this package set.",
      "Nix package app depends on sdk-3, which has an unfree license in this package set, and this origin does not build unfree packages; its operator can allow them with NIXERY_ALLOW_UNFREE=true.",
      "Nix package old exists but does not evaluate: old has been removed",
      "Nix packages x1, x2 exist but do not evaluate either (not examined further: the origin explains the first few names only)",
    ]);
    const detail = mapped.detail as { unevaluable: { name: string }[] };
    assert.equal(detail.unevaluable[0]!.name, "1password");
    assert.doesNotMatch(mapped.message, /config\.nix|NIXPKGS_ALLOW/);
  });

  it("redacts credentials in URLs", () => {
    assert.equal(
      redactCredentials("see https://u:p@h/x and ssh://git@h/y"),
      "see https://***@h/x and ssh://***@h/y",
    );
  });

  it("names the platform that failed an index, with its own error's code", () => {
    const failed = mapOriginError(
      new PlatformBuildFailed([
        {
          platform: "linux/arm64",
          error: new NixBuildFailed({
            packages: ["busybox"],
            derivation: drv,
            requested: true,
            exitCode: 1,
            logTail: ["error: boom"],
            download: null,
            nixOutput: [],
          }),
        },
      ]),
    );
    assert.equal(failed.code, "MANIFEST_UNKNOWN");
    assert.match(
      failed.message,
      /^the linux\/arm64 image failed, and an index is served only when every platform builds: Could not build busybox: /,
    );
    assert.deepEqual((failed.detail as { failedPlatforms: string[] }).failedPlatforms, [
      "linux/arm64",
    ]);
    assert.equal((failed.detail as { reason: string }).reason, "build_failed");

    const queued = new PlatformBuildFailed([
      { platform: "linux/amd64", error: new BuildQueueFull(100) },
    ]);
    assert.equal(mapOriginError(queued).status, 429);
    assert.equal(mapOriginError(queued).headers["Retry-After"], "60");
    assert.equal(isTransient(queued), true);
    assert.equal(
      isTransient(new PlatformBuildFailed([{ platform: "linux/arm64", error: 1 }])),
      false,
    );
  });
});
