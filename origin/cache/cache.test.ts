import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Digest } from "../../shared/digest.ts";
import { BuildRecords } from "./build-records.ts";
import { migrate, openDatabase, schemaVersion } from "./database.ts";
import { LayerCache } from "./layer-cache.ts";
import { LayerPopularity } from "./layer-popularity.ts";
import { ManifestCache, type ManifestEntry } from "./manifest-cache.ts";

const d = (c: string) => `sha256:${c.repeat(64)}` as Digest;

function entry(overrides: Partial<ManifestEntry> = {}): ManifestEntry {
  return {
    image: "hello",
    tag: "latest",
    revision: null,
    pinned: false,
    manifests: { docker: { digest: d("a"), size: 10 }, oci: { digest: d("b"), size: 11 } },
    createdAt: 1000,
    expiresAt: 2000,
    ...overrides,
  };
}

describe("SQLite cache", () => {
  it("migrates a real database file once and keeps data across reopening", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nixery-db-"));
    try {
      const path = join(dir, "sub", "nixery.sqlite");
      const db = openDatabase(path);
      assert.equal(db.pragma("user_version", { simple: true }), schemaVersion);
      new LayerCache(db).put("k", { digest: d("1"), diffId: d("2"), size: 3 });
      migrate(db);
      db.close();
      const reopened = openDatabase(path);
      assert.deepEqual(new LayerCache(reopened).get("k"), {
        digest: d("1"),
        diffId: d("2"),
        size: 3,
      });
      reopened.pragma(`user_version = ${schemaVersion + 1}`);
      assert.throws(() => migrate(reopened), /newer than this origin knows/);
      reopened.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("expires moving manifest entries and keeps pinned ones", () => {
    const cache = new ManifestCache(openDatabase(":memory:"));
    cache.put("moving", entry());
    cache.put("pinned", entry({ pinned: true, expiresAt: null, revision: "abc" }));
    assert.deepEqual(cache.get("moving", 1999), entry());
    assert.equal(cache.get("moving", 2000), null);
    assert.equal(cache.get("pinned", Number.MAX_SAFE_INTEGER)?.revision, "abc");
    cache.put("moving", entry({ expiresAt: 5000 }));
    assert.equal(cache.get("moving", 3000)?.expiresAt, 5000);
    cache.delete("moving");
    assert.equal(cache.get("moving", 0), null);
  });

  it("replaces and deletes layer entries", () => {
    const layers = new LayerCache(openDatabase(":memory:"));
    assert.equal(layers.get("x"), null);
    layers.put("x", { digest: d("1"), diffId: d("2"), size: 3 });
    layers.put("x", { digest: d("4"), diffId: d("5"), size: 6 });
    assert.equal(layers.get("x")?.digest, d("4"));
    layers.delete("x");
    assert.equal(layers.get("x"), null);
  });

  it("records builds and lists recent errors newest first", () => {
    const builds = new BuildRecords(openDatabase(":memory:"));
    const base = { image: "a", tag: "latest", revision: null, durationMs: 5, finishedAt: 1 };
    builds.record({ ...base, outcome: "success", error: null });
    builds.record({ ...base, image: "b", outcome: "failed", error: "boom" });
    builds.record({ ...base, image: "c", outcome: "not_found", error: "missing" });
    assert.deepEqual(
      builds.recentErrors(5).map((b) => b.image),
      ["c", "b"],
    );
    assert.deepEqual(builds.counts(), { success: 1, failed: 1, not_found: 1, timeout: 0 });
  });

  it("counts each image's layers once, however often it is recorded, and keeps them", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nixery-db-"));
    try {
      const path = join(dir, "nixery.sqlite");
      const db = openDatabase(path);
      const popularity = new LayerPopularity(db);
      assert.equal(popularity.count("a"), 0);
      assert.equal(popularity.recordImage(["a", "b"]), true);
      assert.equal(popularity.recordImage(["b", "a", "a"]), false, "the same image again");
      assert.equal(popularity.recordImage(["a", "c"]), true);
      assert.deepEqual(
        ["a", "b", "c", "d"].map((id) => popularity.count(id)),
        [2, 1, 1, 0],
      );
      db.close();
      const reopened = new LayerPopularity(openDatabase(path));
      assert.equal(reopened.count("a"), 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("adds the popularity tables to a database made by the schema before", () => {
    const db = openDatabase(":memory:");
    db.exec("DROP TABLE layer_popularity; DROP TABLE popularity_images");
    db.pragma(`user_version = ${schemaVersion - 1}`);
    new LayerCache(db).put("k", { digest: d("1"), diffId: d("2"), size: 3 });
    migrate(db);
    assert.equal(db.pragma("user_version", { simple: true }), schemaVersion);
    assert.equal(new LayerCache(db).get("k")?.size, 3);
    assert.equal(new LayerPopularity(db).recordImage(["x"]), true);
  });
});
