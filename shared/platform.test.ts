import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { indexPlatform, InvalidPlatformList, parsePlatformList, platformName } from "./platform.ts";

describe("platform lists", () => {
  it("parses in order, without duplicates, with arm64/v8 as arm64", () => {
    assert.deepEqual(parsePlatformList("linux/amd64,linux/arm64"), ["amd64", "arm64"]);
    assert.deepEqual(parsePlatformList(" linux/arm64 , linux/amd64 "), ["arm64", "amd64"]);
    assert.deepEqual(parsePlatformList("linux/arm64/v8,linux/arm64"), ["arm64"]);
    assert.deepEqual(parsePlatformList("LINUX/AMD64"), ["amd64"]);
  });

  it("rejects what it cannot build, naming it", () => {
    assert.throws(() => parsePlatformList("linux/amd64,linux/riscv64"), {
      name: "InvalidPlatformList",
      message: /unknown platform "linux\/riscv64": use linux\/amd64 and\/or linux\/arm64/,
    });
    assert.throws(() => parsePlatformList("amd64"), InvalidPlatformList);
    assert.throws(() => parsePlatformList(" , "), /names no platform/);
  });

  it("spells index platforms as clients match them", () => {
    assert.equal(platformName("arm64"), "linux/arm64");
    assert.deepEqual(indexPlatform("amd64"), { architecture: "amd64", os: "linux" });
    assert.deepEqual(indexPlatform("arm64"), { architecture: "arm64", os: "linux", variant: "v8" });
  });
});
