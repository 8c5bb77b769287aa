import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Limiter } from "../builder/limiter.ts";
import { fixturePackageSet, testNixEnv } from "../../test/support/nix-env.ts";
import { explainFailures } from "./explain.ts";
import { lookupPackages } from "./packages.ts";
import { createNixRunner, type NixRunner } from "./runner.ts";
import { resolveSource, type ResolvedSource } from "./source.ts";

const runner = createNixRunner({ env: testNixEnv() });
const system = "x86_64-linux";
let fixture: ResolvedSource;
let throwingDir: string;
let throwing: ResolvedSource;
const throwingNames = Array.from({ length: 8 }, (_, index) => `bad${index}`);

/** A runner that counts nix-instantiate processes, at once and in all. */
function counting() {
  const counts = { running: 0, peak: 0, total: 0 };
  const wrapped: NixRunner = async (program, args, options) => {
    if (program !== "nix-instantiate") return runner(program, args, options);
    counts.total++;
    counts.running++;
    counts.peak = Math.max(counts.peak, counts.running);
    try {
      return await runner(program, args, options);
    } finally {
      counts.running--;
    }
  };
  return { counts, runner: wrapped };
}

before(async () => {
  fixture = await resolveSource({ kind: "path", path: fixturePackageSet }, "latest", runner);
  throwingDir = await mkdtemp(join(tmpdir(), "explain-test-"));
  await writeFile(
    join(throwingDir, "default.nix"),
    `{ ... }: builtins.listToAttrs (map (name: { inherit name; value = throw "\${name} throws at /srv/secret/x.nix"; })
      [ ${throwingNames.map((name) => JSON.stringify(name)).join(" ")} ])`,
  );
  throwing = await resolveSource({ kind: "path", path: throwingDir }, "latest", runner);
});
after(() => rm(throwingDir, { recursive: true, force: true }));

describe("explainFailures", () => {
  it("names refusals from the lookup's report without running Nix again", async () => {
    const names = ["unfree-tool", "insecure-lib", "marked-broken"];
    const lookup = await lookupPackages(runner, fixture, names, system);
    const { counts, runner: watched } = counting();
    const explained = await explainFailures(watched, fixture, lookup.failed, system, {
      slots: new Limiter(1),
    });
    assert.equal(counts.total, 0);
    assert.deepEqual(explained, [
      { name: "unfree-tool", reason: "unfree", drvName: "unfree-tool-1.0", vulnerabilities: [] },
      {
        name: "insecure-lib",
        reason: "insecure",
        drvName: "insecure-lib-1.1",
        vulnerabilities: ["CVE-2000-0001: a fixture vulnerability"],
      },
      {
        name: "marked-broken",
        reason: "broken",
        drvName: "marked-broken-0.1",
        vulnerabilities: [],
      },
    ]);
  });

  it("gives Nix's message for another throw, and a dependency's refusal", async () => {
    const lookup = await lookupPackages(runner, fixture, ["removed-tool", "uses-unfree"], system);
    const explained = await explainFailures(runner, fixture, lookup.failed, system, {
      slots: new Limiter(1),
    });
    assert.deepEqual(explained, [
      {
        name: "removed-tool",
        reason: "error",
        error: "removed-tool has been removed from this package set: it was unmaintained",
      },
      { name: "uses-unfree", reason: "unfree", drvName: "unfree-tool-1.0", dependency: true },
    ]);
  });

  it("explains a few names per build, one Nix process at a time across builds", async () => {
    const lookup = await lookupPackages(runner, throwing, throwingNames, system);
    assert.equal(lookup.failed.length, 8);
    const { counts, runner: watched } = counting();
    const slots = new Limiter(1);
    const logged: string[] = [];
    const explain = () =>
      explainFailures(watched, throwing, lookup.failed, system, {
        slots,
        perBuild: 3,
        onNixOutput: (name, output) => logged.push(`${name}: ${output.join("\n")}`),
      });
    const [first, second] = await Promise.all([explain(), explain()]);
    assert.deepEqual(first, second);
    assert.deepEqual(
      first!.map((pkg) => pkg.reason),
      [
        "error",
        "error",
        "error",
        "unexplained",
        "unexplained",
        "unexplained",
        "unexplained",
        "unexplained",
      ],
    );
    assert.equal(first![0]!.error, "bad0 throws at …/x.nix");
    assert.deepEqual(counts, { running: 0, peak: 1, total: 6 });
    // The origin's log gets what Nix printed, paths included.
    assert.ok(logged.some((line) => line.includes("/srv/secret/x.nix")));
  });
});
