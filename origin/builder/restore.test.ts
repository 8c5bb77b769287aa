// Restoring a collected layer: one whose recorded packer this origin cannot imitate is refused with
// a message naming the packer, before any Nix process or packing starts; one whose store paths
// are present is packed again and stored only if it packs to the recorded digest. (Nix's part,
// realising paths that are gone, runs for real in test/origin/gc.test.ts; here the paths are
// present and `nix-store --realise` is answered as Nix would answer for valid paths.)

import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { digestFromHex, type Digest } from "../../shared/digest.ts";
import { blobKey } from "../../shared/storage-keys.ts";
import { packFormatVersion, packLayer } from "../pack/pack-layer.ts";
import { storePathEntries } from "../pack/store-entries.ts";
import { FilesystemStorage } from "../storage/filesystem.ts";
import { openDatabase } from "../cache/database.ts";
import { PublishedImages } from "../cache/published-images.ts";
import { LayerNotRestorable } from "./errors.ts";
import { restoreObject, type RestoreDeps } from "./restore.ts";

describe("restoreObject", () => {
  it("refuses a layer packed by a packer it cannot imitate, without running Nix", async () => {
    const published = new PublishedImages(openDatabase(":memory:"));
    const digest = (c: string) => digestFromHex(c.repeat(64));
    const layer = digest("c");
    published.record(
      {
        name: "hello",
        revision: null,
        manifests: [
          {
            digest: digest("a"),
            bytes: new TextEncoder().encode("{}"),
            mediaType: "application/vnd.oci.image.manifest.v1+json",
          },
        ],
        config: { digest: digest("b"), bytes: new TextEncoder().encode("{}") },
        layers: [
          { digest: layer, diffId: layer, size: 1, recipe: { kind: "store", paths: ["/x"] } },
        ],
        packFormat: "pack-v0-from-the-future",
        gzipLevel: 6,
      },
      0,
    );
    let nixCalls = 0;
    const deps = {
      published,
      runner: async () => {
        nixCalls++;
        throw new Error("no Nix here");
      },
    } as unknown as RestoreDeps;
    await assert.rejects(restoreObject(deps, layer), (error: unknown) => {
      assert.ok(error instanceof LayerNotRestorable);
      assert.match(error.message, /packed by pack-v0-from-the-future/);
      return true;
    });
    assert.equal(nixCalls, 0);
  });

  describe("a layer whose store paths are present", () => {
    async function setUp(recorded: (packed: Digest) => Digest) {
      const dir = await mkdtemp(join(tmpdir(), "restore-test-"));
      const path = join(dir, "store", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello");
      await mkdir(join(path, "bin"), { recursive: true });
      await writeFile(join(path, "bin", "hello"), "#!/bin/sh\necho hello\n".repeat(100));
      const packed = await packLayer(storePathEntries([path]), join(dir, "reference.tar.gz"));
      const storage = await new FilesystemStorage(join(dir, "storage")).init();
      const published = new PublishedImages(openDatabase(":memory:"));
      const layer = recorded(packed.digest);
      published.record(
        {
          name: "hello",
          revision: null,
          manifests: [
            {
              digest: digestFromHex("a".repeat(64)),
              bytes: new TextEncoder().encode("{}"),
              mediaType: "application/vnd.oci.image.manifest.v1+json",
            },
          ],
          config: { digest: digestFromHex("b".repeat(64)), bytes: new TextEncoder().encode("{}") },
          layers: [
            {
              digest: layer,
              diffId: packed.diffId,
              size: packed.size,
              recipe: { kind: "store", paths: [path] },
            },
          ],
          packFormat: packFormatVersion,
          gzipLevel: 6,
        },
        0,
      );
      const realised: string[][] = [];
      const deps = {
        published,
        pipeline: { storage, gcRootDir: join(dir, "roots"), nixTimeoutMs: 60_000 },
        runner: async (command: string, args: readonly string[]) => {
          realised.push([command, ...args]);
          return { exitCode: 0, stdout: "", stderr: "" };
        },
        log: { info() {}, warn() {}, error() {}, debug() {} },
      } as unknown as RestoreDeps;
      return { dir, storage, deps, layer, realised, cleanUp: () => rm(dir, { recursive: true }) };
    }

    it("is packed again and stored under its recorded digest", async () => {
      const t = await setUp((packed) => packed);
      try {
        assert.equal(await restoreObject(t.deps, t.layer), "layer");
        assert.ok(await t.storage.has(blobKey(t.layer)));
        assert.equal(t.realised[0]?.[1], "--realise");
        assert.deepEqual(await readdir(t.storage.scratchDir), []);
      } finally {
        await t.cleanUp();
      }
    });

    it("is refused, and nothing stored, when packing it again gives other bytes", async () => {
      const other = digestFromHex("d".repeat(64));
      const t = await setUp(() => other);
      try {
        await assert.rejects(restoreObject(t.deps, other), (error: unknown) => {
          assert.ok(error instanceof LayerNotRestorable);
          assert.match(error.message, /packing it again gave sha256:[0-9a-f]{64}/);
          return true;
        });
        assert.equal(await t.storage.has(blobKey(other)), false);
        assert.deepEqual(await readdir(t.storage.scratchDir), []);
        assert.deepEqual(await readdir(join(t.dir, "roots")), []);
      } finally {
        await t.cleanUp();
      }
    });
  });
});
