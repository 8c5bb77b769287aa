// Which requested package each failure kept from building: Nix's output of a --keep-going build
// recorded on every Nix version (test/fixtures/nix-output/*/realise-keep-going.json), and a real
// build of the nixpkgs-shaped fixture set whose message must name what the user asked for.

import assert from "node:assert/strict";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { nixOutputFixtures, testNixEnv } from "../../test/support/nix-env.ts";
import { parseRealiseFailure } from "./build-output.ts";
import { NixBuildFailed } from "./build-errors.ts";
import { derivationLabel } from "./failed-packages.ts";
import { lookupPackages } from "./packages.ts";
import { realisePackages } from "./realise.ts";
import { createNixRunner } from "./runner.ts";

const indexSet = new URL("../../test/fixtures/index-pkgs", import.meta.url).pathname;

describe("failed packages", () => {
  for (const version of readdirSync(nixOutputFixtures)) {
    const file = join(nixOutputFixtures, version, "realise-keep-going.json");
    if (!existsSync(file)) continue;
    it(`reads every failure of a --keep-going build (Nix ${version})`, () => {
      const sample = JSON.parse(readFileSync(file, "utf8")) as { stderr: string[] };
      const failure = parseRealiseFailure(sample.stderr);
      const byLabel = new Map(failure.failures.map((f) => [derivationLabel(f.drv), f]));
      assert.deepEqual([...byLabel.keys()].sort(), ["broken-1.0", "fromsource-1.0.tar.gz"]);
      assert.equal(byLabel.get("broken-1.0")!.exitCode, 1);
      assert.equal(byLabel.get("broken-1.0")!.download, null);
      assert.equal(
        byLabel.get("fromsource-1.0.tar.gz")!.download?.url,
        "http://127.0.0.1:1/fromsource-1.0.tar.gz",
      );
      assert.ok(failure.dependents.some((drv) => drv.endsWith("-needs-download-1.0.drv")));
    });
  }

  for (const version of readdirSync(nixOutputFixtures)) {
    const file = join(nixOutputFixtures, version, "realise-download.json");
    if (!existsSync(file)) continue;
    it(`ties a source download to the fetch that failed for it (Nix ${version})`, () => {
      const sample = JSON.parse(readFileSync(file, "utf8")) as { stderr: string[] };
      const failure = parseRealiseFailure(sample.stderr);
      assert.equal(failure.failures.length, 1);
      assert.equal(derivationLabel(failure.failures[0]!.drv), "fromsource-1.0.tar.gz");
      assert.equal(failure.failures[0]!.download?.url, "http://127.0.0.1:1/fromsource-1.0.tar.gz");
      assert.doesNotMatch(failure.failures[0]!.download?.error ?? "", /retrying/);
    });
  }

  it("labels derivations by name, and fetches named after a URL query not at all", () => {
    assert.equal(
      derivationLabel("/nix/store/0l6ipvi1l47qdlqcpywwj5d1gwymrr7v-bash-4.4.drv"),
      "bash-4.4",
    );
    assert.equal(
      derivationLabel("/nix/store/0l6ipvi1l47qdlqcpywwj5d1gwymrr7v-?id=14adc898a4a5a0a0.drv"),
      null,
    );
  });

  it("says once which dependency kept several requested packages from building", () => {
    const bash = {
      own: false,
      label: "bash-4.4.tar.gz",
      exitCode: 1,
      known: true,
      download: {
        url: "https://ftpmirror.gnu.org/bash/bash-4.4.tar.gz",
        error: "Couldn't resolve host name (6)",
      },
      logTail: [],
    };
    const error = new NixBuildFailed({
      packages: ["jq", "ripgrep"],
      derivation: "/nix/store/myfzvw3m2fzg7r3xkzr15c0flbc9mxiq-bash-4.4.tar.gz.drv",
      requested: false,
      exitCode: 1,
      logTail: [],
      download: { ...bash.download, toBuild: 955, caches: { state: "none" } },
      nixOutput: [],
      perPackage: [
        { name: "jq", ...bash },
        { name: "ripgrep", ...bash },
        {
          name: "_7zip",
          own: true,
          label: "p7zip-16.02",
          exitCode: 2,
          known: true,
          download: null,
          logTail: ["make: *** [all] Error 2"],
        },
      ],
    });
    assert.match(
      error.message,
      /^Could not build jq, ripgrep, 7zip: jq, ripgrep could not be built because their dependency bash-4\.4\.tar\.gz could not be downloaded \(unable to download 'https:\/\/ftpmirror\.gnu\.org\/bash\/bash-4\.4\.tar\.gz': Couldn't resolve host name \(6\)\); 7zip failed to build \(p7zip-16\.02, builder exit code 2\)\. 955 derivations had to be built from source\. The origin has no binary cache configured.*\nLast lines of the build log of p7zip-16\.02:\nmake: \*\*\* \[all\] Error 2$/s,
    );
  });

  it("names each requested package that failed, with its own reason, and not the dependency", async () => {
    const runner = createNixRunner({ env: testNixEnv() });
    const source = {
      id: "test",
      revision: null,
      pinned: false,
      nixArgs: ["--argstr", "srcType", "path", "--argstr", "src", indexSet],
      nixOptions: [],
    };
    const lookup = await lookupPackages(
      runner,
      source,
      ["needs-download", "git", "broken"],
      "x86_64-linux",
    );
    assert.equal(lookup.found.length, 3);
    const error = await realisePackages(runner, lookup.found, {
      timeoutMs: 120_000,
      rootDir: join(testNixEnv().XDG_CACHE_HOME!, "failed-packages-roots"),
      substituters: [],
    }).then(
      () => assert.fail("the build succeeded"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof NixBuildFailed, String(error));
    const message = error.message;
    assert.match(message, /^Could not build needs-download, broken: /);
    assert.match(
      message,
      /needs-download could not be built because its dependency fromsource-1\.0\.tar\.gz could not be downloaded \(unable to download 'http:\/\/127\.0\.0\.1:1\/fromsource-1\.0\.tar\.gz': Could(n't| not) connect to server \(7\)[^)]*\)/,
    );
    assert.match(message, /broken failed to build \(broken-1\.0, builder exit code 1\)/);
    assert.match(
      message,
      /Last lines of the build log of broken-1\.0:\n.*broken: error: this package always fails/s,
    );
    assert.doesNotMatch(message, /retrying|\bgit\b|\/nix\/store\//);
    assert.deepEqual(
      error.perPackage.map((pkg) => [pkg.name, pkg.own, pkg.label]),
      [
        ["needs-download", false, "fromsource-1.0.tar.gz"],
        ["broken", true, "broken-1.0"],
      ],
    );
  });
});
