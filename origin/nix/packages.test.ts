import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fixturePackageSet, testNixEnv } from "../../test/support/nix-env.ts";
import { lookupPackages } from "./packages.ts";
import { createNixRunner } from "./runner.ts";
import { resolveSource } from "./source.ts";
import { NixEvalFailed } from "./errors.ts";

const runner = createNixRunner({ env: testNixEnv() });
const system = "x86_64-linux";
const fixture = () => resolveSource({ kind: "path", path: fixturePackageSet }, "latest", runner);

describe("lookupPackages", () => {
  it("finds packages with their derivation and output paths", async () => {
    const lookup = await lookupPackages(runner, await fixture(), ["hello", "goodbye"], system);
    assert.deepEqual(lookup.missing, []);
    assert.deepEqual(
      lookup.found.map((p) => [p.name, p.attrPath, p.outputs]),
      [
        ["hello", "hello", ["out"]],
        ["goodbye", "goodbye", ["out"]],
      ],
    );
    const hello = lookup.found[0]!;
    assert.match(hello.drvPath, /^\/nix\/store\/[a-z0-9]{32}-hello-2\.12\.drv$/);
    assert.match(hello.outPaths[0]!, /^\/nix\/store\/[a-z0-9]{32}-hello-2\.12$/);
    assert.match(lookup.coreutils ?? "", /^\/nix\/store\/[a-z0-9]{32}-coreutils-9\.1$/);
  });

  it("reports every missing name together, and builds nothing", async () => {
    const lookup = await lookupPackages(
      runner,
      await fixture(),
      ["nope", "hello", "tools", "tools.nope", "hello.nope", "alsonope"],
      system,
    );
    assert.deepEqual(
      lookup.found.map((p) => p.name),
      ["hello"],
    );
    // A plain set (`tools`) is not a package.
    assert.deepEqual(lookup.missing, ["nope", "tools", "tools.nope", "hello.nope", "alsonope"]);
  });

  it("resolves nested sets and lowercase names at every level of the path", async () => {
    const lookup = await lookupPackages(
      runner,
      await fixture(),
      ["tools.xev", "haskellpackages.pandoclite", "haskellPackages.pandoclite", "bashinteractive"],
      system,
    );
    assert.deepEqual(lookup.missing, []);
    assert.deepEqual(
      lookup.found.map((p) => p.attrPath),
      ["tools.xev", "haskellPackages.pandocLite", "haskellPackages.pandocLite", "bashInteractive"],
    );
  });

  it("finds a digit-first attribute under its `_` name", async () => {
    const lookup = await lookupPackages(runner, await fixture(), ["_1password"], system);
    assert.deepEqual(
      lookup.found.map((p) => p.attrPath),
      ["_1password"],
    );
  });

  it("has what the shell meta-package and every image need", async () => {
    const names = ["bashInteractive", "coreutils", "moreutils", "nano", "cacert", "iana-etc"];
    const lookup = await lookupPackages(runner, await fixture(), names, system);
    assert.deepEqual(lookup.missing, []);
    // Nixery marks nss-cacert* as popular by store path name.
    assert.match(lookup.found[4]!.outPaths[0]!, /-nss-cacert-[0-9.]+$/);
  });

  it("installs only meta.outputsToInstall of a multi-output package", async () => {
    const lookup = await lookupPackages(runner, await fixture(), ["jq"], system);
    const jq = lookup.found[0]!;
    assert.deepEqual(jq.outputs, ["out"]);
    assert.equal(jq.outPaths.length, 1);
    assert.match(jq.outPaths[0]!, /-jq-1\.7$/);
  });

  it("treats names that contain Nix syntax as plain missing names", async () => {
    const names = ['"a"; builtins.abort "x"', '${builtins.abort "y"}', "a\nb", '") + 1'];
    const lookup = await lookupPackages(runner, await fixture(), names, system);
    assert.deepEqual(lookup.found, []);
    assert.deepEqual(lookup.missing, names);
  });

  it("evaluates for another system without building anything", async () => {
    const arm = await lookupPackages(runner, await fixture(), ["hello"], "aarch64-linux");
    const x86 = await lookupPackages(runner, await fixture(), ["hello"], system);
    assert.notEqual(arm.found[0]!.drvPath, x86.found[0]!.drvPath);
  });

  it("says which check refused a package, and the policy lets them through", async () => {
    const names = ["unfree-tool", "insecure-lib", "marked-broken", "removed-tool"];
    const refused = await lookupPackages(runner, await fixture(), names, system);
    assert.deepEqual(refused.found, []);
    assert.deepEqual(
      refused.failed.map((pkg) => [pkg.name, pkg.reason, pkg.drvName]),
      [
        ["unfree-tool", "unfree", "unfree-tool-1.0"],
        ["insecure-lib", "insecure", "insecure-lib-1.1"],
        ["marked-broken", "broken", "marked-broken-0.1"],
        ["removed-tool", null, null],
      ],
    );
    const policy = { allowUnfree: true, allowInsecure: true, allowBroken: true };
    const allowed = await lookupPackages(runner, await fixture(), names, system, { policy });
    assert.deepEqual(
      allowed.found.map((pkg) => pkg.name),
      ["unfree-tool", "insecure-lib", "marked-broken"],
    );
    assert.deepEqual(
      allowed.failed.map((pkg) => pkg.name),
      ["removed-tool"],
    );
    // Each switch lifts its own check only.
    const onlyUnfree = await lookupPackages(runner, await fixture(), names, system, {
      policy: { allowUnfree: true, allowInsecure: false, allowBroken: false },
    });
    assert.deepEqual(
      onlyUnfree.found.map((pkg) => pkg.name),
      ["unfree-tool"],
    );
  });

  it("reports an unusable package set as NixEvalFailed", async () => {
    const source = await resolveSource(
      { kind: "path", path: "/nonexistent/set" },
      "latest",
      runner,
    );
    await assert.rejects(lookupPackages(runner, source, ["hello"], system), (error) => {
      assert.ok(error instanceof NixEvalFailed);
      // The message names the path by its last part only; Nix's whole output is for the log.
      assert.match(error.detail, /'…\/set'/);
      assert.doesNotMatch(error.message, /nonexistent|packages\.nix/);
      assert.ok(error.nixOutput.some((line) => line.includes("/nonexistent/set")));
      return true;
    });
  });
});
