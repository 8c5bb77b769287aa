// While the edge copies a big blob from the origin into R2 (after its first client got it), every
// other request is still answered promptly. The copy's reads are always ready, and before the
// copy let the event loop take turns it ran as one chain of microtasks that held up the whole
// workerd process until the copy ended (2.6 s for 100 MB in the local stack).

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startEdgeRuntime, type EdgeRuntime } from "../stack/edge-runtime.ts";
import { startOrigin, type OriginProcess } from "./support/origin-process.ts";
import { randomLayerPackageSet } from "./support/random-layer-set.ts";

describe("edge: a blob copy into R2 does not hold up other requests", () => {
  let dir: string;
  let origin: OriginProcess;
  let edge: EdgeRuntime;
  const copies: { digest: string; ms: number }[] = [];
  let layer: { digest: string; size: number };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nixery-busy-copy-"));
    origin = await startOrigin({
      pkgsPath: await randomLayerPackageSet(dir, 64),
      env: { NIXERY_BIG_PATH_BYTES: "10000000" },
    });
    const response = await fetch(`${origin.url}/v2/randomdata/manifests/latest`);
    const manifest = (await response.json()) as { layers: { digest: string; size: number }[] };
    layer = manifest.layers.reduce((a, b) => (b.size > a.size ? b : a));
    edge = await startEdgeRuntime({
      originUrl: origin.url,
      port: 0,
      onLogLine: (line) => {
        const entry = JSON.parse(line) as { event?: string; digest?: string; ms?: number };
        if (entry.event === "blob backfilled")
          copies.push({ digest: entry.digest!, ms: entry.ms! });
      },
    });
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers /v2/ within a fraction of the copy's time while the copy runs", async () => {
    const blob = await fetch(new URL(`/v2/randomdata/blobs/${layer.digest}`, edge.url!));
    assert.equal(blob.status, 200);
    assert.equal((await blob.arrayBuffer()).byteLength, layer.size);
    // The copy starts once the client's stream has ended: ask for /v2/ until it is done.
    const latencies: number[] = [];
    const copied = () => copies.some((copy) => copy.digest === layer.digest);
    while (!copied()) {
      const started = performance.now();
      const response = await fetch(new URL("/v2/", edge.url!));
      assert.equal(response.status, 200);
      await response.arrayBuffer();
      latencies.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const copyMs = copies.find((copy) => copy.digest === layer.digest)!.ms;
    const slowest = Math.max(...latencies);
    assert.ok(
      slowest < Math.max(250, copyMs / 3),
      `the slowest /v2/ took ${slowest.toFixed(0)} ms during a copy of ${copyMs} ms ` +
        `(${latencies.length} requests)`,
    );
  });
});
