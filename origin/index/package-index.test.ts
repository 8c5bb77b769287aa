// The package index on the nixpkgs-shaped fixture set (test/fixtures/index-pkgs), with real Nix
// and real SQLite: thousands of generated packages, a sub-set that does not evaluate, a package
// that fails uncatchably inside a sub-set; then search, lookup and suggestions through the API.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Hono } from "hono";
import { errorResponse, toRegistryError } from "../../shared/errors.ts";
import type { PackageLookupResponse, PackageSearchResponse } from "../../shared/package-api.ts";
import { createLogger } from "../log.ts";
import { PackagesNotFound } from "../nix/lookup-errors.ts";
import { createNixRunner } from "../nix/runner.ts";
import type { ResolvedSource } from "../nix/source.ts";
import { packagesApiRoutes } from "../routes/packages-api.ts";
import { testNixEnv } from "../../test/support/nix-env.ts";
import { IndexStore } from "./index-store.ts";
import { PackageIndex } from "./package-index.ts";

const setDir = new URL("../../test/fixtures/index-pkgs", import.meta.url).pathname;
const source: ResolvedSource = {
  id: `path:${setDir}`,
  revision: "0123456789abcdef0123456789abcdef01234567",
  pinned: true,
  nixArgs: ["--argstr", "srcType", "path", "--argstr", "src", setDir],
  nixOptions: [],
};

describe("package index (fixture set shaped like nixpkgs)", () => {
  let dir: string;
  let store: IndexStore;
  let index: PackageIndex;
  let app: Hono;
  let buildMs = 0;
  const runner = createNixRunner({ env: testNixEnv() });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "package-index-"));
    store = new IndexStore(join(dir, "index.sqlite"));
    index = new PackageIndex({
      store,
      runner,
      resolve: async (tag) => {
        if (tag !== "latest") throw new Error(`unexpected tag ${tag}`);
        return source;
      },
      system: "x86_64-linux",
      log: createLogger(() => {}),
      chunkSize: 1000,
    });
    app = new Hono();
    app.route(
      "/api/packages",
      packagesApiRoutes(index, (_c, next) => next()),
    );
    app.onError((error) => errorResponse(toRegistryError(error)));
    const started = Date.now();
    const first = (await (
      await app.request("/api/packages?q=htop")
    ).json()) as PackageSearchResponse;
    assert.equal(first.index, "building");
    await index.settled(source.revision!);
    buildMs = Date.now() - started;
  });
  after(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("indexes every evaluable package, nested sets included, and records what failed", () => {
    const record = index.record(source.revision!)!;
    assert.equal(record.state, "ready");
    assert.ok(record.packages >= 3000 + 20, `indexed ${record.packages}`);
    const failed = record.failedAttrs.map((entry) => entry.attr).sort();
    assert.deepEqual(failed, ["extras.bad", "haskellPackages"]);
    assert.ok(
      failed.includes("haskellPackages") && failed.includes("extras.bad"),
      failed.join(" "),
    );
    assert.match(
      record.failedAttrs.find((e) => e.attr === "haskellPackages")!.error,
      /missing-hackage-packages\.nix/,
    );
    assert.ok(
      index.get(source.revision!, "extras.good"),
      "the sub-set's other packages are indexed",
    );
    assert.ok(index.get(source.revision!, "extras.worse"));
    console.log(`index of ${record.packages} packages built in ${buildMs} ms`);
  });

  it("searches words of attribute paths and descriptions, exact match first, prefix on the last word", async () => {
    const response = await app.request("/api/packages?q=htop");
    assert.equal(response.status, 200);
    const body = (await response.json()) as PackageSearchResponse;
    assert.equal(body.index, "ready");
    assert.equal(body.revision, source.revision);
    assert.deepEqual(body.results[0], {
      attr: "htop",
      image: "htop",
      name: "htop",
      version: "3.0.2",
      description: "An interactive process viewer",
      license: "mit",
      unfree: false,
      broken: false,
      insecure: false,
    });
    const prefix = (await (
      await app.request("/api/packages?q=charlie%20fam&limit=50")
    ).json()) as PackageSearchResponse;
    assert.equal(prefix.results.length, 50);
    assert.ok(prefix.results.every((r) => /charlie/.test(r.attr + r.description)));
    const flags = (await (
      await app.request("/api/packages/unfree-tool")
    ).json()) as PackageLookupResponse;
    assert.equal(flags.package?.unfree, true);
    const empty = (await (await app.request("/api/packages?q=")).json()) as PackageSearchResponse;
    assert.deepEqual(empty.results, []);
    const durations: number[] = [];
    for (const q of ["gen", "alpha family", "interactive", "git", "gen-golf-19"]) {
      for (let i = 0; i < 10; i++) {
        const started = performance.now();
        const res = await app.request(`/api/packages?q=${encodeURIComponent(q)}`);
        await res.arrayBuffer();
        durations.push(performance.now() - started);
      }
    }
    durations.sort((a, b) => a - b);
    const median = durations[Math.floor(durations.length / 2)]!;
    console.log(`search median ${median.toFixed(2)} ms over ${durations.length} requests`);
    assert.ok(median < 100, `median ${median} ms`);
  });

  it("looks one attribute up, and answers an unknown one with NAME_UNKNOWN and a suggestion", async () => {
    const found = (await (
      await app.request("/api/packages/generated.gen-alpha-7")
    ).json()) as PackageLookupResponse;
    assert.equal(found.package?.image, "generated.gen-alpha-7");
    const missing = await app.request("/api/packages/htpo");
    assert.equal(missing.status, 404);
    const body = (await missing.json()) as {
      errors: { code: string; message: string; detail: { suggestions: string[] } }[];
    };
    assert.equal(body.errors[0]!.code, "NAME_UNKNOWN");
    assert.match(
      body.errors[0]!.message,
      /^No package htpo in revision 0123456789abcdef.*; did you mean htop\?$/,
    );
    const unevaluable = await app.request("/api/packages/haskellPackages.pandoc");
    assert.equal(unevaluable.status, 404);
    assert.match(
      ((await unevaluable.json()) as { errors: { message: string }[] }).errors[0]!.message,
      /haskellPackages does not evaluate in this revision/,
    );
  });

  it("refuses bad parameters with registry errors", async () => {
    for (const [path, code] of [
      ["/api/packages?q=x&limit=0", "BAD_REQUEST"],
      ["/api/packages?q=x&limit=51", "BAD_REQUEST"],
      ["/api/packages?q=x&tag=..bad", "TAG_INVALID"],
      ["/api/packages/a%20b", "BAD_REQUEST"],
    ] as const) {
      const response = await app.request(path);
      const body = (await response.json()) as { errors: { code: string }[] };
      assert.equal(body.errors[0]!.code, code, path);
    }
  });

  it("reuses a ready index of a revision without evaluating again", async () => {
    let calls = 0;
    const again = new PackageIndex({
      store,
      runner: async (...args) => {
        calls++;
        return runner(...args);
      },
      resolve: async () => source,
      system: "x86_64-linux",
      log: createLogger(() => {}),
    });
    assert.deepEqual(await again.view("latest"), { revision: source.revision, state: "ready" });
    assert.equal(calls, 0);
  });

  it("gives a build's hints from the ready index, and says when it was still being built", () => {
    assert.deepEqual(index.hints(source, ["htpo", "zzzzzzzzzzzzzzzz"]), {
      suggestions: { htpo: ["htop"] },
      building: false,
    });
    const early = new PackagesNotFound(["htpo"], [], { indexBuilding: true });
    assert.equal(early.indexBuilding, true);
    assert.match(early.message, /^Could not find Nix packages: htpo\nThe package index is still/);
  });
});

