// buildImage with real Nix, storage and SQLite: the case the integration tests cannot provoke, a
// .drv garbage-collected between the lookup and the build, is simulated by a runner that answers
// the first build the way nix-store does then (as recorded from each Nix version).

import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseImageName } from "../../shared/image-name.ts";
import { openDatabase } from "../cache/database.ts";
import { LayerCache } from "../cache/layer-cache.ts";
import { LayerPopularity } from "../cache/layer-popularity.ts";
import { PublishedImages } from "../cache/published-images.ts";
import { Pins } from "../gc/pins.ts";
import { Layering } from "../layers/layering.ts";
import { createLogger } from "../log.ts";
import { fixturePackageSet, testNix, testNixEnv } from "../../test/support/nix-env.ts";
import { recordedOutput, recordedVersions } from "../../test/support/nix-output.ts";
import { defaultPolicy } from "../nix/expression.ts";
import { createNixRunner, type NixRunner } from "../nix/runner.ts";
import { resolveSource } from "../nix/source.ts";
import { FilesystemStorage } from "../storage/filesystem.ts";
import type { PutOptions } from "../storage/storage.ts";
import { Limiter } from "./limiter.ts";
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
    nix: await testNix(),
    policy: defaultPolicy,
    explainSlots: new Limiter(1),
    published: new PublishedImages(db),
    pins: new Pins(),
  };
}

describe("buildImage", () => {
  // Each Nix version says differently that a .drv is gone; the retry must fire on all of them.
  for (const version of recordedVersions()) {
    it(`evaluates again when a derivation was collected (${version}'s message)`, async () => {
      const recorded = recordedOutput(version, "realise-gone");
      const recordedDrv = "/nix/store/00000000000000000000000000000000-collected-1.0.drv";
      const calls: string[] = [];
      let failedOnce = false;
      const runner: NixRunner = async (program, args, options) => {
        calls.push(program);
        if (program === "nix-store" && args[0] === "--realise" && !failedOnce) {
          failedOnce = true;
          const drv = args[1]!.split("!")[0]!;
          return {
            exitCode: recorded.exitCode,
            signal: null,
            timedOut: false,
            stdout: "",
            stderrTail: recorded.stderr.map((line) => line.replaceAll(recordedDrv, drv)),
          };
        }
        return realRunner(program, args, options);
      };
      const logLines: string[] = [];
      const source = await resolveSource(
        { kind: "path", path: fixturePackageSet },
        "latest",
        runner,
      );
      const built = await buildImage(await deps(runner, logLines), parseImageName("hello"), source);
      assert.ok(built.layers.length > 1);
      assert.deepEqual(
        calls.filter((program) => program !== "nix"),
        ["nix-instantiate", "nix-store", "nix-instantiate", "nix-store"],
      );
      assert.ok(logLines.some((line) => line.includes("derivation collected before the build")));
      // Where the time went: every phase once, the lookup counted over both attempts.
      const phases = logLines
        .map((line) => JSON.parse(line))
        .find((l) => l.event === "build phases");
      assert.equal(phases.image, "hello");
      assert.equal(phases.layers, built.layers.length);
      assert.ok(phases.paths >= 1);
      for (const name of ["lookupMs", "realiseMs", "closureMs", "groupingMs", "layersMs"]) {
        assert.ok(Number.isInteger(phases[name]) && phases[name] >= 0, name);
      }
      assert.ok(phases.packMs >= 0 && phases.storeMs >= 0, "packed layers report pack and store");
    });
  }

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

  it("stops packing as a whole when one layer fails, and releases GC roots only after", async () => {
    const base = await deps(realRunner, []);
    const storage = base.storage;
    let inFlight = 0;
    let started = 0;
    let startedAfterFailure = 0;
    let failed = false;
    let rootsWhileInFlight = null as string[] | null;
    const failing = Object.create(storage) as typeof storage;
    failing.putFile = async (key: string, path: string, options: PutOptions) => {
      started++;
      if (failed) startedAfterFailure++;
      inFlight++;
      try {
        if (started === 2) {
          failed = true;
          await rm(path, { force: true });
          throw new Error("disk full while storing the second layer");
        }
        // A slow upload that notices the abort; the build must wait for it to stop.
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, 5_000);
          options.signal?.addEventListener("abort", () => {
            clearTimeout(timer);
            setTimeout(async () => {
              rootsWhileInFlight = await readdir(base.gcRootDir);
              reject(options.signal!.reason);
            }, 50);
          });
        });
        return storage.putFile(key, path, options);
      } finally {
        inFlight--;
      }
    };
    const source = await resolveSource(
      { kind: "path", path: fixturePackageSet },
      "latest",
      realRunner,
    );
    // A fresh layer cache and an image of many layers, so that several are packed at once.
    await assert.rejects(
      buildImage({ ...base, storage: failing }, parseImageName("shell/hello/jq"), source),
      /disk full while storing the second layer/,
    );
    assert.equal(inFlight, 0, "every layer stopped before buildImage settled");
    assert.equal(startedAfterFailure, 0, "no layer started after the failure");
    assert.ok(
      rootsWhileInFlight !== null && rootsWhileInFlight.length > 0,
      "GC roots held while layers were still stopping",
    );
    assert.deepEqual(await readdir(base.gcRootDir), [], "GC roots released at the end");
  });
});
