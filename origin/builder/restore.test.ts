// Restoring a collected layer whose recorded packer this origin cannot imitate is refused with a
// message naming the packer, before any Nix process or packing starts.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { digestFromHex } from "../../shared/digest.ts";
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
});
