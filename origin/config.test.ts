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

  it("lets the operator allow unfree, insecure and broken packages", () => {
    const config = parseConfig({
      ...base,
      NIXERY_ALLOW_UNFREE: "true",
      NIXERY_ALLOW_INSECURE: "false",
      NIXERY_ALLOW_BROKEN: "true",
    });
    assert.deepEqual(config.policy, { allowUnfree: true, allowInsecure: false, allowBroken: true });
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
