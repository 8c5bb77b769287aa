import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readClosure } from "./closure.ts";
import { NixEvalFailed } from "./errors.ts";
import { fixturePackageSet, lookupAndRealise, testNixEnv } from "../../test/support/nix-env.ts";
import { createNixRunner } from "./runner.ts";
import { resolveSource } from "./source.ts";

const runner = createNixRunner({ env: testNixEnv() });

describe("readClosure", () => {
  it("returns the runtime graph with references and NAR sizes, sorted by path", async () => {
    const source = await resolveSource({ kind: "path", path: fixturePackageSet }, "latest", runner);
    const rootDir = await mkdtemp(join(tmpdir(), "closure-test-"));
    const realised = await lookupAndRealise(runner, source, ["hello", "goodbye"], "x86_64-linux", {
      timeoutMs: 60_000,
      rootDir,
    });
    try {
      const graph = await readClosure(runner, realised.outPaths);
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
      const [bigdata] = await readClosure(runner, realised.outPaths);
      assert.ok(bigdata!.narSize > 24_000_000, String(bigdata!.narSize));
    } finally {
      await realised.release();
      await rm(rootDir, { recursive: true, force: true });
    }
  });

  it("returns nothing for no paths and rejects paths that are not in the store", async () => {
    assert.deepEqual(await readClosure(runner, []), []);
    await assert.rejects(
      readClosure(runner, ["/nix/store/00000000000000000000000000000000-absent"]),
      NixEvalFailed,
    );
  });
});
