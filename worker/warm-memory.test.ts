// The Worker keeps nothing per request: its JS heap (read through workerd's inspector after a
// full collection) stays flat over thousands of warm manifest and blob requests. The isolate's
// own tables (blob-copy records, usage marks) are bounded; anything a request leaves behind
// (a map entry, a promise, a stream, a log buffer) would show here as growth per request.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mediaTypes } from "../shared/media-types.ts";
import { originHolding, syntheticImage } from "../test/support/synthetic-image.ts";
import { startWorkerdEdge, type WorkerdEdge } from "../test/support/workerd-edge.ts";

/** Requests between the two readings; a leak of 64 bytes a request would show as 256 KB. */
const requests = 4_000;
const allowedGrowthBytes = 256 * 1024;

describe("the Worker's heap under warm load (workerd)", () => {
  let edge: WorkerdEdge;

  before(async () => {
    edge = await startWorkerdEdge({ inspect: true });
  });
  after(async () => {
    await edge?.stop();
  });

  it("does not grow with warm manifest and blob requests", async () => {
    const image = syntheticImage("hello", { layerSizes: [4096, 20_000] });
    await edge.setOrigin(originHolding([image]));
    const paths = [
      `/v2/hello/manifests/latest`,
      `/v2/hello/manifests/${image.docker.digest}`,
      `/v2/hello/blobs/${image.config.digest}`,
      ...image.layers.map((layer) => `/v2/hello/blobs/${layer.digest}`),
    ];
    const send = async (count: number) => {
      let next = 0;
      // Eight clients at once, as a registry client pulling layers does.
      const client = async () => {
        while (next < count) {
          const path = paths[next++ % paths.length]!;
          const response = await edge.fetch(path, {
            headers: { Accept: mediaTypes.dockerManifest },
          });
          await response.arrayBuffer();
          assert.equal(response.status, 200, path);
        }
      };
      await Promise.all(Array.from({ length: 8 }, client));
    };
    // Warm: stores filled, code compiled, the isolate's one-time state built.
    await send(1_000);
    const originGets = async () =>
      (await edge.originCalls()).filter((call) => call.method === "GET").length;
    const warmGets = await originGets();
    const start = await edge.heapUsage();
    await send(requests);
    const end = await edge.heapUsage();
    const growth = end.usedSize - start.usedSize;
    assert.ok(
      growth < allowedGrowthBytes,
      `the heap grew ${growth} bytes over ${requests} warm requests (${start.usedSize} → ${end.usedSize})`,
    );
    // Every warm request was answered at the edge, none by the origin.
    assert.equal(await originGets(), warmGets);
  });
});
