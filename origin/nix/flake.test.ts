// Flake sources on real Nix, offline: local flakes made by the test (a git repository whose
// flake.lock pins an input that is itself a local git flake, and a path flake), resolved by tag,
// looked up in packages.<system> then legacyPackages.<system>, built, and their failures named.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { git } from "../../test/support/git.ts";
import { makeTestFlakes, type TestFlakes } from "../../test/support/flakes.ts";
import { lookupAndRealise, testNixEnv } from "../../test/support/nix-env.ts";
import { PackagesNotFound } from "./lookup-errors.ts";
import { NixEvalFailed, SourceUnavailable, TagNotFound } from "./errors.ts";
import { explainFailures } from "./explain.ts";
import { lookupPackages } from "./packages.ts";
import { createNixRunner } from "./runner.ts";
import { listSourceTags, resolveSource, type SourceConfig } from "./source.ts";

const runner = createNixRunner({ env: testNixEnv() });
const system = "x86_64-linux";
const slots = { run: <T>(task: () => Promise<T>) => task() };
let dir: string;
let flakes: TestFlakes;
let gitFlake: SourceConfig;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "flake-test-"));
  flakes = await makeTestFlakes(dir);
  gitFlake = { kind: "flake", ref: `git+file://${flakes.setRepo}` };
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("flake sources", () => {
  it("resolves tags of a git flake to its locked commit, and never touches flake.lock", async () => {
    const lockBefore = await readFile(join(flakes.setRepo, "flake.lock"), "utf8");
    const latest = await resolveSource(gitFlake, "latest", runner);
    assert.equal(latest.revision, flakes.commits.two);
    assert.equal(latest.pinned, false);
    assert.equal(latest.id, `flake:git+file://${flakes.setRepo}`);
    assert.match(latest.flake!.lockedRef, new RegExp(`rev=${flakes.commits.two}`));
    const v1 = await resolveSource(gitFlake, "v1", runner);
    assert.equal(v1.revision, flakes.commits.v1);
    const byCommit = await resolveSource(gitFlake, flakes.commits.v1, runner);
    assert.equal(byCommit.revision, flakes.commits.v1);
    assert.equal(byCommit.pinned, true);
    await assert.rejects(resolveSource(gitFlake, "v9", runner), TagNotFound);
    // A reference that names a ref: `latest` is that ref.
    for (const ref of ["v1", "refs/tags/v1"]) {
      const named: SourceConfig = { kind: "flake", ref: `git+file://${flakes.setRepo}?ref=${ref}` };
      assert.equal((await resolveSource(named, "latest", runner)).revision, flakes.commits.v1);
    }
    assert.deepEqual(await listSourceTags(gitFlake, runner), ["latest", "main", "v1"]);
    assert.equal(await readFile(join(flakes.setRepo, "flake.lock"), "utf8"), lockBefore);
    assert.equal(git(flakes.setRepo, "status", "--porcelain"), "");
  });

  it("shows a path flake's narHash as its revision", async () => {
    const source = await resolveSource({ kind: "flake", ref: flakes.pathFlake }, "v1", runner);
    assert.match(source.revision!, /^sha256-[A-Za-z0-9+/]{43}=$/);
    assert.equal(source.pinned, false);
    assert.match(source.flake!.lockedRef, /^path:\/.*narHash=/);
  });

  it("looks names up in packages, then legacyPackages, with the usual name rules", async () => {
    const source = await resolveSource(gitFlake, "latest", runner);
    const names = [
      "hello",
      "flaketool",
      "xorg.xev",
      "haskellpackages.pandoc",
      "_7zip",
      "nope",
      "throwing",
    ];
    const lookup = await lookupPackages(runner, source, names, system);
    const found = Object.fromEntries(lookup.found.map((pkg) => [pkg.name, pkg]));
    // packages.<system>.hello wins over legacyPackages.<system>.hello.
    assert.match(found.hello!.drvPath, /-hello-2\.12\.drv$/);
    assert.equal(found.flaketool!.attrPath, "flakeTool");
    assert.equal(found["xorg.xev"]!.attrPath, "xorg.xev");
    assert.equal(found["haskellpackages.pandoc"]!.attrPath, "haskellPackages.pandoc");
    assert.match(found._7zip!.drvPath, /-7zip-23\.01\.drv$/);
    assert.deepEqual(lookup.missing, ["nope"]);
    assert.deepEqual(
      lookup.failed.map((pkg) => [pkg.name, pkg.where]),
      [["throwing", `legacyPackages.${system}.throwing`]],
    );
    assert.match(lookup.coreutils!, /-coreutils-9\.1$/);

    const [explained] = await explainFailures(runner, source, lookup.failed, system, { slots });
    const message = new PackagesNotFound([], [explained!]).message;
    assert.match(
      message,
      /^Nix package throwing \(legacyPackages\.x86_64-linux\.throwing of the flake git\+file:\/\/.*rev=[0-9a-f]{40}\) exists but does not evaluate: throwing is broken on purpose$/,
    );
  });

  it("passes the origin's policy to the flake's nixpkgs through nixpkgs' environment switches", async () => {
    const source = await resolveSource(gitFlake, "latest", runner);
    const refused = await lookupPackages(runner, source, ["unfreetool"], system);
    assert.deepEqual(
      refused.failed.map((pkg) => [pkg.name, pkg.reason]),
      [["unfreetool", "unfree"]],
    );
    const policy = { allowUnfree: true, allowInsecure: false, allowBroken: false };
    const allowed = await lookupPackages(runner, source, ["unfreetool"], system, { policy });
    assert.match(allowed.found[0]!.drvPath, /-unfree-tool-1\.0\.drv$/);
  });

  it("builds with the input its flake.lock pins, not the input's newer commit", async () => {
    for (const [tag, version] of [
      ["latest", "v2"],
      ["v1", "v1"],
    ]) {
      const source = await resolveSource(gitFlake, tag!, runner);
      const gcRoots = await mkdtemp(join(dir, "roots-"));
      const realised = await lookupAndRealise(runner, source, ["hello"], system, {
        rootDir: gcRoots,
        timeoutMs: 120_000,
      });
      try {
        const out = realised.outPaths[0]!;
        // The base input moved on to greeting "two"; the lock pins "one".
        assert.equal(execFileSync(`${out}/bin/hello`).toString(), `hello ${version}: one\n`);
      } finally {
        await realised.release();
      }
    }
  });

  it("names the flake and the package when an attribute fails outright", async () => {
    const source = await resolveSource(gitFlake, "latest", runner);
    await assert.rejects(
      lookupPackages(runner, source, ["hello", "badeval"], system),
      (error: unknown) =>
        error instanceof NixEvalFailed &&
        /^Nix package badeval \(looked up in packages\.x86_64-linux, then legacyPackages\.x86_64-linux\) of the flake git\+file:\/\/\S+rev=[0-9a-f]{40} does not evaluate: cannot add a string to an integer$/.test(
          error.message,
        ),
    );
  });

  it("names the flake when its outputs do not evaluate", async () => {
    const broken = join(dir, "broken");
    await mkdir(broken);
    await writeFile(
      join(broken, "flake.nix"),
      "{ outputs = { self }: { packages.x86_64-linux = import ./missing.nix; }; }\n",
    );
    const source = await resolveSource({ kind: "flake", ref: broken }, "latest", runner);
    await assert.rejects(
      lookupPackages(runner, source, ["hello"], system),
      (error: unknown) =>
        error instanceof NixEvalFailed &&
        error.message.startsWith(`The flake path:${broken}?`) &&
        /\(its outputs packages\.x86_64-linux and legacyPackages\.x86_64-linux\) does not evaluate: .*missing\.nix/.test(
          error.message,
        ),
    );
  });

  it("refuses a flake whose flake.lock does not pin its inputs, and writes no lock file", async () => {
    const unlocked = join(dir, "unlocked");
    await mkdir(unlocked);
    await writeFile(
      join(unlocked, "flake.nix"),
      `{ inputs.base.url = "${flakes.baseUrl}"; outputs = { self, base }: { }; }\n`,
    );
    await assert.rejects(
      resolveSource({ kind: "flake", ref: unlocked }, "latest", runner),
      (error: unknown) =>
        error instanceof NixEvalFailed &&
        error.message.startsWith(`The flake ${unlocked} does not evaluate:`) &&
        /requires lock file changes.*lock the flake with `nix flake lock` and commit flake\.lock\)$/.test(
          error.message,
        ),
    );
    await assert.rejects(readFile(join(unlocked, "flake.lock")), { code: "ENOENT" });
  });

  it("names the flake whose flake.nix does not parse, and one that cannot be fetched", async () => {
    const syntax = join(dir, "syntax");
    await mkdir(syntax);
    await writeFile(join(syntax, "flake.nix"), "{ outputs = { self }: { ; }; }\n");
    await assert.rejects(
      resolveSource({ kind: "flake", ref: syntax }, "latest", runner),
      (error: unknown) =>
        error instanceof NixEvalFailed &&
        error.message.startsWith(`The flake ${syntax} does not evaluate: syntax error`),
    );
    const gone = `git+file://${dir}/no-such-repository`;
    await assert.rejects(
      resolveSource({ kind: "flake", ref: gone }, "latest", runner),
      (error: unknown) =>
        error instanceof SourceUnavailable &&
        error.message.startsWith(`package source flake ${gone} is unavailable: fatal:`),
    );
  });
});
