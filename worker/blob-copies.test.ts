// Concurrent blob misses in one isolate, in workerd against an in-memory origin: followers wait
// on R2 while the leader's copy moves, never on the leader's request. When the leader fails (its
// body is cut off, its copy too) or stalls (its body stops coming), a follower takes over and
// every follower gets the whole, verified blob.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { blobKey } from "../shared/storage-keys.ts";
import { originHolding, sha256, syntheticImage } from "../test/support/synthetic-image.ts";
import {
  startWorkerdEdge,
  type BlobAnswer,
  type WorkerdEdge,
} from "../test/support/workerd-edge.ts";

describe("follower take-over in workerd", () => {
  let edge: WorkerdEdge;

  before(async () => {
    edge = await startWorkerdEdge();
  });
  after(async () => {
    await edge?.stop();
  });

  /** A fresh blob whose first whole GETs are answered as given, sent slowly. */
  async function blobAnswering(...answers: BlobAnswer[]) {
    const image = syntheticImage("bigdata", { layerSizes: [1_000_000] });
    const scenario = originHolding([image]);
    const layer = image.layers[0]!;
    scenario.blobs![layer.digest]!.answers = answers;
    await edge.setOrigin({ ...scenario, chunk: { bytes: 64 * 1024, delayMs: 20 } });
    return layer;
  }

  async function originGets(digest: string): Promise<number> {
    return (await edge.originCalls()).filter(
      (call) => call.method === "GET" && call.path.endsWith(digest) && call.range === null,
    ).length;
  }

  async function follow(path: string) {
    const response = await edge.fetch(path);
    return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
  }

  it("two followers take over after a failed leader and both get a 200", async () => {
    const layer = await blobAnswering("cut", "cut");
    const path = `/v2/bigdata/blobs/${layer.digest}`;
    const leader = await edge.fetch(path);
    // The leader has claimed the copy once its answer starts.
    const followers = [follow(path), follow(path)];
    await assert.rejects(leader.arrayBuffer(), "the leader's body fails");
    for (const follower of await Promise.all(followers)) {
      assert.equal(follower.status, 200);
      assert.equal(sha256(follower.body), layer.digest);
    }
    await edge.waitForLog(
      (line) => line.event === "blob copy taken over" && line.digest === layer.digest,
    );
    // The failed leader's two reads, and one take-over's two (its client's and its copy, which
    // the other follower waited for).
    assert.equal(await originGets(layer.digest), 4);
    const bucket = await edge.miniflare.getR2Bucket("BLOBS");
    assert.ok(await bucket.head(blobKey(layer.digest)));
  });

  it("the leader's client aborts mid-flight: the followers still get the blob", async () => {
    const layer = await blobAnswering("whole", "whole");
    const path = `/v2/bigdata/blobs/${layer.digest}`;
    const abort = new AbortController();
    const leader = await edge.fetch(path, { signal: abort.signal });
    const followers = [follow(path), follow(path)];
    const reader = leader.body!.getReader();
    await reader.read();
    abort.abort();
    await assert.rejects(reader.read(), "the leader's client went away");
    for (const follower of await Promise.all(followers)) {
      assert.equal(follower.status, 200);
      assert.equal(follower.body.length, layer.size);
      assert.equal(sha256(follower.body), layer.digest);
    }
    // The leader's stream and its copy; two more if the copy died with the leader's request.
    const gets = await originGets(layer.digest);
    assert.ok(gets >= 2 && gets <= 4, `${gets} origin reads`);
  });

  it("a follower takes over from a leader whose body stalls", async () => {
    const layer = await blobAnswering("stall");
    const path = `/v2/bigdata/blobs/${layer.digest}`;
    // The leader's answer has started (it holds the copy); its body stops half-way.
    const leader = await edge.fetch(path);
    const started = Date.now();
    const followers = await Promise.all([follow(path), follow(path)]);
    for (const follower of followers) {
      assert.equal(follower.status, 200);
      assert.equal(sha256(follower.body), layer.digest);
    }
    const taken = await edge.waitForLog(
      (line) => line.event === "blob copy taken over" && line.digest === layer.digest,
    );
    assert.ok(Number(taken.copied) >= 0);
    // Followers wait out the stall (5 s without progress), not the follower deadline (60 s).
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
    await leader.body!.cancel().catch(() => {});
    // The stalled read (its copy never starts: the leader's client never ends), then the
    // take-over's two.
    assert.equal(await originGets(layer.digest), 3);
  });
});
