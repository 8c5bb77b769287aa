// Blob misses at the edge, in workerd against an in-memory origin (test/support/workerd-edge.ts):
// a miss streams from the origin to the client and is then copied into R2, so the next read is
// served by R2; a Range on a miss is forwarded; HEAD asks for the size; concurrent misses cost
// two origin reads.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { blobKey } from "../shared/storage-keys.ts";
import { originHolding, sha256, syntheticImage } from "../test/support/synthetic-image.ts";
import { startWorkerdEdge, type WorkerdEdge } from "../test/support/workerd-edge.ts";

describe("blob backfill in workerd", () => {
  let edge: WorkerdEdge;
  const image = syntheticImage("hello", { layerSizes: [300_000, 5_000, 4_000, 3_000] });
  const [big, small, third, fourth] = image.layers as [
    (typeof image.layers)[0],
    (typeof image.layers)[0],
    (typeof image.layers)[0],
    (typeof image.layers)[0],
  ];

  before(async () => {
    edge = await startWorkerdEdge();
    await edge.setOrigin(originHolding([image]));
  });
  after(async () => {
    await edge?.stop();
  });

  const blobGets = async (digest: string) =>
    (await edge.originCalls()).filter(
      (call) => call.method === "GET" && call.path.endsWith(digest) && call.range === null,
    ).length;

  it("streams a miss from the origin, verified, then stores it in R2 and serves it from there", async () => {
    const response = await edge.fetch(`/v2/hello/blobs/${big.digest}`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-length"), String(big.size));
    const body = Buffer.from(await response.arrayBuffer());
    assert.equal(sha256(body), big.digest);
    await edge.waitForLog((line) => line.event === "blob backfilled" && line.digest === big.digest);
    const bucket = await edge.miniflare.getR2Bucket("BLOBS");
    const stored = await bucket.get(blobKey(big.digest));
    assert.ok(stored, "the blob is in R2");
    assert.equal(sha256(new Uint8Array(await stored.arrayBuffer())), big.digest);
    // The client's stream and the copy into R2.
    assert.equal(await blobGets(big.digest), 2);
    const again = await edge.fetch(`/v2/hello/blobs/${big.digest}`);
    assert.equal(sha256(new Uint8Array(await again.arrayBuffer())), big.digest);
    assert.equal(await blobGets(big.digest), 2, "the second read came from R2");
  });

  it("forwards a Range on a miss to the origin and still stores the whole blob", async () => {
    const ranged = await edge.fetch(`/v2/hello/blobs/${small.digest}`, {
      headers: { Range: "bytes=20-59" },
    });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get("content-range"), `bytes 20-59/${small.size}`);
    assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), small.bytes.subarray(20, 60));
    const calls = await edge.originCalls();
    assert.ok(
      calls.some((call) => call.path.endsWith(small.digest) && call.range === "bytes=20-59"),
    );
    await edge.waitForLog(
      (line) => line.event === "blob backfilled" && line.digest === small.digest,
    );
    const bucket = await edge.miniflare.getR2Bucket("BLOBS");
    assert.ok(await bucket.head(blobKey(small.digest)));
  });

  it("answers HEAD on a miss with the origin's size, without reading the blob", async () => {
    const head = await edge.fetch(`/v2/hello/blobs/${third.digest}`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(third.size));
    assert.equal(head.headers.get("docker-content-digest"), third.digest);
    assert.equal(await blobGets(third.digest), 0);
  });

  it("says a blob the origin does not have is unknown", async () => {
    const digest = sha256(Buffer.from("nowhere"));
    const response = await edge.fetch(`/v2/hello/blobs/${digest}`);
    assert.equal(response.status, 404);
    const body = (await response.json()) as { errors: { code: string }[] };
    assert.equal(body.errors[0]!.code, "BLOB_UNKNOWN");
  });

  it("concurrent misses for one blob read it from the origin twice, whatever their number", async () => {
    const bodies = await Promise.all(
      [1, 2, 3, 4].map(async () => {
        const response = await edge.fetch(`/v2/hello/blobs/${fourth.digest}`);
        assert.equal(response.status, 200);
        return sha256(new Uint8Array(await response.arrayBuffer()));
      }),
    );
    assert.deepEqual(bodies, [fourth.digest, fourth.digest, fourth.digest, fourth.digest]);
    // The leader's stream to its client, and its copy into R2 (which the followers wait for).
    assert.equal(await blobGets(fourth.digest), 2);
  });
});
