// buildImage with real Nix, storage and SQLite: the case the integration tests cannot provoke, a
// .drv garbage-collected between the lookup and the build, is simulated by a runner that answers
// the first build the way nix-store does then.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseImageName } from "../../shared/image-name.ts";
import { openDatabase } from "../cache/database.ts";
import { LayerCache } from "../cache/layer-cache.ts";
import { LayerPopularity } from "../cache/layer-popularity.ts";
import { Layering } from "../layers/layering.ts";
import { createLogger } from "../log.ts";
import { fixturePackageSet, testNixEnv } from "../../test/support/nix-env.ts";
import { createNixRunner, type NixRunner } from "../nix/runner.ts";
import { resolveSource } from "../nix/source.ts";
import { FilesystemStorage } from "../storage/filesystem.ts";
import { buildImage, type PipelineDeps } from "./pipeline.ts";

const realRunner = createNixRunner({ env: testNixEnv() });
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pipeline-test-"));
});
after(() => rm(dir, { recursive: true, force: true }));

async function deps(runner: NixRunner, logLines: string[]): Promise<PipelineDeps> {
  const db = openDatabase(":memory:");
  return {
    runner,
    storage: await new FilesystemStorage(join(dir, "storage")).init(),
    layerCache: new LayerCache(db),
    layering: new Layering({ popularity: null, history: new LayerPopularity(db), options: {} }),
    packConcurrency: 2,
    gzipLevel: 1,
    nixTimeoutMs: 60_000,
    gcRootDir: join(dir, "roots"),
    log: createLogger((line) => logLines.push(line)),
  };
}

describe("buildImage", () => {
  it("evaluates again when a derivation was collected between lookup and build", async () => {
    const calls: string[] = [];
    let failedOnce = false;
    const runner: NixRunner = async (program, args, options) => {
      calls.push(program);
      if (program === "nix-store" && args[0] === "--realise" && !failedOnce) {
        failedOnce = true;
        const drv = args[1]!.split("!")[0]!;
        return {
          exitCode: 1,
          signal: null,
          timedOut: false,
          stdout: "",
          stderrTail: [`error: cannot build missing derivation '${drv}'`],
        };
      }
      return realRunner(program, args, options);
    };
    const logLines: string[] = [];
    const source = await resolveSource({ kind: "path", path: fixturePackageSet }, "latest", runner);
    const built = await buildImage(await deps(runner, logLines), parseImageName("hello"), source);
    assert.ok(built.layers.length > 1);
    assert.deepEqual(
      calls.filter((program) => program !== "nix"),
      ["nix-instantiate", "nix-store", "nix-instantiate", "nix-store"],
    );
    assert.ok(logLines.some((line) => line.includes("derivation collected before the build")));
  });

  it("gives up after one retry", async () => {
    const runner: NixRunner = async (program, args, options) =>
      program === "nix-store" && args[0] === "--realise"
        ? {
            exitCode: 1,
            signal: null,
            timedOut: false,
            stdout: "",
            stderrTail: [`error: path '${args[1]!.split("!")[0]}' is not valid`],
          }
        : realRunner(program, args, options);
    const source = await resolveSource({ kind: "path", path: fixturePackageSet }, "latest", runner);
    await assert.rejects(
      buildImage(await deps(runner, []), parseImageName("hello"), source),
      /garbage-collected between evaluation and build/,
    );
  });
});
