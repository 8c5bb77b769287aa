import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "./config.ts";

const base = { NIXERY_PKGS_PATH: "/srv/pkgs" };

describe("parseConfig", () => {
  it("has Nixery-compatible defaults", () => {
    const config = parseConfig(base);
    assert.deepEqual(config.source, { kind: "path", path: "/srv/pkgs" });
    assert.equal(config.storage.backend, "filesystem");
    assert.equal(config.port, 8081);
    assert.equal(config.host, "127.0.0.1", "loopback unless HOST says otherwise");
    assert.equal(config.layerBudget, 94);
    assert.equal(config.nixTimeoutSeconds, 1200);
    assert.equal(config.originSecret, null);
    assert.equal(config.failureTtlSeconds, 30);
    assert.equal(config.maxQueuedBuilds, 100);
    assert.deepEqual(config.policy, {
      allowUnfree: false,
      allowInsecure: false,
      allowBroken: false,
    });
  });

  it("rejects a schemeless or malformed URL with one line, not a TypeError", () => {
    const s3 = {
      ...base,
      NIXERY_STORAGE_BACKEND: "s3",
      S3_BUCKET: "b",
      AWS_ACCESS_KEY_ID: "k",
      AWS_SECRET_ACCESS_KEY: "s",
    };
    const cases: [Record<string, string>, string][] = [
      [
        { ...s3, S3_ENDPOINT: "acct.r2.cloudflarestorage.com" },
        'S3_ENDPOINT must be an http(s) URL, got "acct.r2.cloudflarestorage.com" (no scheme: try https://acct.r2.cloudflarestorage.com)',
      ],
      [{ ...s3, S3_ENDPOINT: "http://" }, 'S3_ENDPOINT must be an http(s) URL, got "http://"'],
      [
        { ...s3, S3_ENDPOINT: "ftp://host" },
        'S3_ENDPOINT must be an http(s) URL, got "ftp://host"',
      ],
      [
        { NIXERY_CHANNEL: "nixos-24.05", NIXERY_CHANNEL_URL_TEMPLATE: "mirror/{channel}.tar.gz" },
        'NIXERY_CHANNEL_URL_TEMPLATE must be an http(s) or file:// URL, got "mirror/{channel}.tar.gz"',
      ],
    ];
    for (const [env, message] of cases) {
      assert.throws(
        () => parseConfig(env),
        (error: unknown) => error instanceof ConfigError && error.message === message,
        message,
      );
    }
    assert.equal(
      (parseConfig({ ...s3, S3_ENDPOINT: "http://127.0.0.1:9000" }).storage as { endpoint: string })
        .endpoint,
      "http://127.0.0.1:9000",
    );
  });

  it("lets the operator allow unfree, insecure and broken packages", () => {
    const config = parseConfig({
      ...base,
      NIXERY_ALLOW_UNFREE: "true",
      NIXERY_ALLOW_INSECURE: "false",
      NIXERY_ALLOW_BROKEN: "true",
    });
    assert.deepEqual(config.policy, { allowUnfree: true, allowInsecure: false, allowBroken: true });
  });

  it("builds for the host's platform only unless NIXERY_PLATFORMS lists more", () => {
    const host = process.arch === "arm64" ? "arm64" : "amd64";
    assert.deepEqual(parseConfig(base).platforms, [host]);
    assert.equal(parseConfig(base).hostArch, host);
    assert.deepEqual(parseConfig({ ...base, NIXERY_PLATFORMS: "" }).platforms, [host]);
    assert.deepEqual(
      parseConfig({ ...base, NIXERY_PLATFORMS: "linux/amd64,linux/arm64" }).platforms,
      ["amd64", "arm64"],
    );
  });

  it("reads each source kind, with a configurable channel URL", () => {
    assert.deepEqual(parseConfig({ NIXERY_PKGS_REPO: "git@example.com:pkgs.git" }).source, {
      kind: "git",
      url: "git@example.com:pkgs.git",
    });
    assert.deepEqual(
      parseConfig({
        NIXERY_CHANNEL: "nixos-24.05",
        NIXERY_CHANNEL_URL_TEMPLATE: "file:///m/{channel}.tgz",
      }).source,
      { kind: "channel", channel: "nixos-24.05", urlTemplate: "file:///m/{channel}.tgz" },
    );
    assert.deepEqual(parseConfig({ NIXERY_FLAKE: "github:NixOS/nixpkgs/nixos-24.11" }).source, {
      kind: "flake",
      ref: "github:NixOS/nixpkgs/nixos-24.11",
    });
    assert.deepEqual(parseConfig({ NIXERY_FLAKE: "./pkgs" }).source, {
      kind: "flake",
      ref: `${process.cwd()}/pkgs`,
    });
  });

  it("reads the s3 backend", () => {
    const config = parseConfig({
      ...base,
      NIXERY_STORAGE_BACKEND: "s3",
      S3_ENDPOINT: "https://acct.r2.cloudflarestorage.com",
      S3_BUCKET: "blobs",
      AWS_ACCESS_KEY_ID: "id",
      AWS_SECRET_ACCESS_KEY: "secret",
      S3_FORCE_PATH_STYLE: "true",
    });
    assert.equal(config.storage.backend, "s3");
    if (config.storage.backend === "s3") {
      assert.equal(config.storage.region, "auto");
      assert.equal(config.storage.forcePathStyle, true);
      assert.equal(config.storage.partSizeBytes, 64 * 1024 * 1024);
    }
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{}, /set exactly one package source/],
    [{ ...base, NIXERY_CHANNEL: "x" }, /only one package source/],
    [{ ...base, NIXERY_FLAKE: "github:a/b" }, /found NIXERY_PKGS_PATH and NIXERY_FLAKE/],
    [{ NIXERY_FLAKE: "-L" }, /NIXERY_FLAKE="-L" starts with "-"/],
    [{ NIXERY_FLAKE: "github:a/b c" }, /NIXERY_FLAKE="github:a\/b c" contains white space/],
    [{ ...base, PORT: "http" }, /PORT must be a whole number/],
    [{ ...base, PORT: "70000" }, /PORT must be between/],
    [{ ...base, NIX_TIMEOUT: "0" }, /NIX_TIMEOUT must be between/],
    [{ ...base, NIXERY_STORAGE_BACKEND: "gcs" }, /must be "filesystem" or "s3"/],
    [{ ...base, NIXERY_STORAGE_BACKEND: "s3" }, /S3_ENDPOINT is required/],
    [{ NIXERY_CHANNEL: "x", NIXERY_CHANNEL_URL_TEMPLATE: "https://x/y.tgz" }, /\{channel\}/],
    [{ ...base, ORIGIN_PRIVATE: "yes" }, /ORIGIN_PRIVATE must be true or false/],
    [{ ...base, ORIGIN_PRIVATE: "true" }, /needs ORIGIN_SECRET/],
    [{ ...base, NIXERY_ALLOW_UNFREE: "1" }, /NIXERY_ALLOW_UNFREE must be true or false/],
    [{ ...base, NIXERY_LAYER_BUDGET: "200" }, /NIXERY_LAYER_BUDGET must be between 2 and 125/],
    [
      { ...base, NIXERY_PLATFORMS: "linux/amd64,windows/amd64" },
      /NIXERY_PLATFORMS="linux\/amd64,windows\/amd64": unknown platform "windows\/amd64"/,
    ],
  ];
  for (const [env, message] of bad) {
    it(`rejects ${JSON.stringify(env)}`, () => {
      assert.throws(
        () => parseConfig(env),
        (error: unknown) => error instanceof ConfigError && message.test(error.message),
      );
    });
  }
});
