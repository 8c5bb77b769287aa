import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recordedOutput, recordedVersions } from "../../test/support/nix-output.ts";
import { testNix, testNixEnv } from "../../test/support/nix-env.ts";
import { createNixRunner, type NixRunner } from "./runner.ts";
import {
  configShowArgs,
  detectNix,
  newerThanTested,
  NixUnsupported,
  parseNixVersion,
  parseSubstituters,
  pathInfoFormatArgs,
  type NixVersion,
} from "./version.ts";

const version = (text: string): NixVersion => parseNixVersion(`nix (Nix) ${text}`)!;

describe("the Nix version", () => {
  it("is read from every recorded `nix --version`, and decides the flags", () => {
    const expected: Record<string, [string[], string[]]> = {
      "2.8": [[], ["show-config"]],
      "2.26": [[], ["config", "show"]],
      "2.34": [
        ["--json-format", "1"],
        ["config", "show"],
      ],
    };
    assert.deepEqual(recordedVersions(), Object.keys(expected));
    for (const recorded of recordedVersions()) {
      const parsed = parseNixVersion(recordedOutput(recorded, "version").stdout);
      assert.ok(parsed, recorded);
      assert.equal(`${parsed.major}.${parsed.minor}`, recorded);
      assert.deepEqual([pathInfoFormatArgs(parsed), configShowArgs(parsed)], expected[recorded]);
      assert.equal(newerThanTested(parsed), false);
    }
  });

  it("reads suffixes and other flavours' names, and nothing from garbage", () => {
    assert.deepEqual(parseNixVersion("nix (Nix) 2.18.1pre20231107_dirty\n"), {
      major: 2,
      minor: 18,
      patch: 1,
      text: "2.18.1pre20231107_dirty",
    });
    assert.equal(parseNixVersion("nix (Determinate Nix 3.6.2) 2.29.0")?.minor, 29);
    assert.equal(parseNixVersion("nix (Nix) 2.24.9+dfsg")?.patch, 9);
    assert.equal(parseNixVersion("command not found"), null);
    assert.deepEqual(pathInfoFormatArgs(version("2.32.4")), []);
    assert.deepEqual(pathInfoFormatArgs(version("2.33.0")), ["--json-format", "1"]);
    assert.deepEqual(configShowArgs(version("2.19.2")), ["show-config"]);
    assert.equal(newerThanTested(version("2.35.0")), true);
    assert.equal(newerThanTested(version("3.0.0")), true);
  });

  it("finds the substituters in every recorded configuration", () => {
    for (const recorded of recordedVersions()) {
      // The tests' nix.conf has `substituters =` (no binary cache).
      assert.deepEqual(parseSubstituters(recordedOutput(recorded, "config-show").stdout), []);
    }
    assert.deepEqual(parseSubstituters("substituters = https://a/ https://b\n"), [
      "https://a/",
      "https://b",
    ]);
    assert.equal(parseSubstituters("nothing here"), null);
  });

  it("is detected from the Nix on PATH, with its binary caches", async () => {
    const nix = await testNix();
    assert.ok(nix.version.major === 2 && nix.version.minor >= 8, nix.version.text);
    assert.deepEqual(nix.substituters, []);
    const runner = createNixRunner({
      env: { ...testNixEnv(), NIX_CONFIG: "substituters = http://127.0.0.1:1/cache" },
    });
    assert.deepEqual((await detectNix(runner)).substituters, ["http://127.0.0.1:1/cache"]);
    // test/nix-current/run.sh runs these tests again in a Debian 13 chroot: its Nix is 2.26.
    if (process.env.NIXERY_TEST_CHROOT === "trixie") assert.equal(nix.version.minor, 26);
  });

  it("refuses a Nix that is missing or too old, saying why", async () => {
    const missing = createNixRunner({ env: { ...testNixEnv(), PATH: "/nonexistent" } });
    await assert.rejects(detectNix(missing), (error) => {
      assert.ok(error instanceof NixUnsupported);
      assert.match(error.message, /cannot run nix .*install Nix 2\.8 or newer/);
      return true;
    });
    const old: NixRunner = async () => ({
      exitCode: 0,
      signal: null,
      timedOut: false,
      stdout: "nix (Nix) 2.3.16\n",
      stderrTail: [],
    });
    await assert.rejects(detectNix(old), /Nix 2\.3\.16 is too old: the origin needs Nix 2\.8/);
  });
});