describe("package index started with the origin", () => {
  let dir: string;
  let store: IndexStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "package-index-start-"));
    store = new IndexStore(join(dir, "index.sqlite"));
  });
  after(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("skips a source that cannot be resolved with one log line, and builds nothing", async () => {
    const lines: string[] = [];
    const index = new PackageIndex({
      store,
      runner: createNixRunner({ env: testNixEnv() }),
      resolve: async () => {
        throw new Error("channel unreachable");
      },
      system: "x86_64-linux",
      log: createLogger((line) => lines.push(line)),
    });
    assert.equal(await index.start("latest"), null);
    await index.drain();
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /"package index not started".*channel unreachable/);
  });

  it("starts building in the background; hints meanwhile say the index is being built", async () => {
    const stop = new AbortController();
    const revision = "fedcba9876543210fedcba9876543210fedcba98";
    const index = new PackageIndex({
      store,
      runner: createNixRunner({ env: testNixEnv() }),
      resolve: async () => ({ ...source, revision }),
      system: "x86_64-linux",
      log: createLogger(() => {}),
      signal: stop.signal,
    });
    assert.deepEqual(await index.start("latest"), { revision, state: "building" });
    const hints = index.hints({ ...source, revision }, ["htpo"]);
    assert.equal(hints.building, true);
    // Stopped as on shutdown: the build ends, recorded as failed, and drain settles.
    stop.abort(new Error("origin stopping"));
    await index.drain();
    assert.equal(index.record(revision)?.state, "failed");
  });
});
