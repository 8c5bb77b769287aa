import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parsePathInfo, readClosure } from "./closure.ts";
import { NixCommandFailed } from "./errors.ts";
import {
  fixturePackageSet,
  lookupAndRealise,
  testNix,
  testNixEnv,
} from "../../test/support/nix-env.ts";
import { recordedOutput, recordedVersions } from "../../test/support/nix-output.ts";
import { createNixRunner, type NixRunner } from "./runner.ts";
import { resolveSource } from "./source.ts";

const runner = createNixRunner({ env: testNixEnv() });
const closureOptions = async () => ({ version: (await testNix()).version });

describe("parsePathInfo", () => {
  for (const version of recordedVersions()) {
    for (const sample of ["path-info", "path-info-format-1"]) {
      const recorded = recordedOutput(version, sample);
      if (recorded.exitCode !== 0) continue;
      it(`reads ${version}'s ${sample} output`, () => {
        const graph = parsePathInfo(recorded.stdout);
        const names = graph.map((info) => info.path.slice(44));
        assert.deepEqual(names.sort(), ["busybox-1.35.0", "hello-2.12", "libgreet-1.0"]);
        assert.deepEqual(
          graph.map((info) => info.path),
          graph.map((info) => info.path).sort(),
        );
        const hello = graph.find((info) => info.path.endsWith("-hello-2.12"))!;
        assert.equal(hello.references.length, 2);
        assert.match(hello.narHash, /^sha256-/);
        assert.equal(hello.narSize, 704);
      });
    }
  }

  it("reads the 2.33+ format 2 (entries by base name under `info`)", () => {
    const hash = "00000000000000000000000000000000";
    const graph = parsePathInfo(
      JSON.stringify({
        version: 2,
        storeDir: "/nix/store",
        info: {
          [`${hash}-a`]: {
            narHash: { algorithm: "sha256", hash: "sha256-x" },
            narSize: 9,
            references: [`${hash}-b`],
          },
          [`${hash}-b`]: { narHash: "sha256-y", narSize: 1, references: [] },
        },
      }),
    );
    assert.deepEqual(graph, [
      {
        path: `/nix/store/${hash}-a`,
        references: [`/nix/store/${hash}-b`],
        narSize: 9,
        narHash: "sha256-x",
      },
      { path: `/nix/store/${hash}-b`, references: [], narSize: 1, narHash: "sha256-y" },
    ]);
  });

  it("rejects invalid paths in every shape", () => {
    const absent = "/nix/store/00000000000000000000000000000000-absent";
    for (const stdout of [
      JSON.stringify([{ path: absent, valid: false }]),
      JSON.stringify({ [absent]: null }),
      JSON.stringify({ version: 2, storeDir: "/nix/store", info: { [absent.slice(11)]: null } }),
    ]) {
      assert.throws(
        () => parsePathInfo(stdout),
        (error: unknown) => {
          assert.ok(error instanceof NixCommandFailed);
          assert.match(error.message, /not valid in the Nix store: \/nix\/store\/0+-absent/);
          return true;
        },
      );
    }
    assert.throws(() => parsePathInfo("not json"), NixCommandFailed);
  });
});

describe("readClosure with the Nix on PATH", () => {
  it("returns the runtime graph with references and NAR sizes, sorted by path", async () => {
    const source = await resolveSource({ kind: "path", path: fixturePackageSet }, "latest", runner);
    const rootDir = await mkdtemp(join(tmpdir(), "closure-test-"));
    const realised = await lookupAndRealise(runner, source, ["hello", "goodbye"], "x86_64-linux", {
      timeoutMs: 60_000,
      rootDir,
    });
    try {
      // Whatever the version, Nix prints no warning (2.34: `--json` needs `--json-format`).
      const stderr: string[] = [];
      const watching: NixRunner = async (program, args, options) => {
        const result = await runner(program, args, options);
        stderr.push(...result.stderrTail);
        return result;
      };
      const graph = await readClosure(watching, realised.outPaths, await closureOptions());
      assert.deepEqual(stderr, []);
      const byName = new Map(graph.map((info) => [info.path.slice(44), info]));
      assert.deepEqual([...byName.keys()].sort(), [
        "busybox-1.35.0",
        "goodbye-1.0",
        "hello-2.12",
        "libgreet-1.0",
      ]);
      const paths = graph.map((info) => info.path);
      assert.deepEqual(paths, [...paths].sort());

      const hello = byName.get("hello-2.12")!;
      const libgreet = byName.get("libgreet-1.0")!;
      const busybox = byName.get("busybox-1.35.0")!;
      assert.deepEqual(hello.references, [busybox.path, libgreet.path].sort());
      assert.ok(byName.get("goodbye-1.0")!.references.includes(libgreet.path));
      assert.deepEqual(libgreet.references, []);
      // busybox is one ~2 MB binary; a greeting file's NAR is a few hundred bytes.
      assert.ok(busybox.narSize > 1_000_000, String(busybox.narSize));
      assert.ok(libgreet.narSize > 100 && libgreet.narSize < 2_000, String(libgreet.narSize));
      assert.match(hello.narHash, /^sha256-/);
    } finally {
      await realised.release();
      await rm(rootDir, { recursive: true, force: true });
    }
  });

  it("sees the fixture's big path as bigger than 24 MB", async () => {
    const source = await resolveSource({ kind: "path", path: fixturePackageSet }, "latest", runner);
    const rootDir = await mkdtemp(join(tmpdir(), "closure-test-"));
    const realised = await lookupAndRealise(runner, source, ["bigdata"], "x86_64-linux", {
      timeoutMs: 60_000,
      rootDir,
    });
    try {
      const [bigdata] = await readClosure(runner, realised.outPaths, await closureOptions());
      assert.ok(bigdata!.narSize > 24_000_000, String(bigdata!.narSize));
    } finally {
      await realised.release();
      await rm(rootDir, { recursive: true, force: true });
    }
  });

  it("returns nothing for no paths and rejects paths that are not in the store", async () => {
    assert.deepEqual(await readClosure(runner, [], await closureOptions()), []);
    await assert.rejects(
      readClosure(
        runner,
        ["/nix/store/00000000000000000000000000000000-absent"],
        await closureOptions(),
      ),
      (error) => {
        assert.ok(error instanceof NixCommandFailed);
        assert.match(error.message, /is not valid/);
        return true;
      },
    );
  });
});
