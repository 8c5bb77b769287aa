import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { digestFromHex, type Digest } from "../../shared/digest.ts";
import { blobKey, manifestKey } from "../../shared/storage-keys.ts";
import { openDatabase } from "../cache/database.ts";
import { PublishedImages } from "../cache/published-images.ts";
import { FilesystemStorage } from "../storage/filesystem.ts";
import { collectGarbage } from "./collector.ts";
import { Pins } from "./pins.ts";

async function fixture() {
  const dir = await mkdtemp(join(tmpdir(), "collector-"));
  const storage = await new FilesystemStorage(dir).init();
  const published = new PublishedImages(openDatabase(":memory:"));
  const put = async (key: (digest: Digest) => string) => {
    const bytes = new Uint8Array(randomBytes(100));
    const hex = createHash("sha256").update(bytes).digest("hex");
    const digest = digestFromHex(hex);
    await storage.putBytes(key(digest), bytes, { sha256: hex });
    return { digest, bytes };
  };
  /** An image with one manifest, a config and one layer, all stored and recorded at `at`. */
  const image = async (name: string, at: number) => {
    const manifest = await put(manifestKey);
    const config = await put(blobKey);
    const layer = await put(blobKey);
    published.record(
      {
        name,
        revision: null,
        manifests: [{ ...manifest, mediaType: "application/vnd.oci.image.manifest.v1+json" }],
        config,
        layers: [
          {
            digest: layer.digest,
            diffId: layer.digest,
            size: 100,
            recipe: { kind: "store", paths: [] },
          },
        ],
        packFormat: "test",
        gzipLevel: 6,
      },
      at,
    );
    return [manifest.digest, config.digest, layer.digest];
  };
  return {
    dir,
    storage,
    published,
    put,
    image,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

describe("collectGarbage", () => {
  it("keeps images used within the window, and pinned, young and foreign objects", async () => {
    const f = await fixture();
    try {
      const now = 10_000_000;
      const used = await f.image("used", now - 1_000);
      const unused = await f.image("unused", now - 100_000);
      const pins = new Pins();
      const building = pins.pin();
      const inProgress = await f.put(blobKey);
      building.add(inProgress.digest);
      const orphan = await f.put(blobKey);
      // A file that is not of the storage layout is never touched.
      await mkdir(join(f.dir, "blobs", "sha256"), { recursive: true });
      await writeFile(join(f.dir, "blobs", "sha256", "README"), "not a blob");
      // Everything so far was written "now" on disk; age all but the young one.
      const young = await f.put(blobKey);
      const report = await collectGarbage({
        storage: {
          list: async function* (prefix) {
            for await (const object of f.storage.list(prefix)) {
              const isYoung = object.key === blobKey(young.digest);
              yield { ...object, modifiedAt: isYoung ? now - 10 : now - 50_000 };
            }
          },
          delete: (key) => f.storage.delete(key),
        },
        published: f.published,
        pins,
        unusedMs: 10_000,
        graceMs: 1_000,
        now: () => now,
      });
      const has = async (digest: Digest) =>
        (await f.storage.has(blobKey(digest))) || (await f.storage.has(manifestKey(digest)));
      for (const digest of used) assert.ok(await has(digest), "used image kept");
      for (const digest of unused) assert.ok(!(await has(digest)), "unused image collected");
      assert.ok(await has(inProgress.digest), "pinned object kept");
      assert.ok(await has(young.digest), "young object kept");
      assert.ok(!(await has(orphan.digest)), "old orphan collected");
      assert.ok(await f.storage.stat("blobs/sha256/README"), "foreign file kept");
      assert.equal(report.deleted.objects, 4);
      assert.equal(report.deleted.bytes, 400);
      assert.deepEqual(report.images, { inUse: 1, unused: 1 });
      building.release();
      assert.equal(pins.has(inProgress.digest), false);
    } finally {
      await f.cleanup();
    }
  });

  it("keeps a layer shared with an image in use", async () => {
    const f = await fixture();
    try {
      const now = Date.now();
      const [, , sharedLayer] = await f.image("old", now - 100_000);
      f.published.record(
        {
          name: "new",
          revision: null,
          manifests: [
            { digest: digestFromHex("aa".repeat(32)), mediaType: "m", bytes: new Uint8Array(1) },
          ],
          config: { digest: digestFromHex("bb".repeat(32)), bytes: new Uint8Array(1) },
          layers: [
            {
              digest: sharedLayer!,
              diffId: sharedLayer!,
              size: 100,
              recipe: { kind: "store", paths: [] },
            },
          ],
          packFormat: "test",
          gzipLevel: 6,
        },
        now,
      );
      await collectGarbage({
        storage: f.storage,
        published: f.published,
        pins: new Pins(),
        unusedMs: 10_000,
        graceMs: 0,
      });
      assert.ok(await f.storage.has(blobKey(sharedLayer!)));
    } finally {
      await f.cleanup();
    }
  });
});
