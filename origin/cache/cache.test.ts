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
    index: null,
    createdAt: 1000,
    expiresAt: 2000,
    ...overrides,
  };
}

/** Takes a fresh database back to schema 3 (before image indexes). */
/** Takes a new database back to the schema before migration 4 (and 5, which came later). */
function undoMigration4(db: ReturnType<typeof openDatabase>): void {
  db.exec("ALTER TABLE images DROP COLUMN pulls");
  db.exec("DROP TABLE image_children; ALTER TABLE manifests DROP COLUMN index_json");
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

  it("keeps a tag's index and its platforms' manifests", () => {
    const cache = new ManifestCache(openDatabase(":memory:"));
    const index = {
      manifests: { docker: { digest: d("c"), size: 300 }, oci: { digest: d("e"), size: 301 } },
      platforms: [
        {
          platform: "linux/amd64",
          manifests: { docker: { digest: d("a"), size: 10 }, oci: { digest: d("b"), size: 11 } },
        },
        {
          platform: "linux/arm64",
          manifests: { docker: { digest: d("f"), size: 12 }, oci: { digest: d("9"), size: 13 } },
        },
      ],
    };
    cache.put("multi", entry({ index }));
    assert.deepEqual(cache.get("multi", 1500), entry({ index }));
    cache.put("multi", entry());
    assert.equal(cache.get("multi", 1500)?.index, null);
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

  it("reads a key from SQLite once, and reads it again after a put or a delete", () => {
    const db = openDatabase(":memory:");
    const cache = new ManifestCache(db);
    cache.put("tag", entry());
    assert.equal(cache.get("tag", 1500)?.manifests.docker.size, 10);
    // The only writer is this class: a row changed behind its back is not read again...
    db.prepare("UPDATE manifests SET docker_size = 99 WHERE cache_key = 'tag'").run();
    assert.equal(cache.get("tag", 1500)?.manifests.docker.size, 10);
    // ...while its own put and delete are seen at once, and by a cache opened later.
    cache.put(
      "tag",
      entry({ manifests: { ...entry().manifests, oci: { digest: d("f"), size: 7 } } }),
    );
    assert.equal(cache.get("tag", 1500)?.manifests.oci.size, 7);
    assert.equal(new ManifestCache(db).get("tag", 1500)?.manifests.oci.size, 7);
    assert.equal(cache.get("tag", 2000), null, "expiry is checked on every get");
    cache.delete("tag");
    assert.equal(cache.get("tag", 0), null);
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
    undoMigration4(db);
    db.exec("DROP TABLE layer_popularity; DROP TABLE popularity_images");
    db.pragma("user_version = 2");
    new LayerCache(db).put("k", { digest: d("1"), diffId: d("2"), size: 3 });
    migrate(db);
    assert.equal(db.pragma("user_version", { simple: true }), schemaVersion);
    assert.equal(new LayerCache(db).get("k")?.size, 3);
    assert.equal(new LayerPopularity(db).recordImage(["x"]), true);
  });

  it("adds indexes to the manifest cache of a database made by the schema before", () => {
    const db = openDatabase(":memory:");
    undoMigration4(db);
    db.pragma("user_version = 3");
    db.prepare(
      `INSERT INTO manifests (cache_key, image, tag, revision, pinned, docker_digest, docker_size,
         oci_digest, oci_size, created_at, expires_at) VALUES ('old', 'hello', 'latest', NULL, 0,
         '${d("a")}', 10, '${d("b")}', 11, 1000, 2000)`,
    ).run();
    migrate(db);
    assert.equal(db.pragma("user_version", { simple: true }), schemaVersion);
    assert.deepEqual(new ManifestCache(db).get("old", 1500), entry());
  });
});
