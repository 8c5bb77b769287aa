// Verification at the edge, in workerd against an in-memory origin that sends wrong bytes: a blob
// body that does not hash to its digest (or ends early) fails the client's stream instead of
// completing it, and is never stored in R2 or put in the Cache API; a manifest whose bytes do not
// match is refused before it is stored.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { blobKey, manifestKey } from "../shared/storage-keys.ts";
import { originHolding, sha256, syntheticImage } from "../test/support/synthetic-image.ts";
import { startWorkerdEdge, type WorkerdEdge } from "../test/support/workerd-edge.ts";

describe("verification of what the origin sends, in workerd", () => {
  let edge: WorkerdEdge;
  const image = syntheticImage("jq", { layerSizes: [200_000, 100_000] });
  const [corrupt, cut] = image.layers as [(typeof image.layers)[0], (typeof image.layers)[0]];

  before(async () => {
    edge = await startWorkerdEdge();
  });
  after(async () => {
    await edge?.stop();
  });

  for (const [what, blob, answer] of [
    ["a corrupt", corrupt, "corrupt"],
    ["a truncated", cut, "cut"],
  ] as const) {
    it(`refuses ${what} blob body: the client's stream fails and nothing is stored`, async () => {
      const scenario = originHolding([image]);
      scenario.blobs![blob.digest]!.answers = [answer, answer];
      await edge.setOrigin(scenario);
      const response = await edge.fetch(`/v2/jq/blobs/${blob.digest}`);
      assert.equal(response.status, 200);
      let received: Uint8Array | null = null;
      await assert.rejects(async () => {
        received = new Uint8Array(await response.arrayBuffer());
      });
      assert.equal(received, null, "no complete body reached the client");
      await edge.waitForLog(
        (line) => line.event === "blob backfill refused" && line.digest === blob.digest,
      );
      const bucket = await edge.miniflare.getR2Bucket("BLOBS");
      assert.equal(await bucket.head(blobKey(blob.digest)), null);
      assert.deepEqual(await edge.cached(blob.digest), { blob: false, manifest: false });
      // The origin mends: the next pull gets the right bytes.
      const good = await edge.fetch(`/v2/jq/blobs/${blob.digest}`);
      assert.equal(sha256(new Uint8Array(await good.arrayBuffer())), blob.digest);
    });
  }

  it("refuses a manifest whose bytes do not match its digest, by digest and by tag", async () => {
    const scenario = originHolding([image]);
    const wrong = Buffer.from(
      image.docker.bytes.toString().replace("schemaVersion", "schemaversion"),
    );
    scenario.manifests![image.docker.digest]!.base64 = wrong.toString("base64");
    await edge.setOrigin(scenario);
    const byDigest = await edge.fetch(`/v2/jq/manifests/${image.docker.digest}`);
    assert.notEqual(byDigest.status, 200);
    const body = (await byDigest.json()) as { errors: { code: string }[] };
    assert.ok(body.errors[0]?.code, "a registry error");
    const byTag = await edge.fetch("/v2/jq/manifests/latest");
    assert.notEqual(byTag.status, 200);
    await byTag.arrayBuffer();
    const bucket = await edge.miniflare.getR2Bucket("BLOBS");
    assert.equal(await bucket.head(manifestKey(image.docker.digest)), null);
    assert.deepEqual(await edge.cached(image.docker.digest), { blob: false, manifest: false });
    const kv = await edge.miniflare.getKVNamespace("MANIFESTS");
    assert.deepEqual((await kv.list()).keys, [], "no tag record names an unverified manifest");
  });
});
