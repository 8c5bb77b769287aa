import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { NixBuildFailed } from "./build-errors.ts";
import { DerivationsGone, NixBuildTimedOut } from "./errors.ts";
import { fixturePackageSet, lookupAndRealise, testNixEnv } from "../../test/support/nix-env.ts";
import { lookupPackages } from "./packages.ts";
import { realisePackages } from "./realise.ts";
import { createNixRunner } from "./runner.ts";
import { resolveSource, type ResolvedSource } from "./source.ts";

const runner = createNixRunner({ env: testNixEnv() });
const system = "x86_64-linux";
let source: ResolvedSource;
let rootDir: string;

before(async () => {
  source = await resolveSource({ kind: "path", path: fixturePackageSet }, "latest", runner);
  rootDir = await mkdtemp(join(tmpdir(), "realise-test-"));
});
after(() => rm(rootDir, { recursive: true, force: true }));

/** Store paths that some Nix GC root (/nix/var/nix/gcroots/auto) keeps through `link`. */
async function autoRootsPointingInto(dir: string): Promise<string[]> {
  const autoDir = "/nix/var/nix/gcroots/auto";
  const links = await Promise.all(
    (await readdir(autoDir)).map((name) => readlink(join(autoDir, name)).catch(() => "")),
  );
  return links.filter((link) => link.startsWith(dir));
}

describe("realisePackages", () => {
  it("builds the packages and keeps them as GC roots until release", async () => {
    const names = ["hello", "tools.xev", "jq"];
    const lookup = await lookupPackages(runner, source, names, system);
    const realised = await lookupAndRealise(runner, source, names, system, {
      timeoutMs: 60_000,
      rootDir,
    });
    assert.deepEqual(
      realised.outPaths,
      lookup.found.flatMap((p) => p.outPaths),
    );
    for (const path of realised.outPaths) assert.ok((await stat(path)).isDirectory());
    const hello = realised.outPaths[0]!;
    assert.match(
      await readFile(join(hello, "bin/hello"), "utf8"),
      /libgreet-1\.0\/share\/greeting/,
    );

    const [buildDir] = await readdir(rootDir);
    const roots = await autoRootsPointingInto(join(rootDir, buildDir!));
    assert.equal(roots.length, 3);
    for (const root of roots) assert.ok(realised.outPaths.includes(await readlink(root)));

    await realised.release();
    await realised.release();
    assert.deepEqual(await readdir(rootDir), []);
    // Nix's registrations remain but dangle, and dangling roots keep nothing alive.
    for (const root of roots) await assert.rejects(lstat(root), { code: "ENOENT" });
  });

  it("gives a failing builder's package, derivation and log lines", async () => {
    const lookup = await lookupPackages(runner, source, ["broken"], system);
    const failure = lookupAndRealise(runner, source, ["hello", "broken"], system, {
      timeoutMs: 60_000,
      rootDir,
    });
    await assert.rejects(failure, (error) => {
      assert.ok(error instanceof NixBuildFailed, String(error));
      assert.equal(error.derivation, lookup.found[0]!.drvPath);
      assert.deepEqual(error.packages, ["broken"]);
      assert.equal(error.requested, true);
      assert.equal(error.exitCode, 1);
      assert.deepEqual(error.logTail, [
        "broken: configuring",
        "broken: compiling",
        "broken: error: this package always fails",
      ]);
      assert.equal(
        error.message,
        "Could not build broken: broken failed to build (broken-1.0, builder exit code 1).\n" +
          "Last lines of the build log of broken-1.0:\nbroken: configuring\nbroken: compiling\n" +
          "broken: error: this package always fails",
      );
      return true;
    });
    assert.deepEqual(await readdir(rootDir), [], "no roots are left behind");
  });

  it("says that a source download failed and that no binary cache is configured", async () => {
    const lookup = await lookupPackages(runner, source, ["fromsource"], system);
    await assert.rejects(
      realisePackages(runner, lookup.found, { timeoutMs: 60_000, rootDir, substituters: [] }),
      (error) => {
        assert.ok(error instanceof NixBuildFailed, String(error));
        assert.deepEqual(error.packages, ["fromsource"]);
        assert.equal(error.requested, false);
        assert.match(error.derivation ?? "", /-fromsource-1\.0\.tar\.gz\.drv$/);
        assert.equal(error.download?.url, "http://127.0.0.1:1/fromsource-1.0.tar.gz");
        assert.equal(error.download?.toBuild, 2);
        assert.deepEqual(error.download?.caches, { state: "none" });
        assert.match(
          error.message,
          /^Could not build fromsource: fromsource could not be built because its dependency fromsource-1\.0\.tar\.gz could not be downloaded \(unable to download 'http:\/\/127\.0\.0\.1:1\/fromsource-1\.0\.tar\.gz': Could(n't| not) connect to server \(7\)[^)]*\)\. 2 derivations had to be built from source\. The origin has no binary cache configured/,
        );
        for (const line of error.logTail) assert.doesNotMatch(line, /@nix|\{"action"/);
        return true;
      },
    );
    assert.deepEqual(await readdir(rootDir), []);
  });

  it("says when the binary cache cannot be reached", async () => {
    const unreachable = createNixRunner({
      env: { ...testNixEnv(), NIX_CONFIG: "substituters = http://127.0.0.1:1" },
    });
    const lookup = await lookupPackages(runner, source, ["fromsource"], system);
    await assert.rejects(
      realisePackages(unreachable, lookup.found, {
        timeoutMs: 60_000,
        rootDir,
        substituters: ["http://127.0.0.1:1"],
      }),
      (error) => {
        assert.ok(error instanceof NixBuildFailed, String(error));
        assert.deepEqual(error.download?.caches, {
          state: "unreachable",
          urls: ["http://127.0.0.1:1"],
        });
        assert.match(
          error.message,
          /The origin cannot reach its binary cache \(http:\/\/127\.0\.0\.1:1\)/,
        );
        return true;
      },
    );
  });

  it("stops a build that takes too long, builder included", async () => {
    const lookup = await lookupPackages(runner, source, ["hangs"], system);
    const marker = `out=${lookup.found[0]!.outPaths[0]}`;
    const started = Date.now();
    await assert.rejects(
      lookupAndRealise(runner, source, ["hangs"], system, { timeoutMs: 3_000, rootDir }),
      (error) => {
        assert.ok(error instanceof NixBuildTimedOut, String(error));
        assert.equal(error.seconds, 3);
        assert.match(error.message, /^Building hangs timed out after 3 s \(the origin's limit\)/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 10_000);
    assert.deepEqual(await processesWithEnv(marker), [], "the builder is gone");
    assert.deepEqual(await readdir(rootDir), []);
  });

  it("stops the build when the caller aborts", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("client disconnected")), 1_000);
    await assert.rejects(
      lookupAndRealise(runner, source, ["hangs"], system, {
        timeoutMs: 60_000,
        rootDir,
        signal: controller.signal,
      }),
      /client disconnected/,
    );
    const lookup = await lookupPackages(runner, source, ["hangs"], system);
    assert.deepEqual(await processesWithEnv(`out=${lookup.found[0]!.outPaths[0]}`), []);
  });

  it("says which derivation is gone when a .drv was collected after the lookup", async () => {
    const gone = "/nix/store/00000000000000000000000000000000-collected-1.0.drv";
    await assert.rejects(
      realisePackages(
        runner,
        [{ name: "collected", drvPath: gone, outputs: ["out"], outPaths: ["/nix/store/0-x"] }],
        { timeoutMs: 60_000, rootDir },
      ),
      (error) => {
        assert.ok(error instanceof DerivationsGone, String(error));
        assert.equal(error.derivation, gone);
        return true;
      },
    );
    assert.deepEqual(await readdir(rootDir), []);
  });

  it("builds exactly what the lookup evaluated, without evaluating the set again", async () => {
    // A derivation never seen before: its .drv exists only because the lookup wrote it.
    const setDir = await mkdtemp(join(tmpdir(), "realise-fresh-"));
    const name = `fresh-${randomBytes(6).toString("hex")}`;
    await writeFile(
      join(setDir, "default.nix"),
      `{ ... }:
      let bb = builtins.path { name = "bb"; path = /usr/bin; filter = p: t: baseNameOf p == "busybox"; };
      in { fresh = derivation { name = "${name}"; system = builtins.currentSystem;
        builder = "\${bb}/busybox"; args = [ "sh" "-c" "echo ${name} > $out" ]; }; }`,
    );
    const fresh = await resolveSource({ kind: "path", path: setDir }, "latest", runner);
    const lookup = await lookupPackages(runner, fresh, ["fresh"], system);
    assert.ok((await stat(lookup.found[0]!.drvPath)).isFile(), "the lookup wrote the .drv");
    const calls: string[] = [];
    const counting: typeof runner = (program, args, options) => {
      calls.push(program);
      return runner(program, args, options);
    };
    const realised = await realisePackages(counting, lookup.found, { timeoutMs: 60_000, rootDir });
    try {
      assert.deepEqual(calls, ["nix-store"]);
      assert.equal(await readFile(realised.outPaths[0]!, "utf8"), `${name}\n`);
    } finally {
      await realised.release();
      await rm(setDir, { recursive: true, force: true });
    }
  });
});

/** PIDs of processes whose environment holds `entry` (builders get `out=<their out path>`). */
async function processesWithEnv(entry: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const environ = await readFile(`/proc/${name}/environ`, "utf8").catch(() => "");
    if (environ.split("\0").includes(entry)) found.push(Number(name));
  }
  return found;
}
