// The edge reports the manifests it serves from its own caches to the origin's storage collector
// (POST /_origin/usage), at most once a day per manifest, so an image pulled only through the edge
// still counts as used at the origin.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startOriginProxy, type OriginProxy } from "./support/edge-origin-proxy.ts";
import { startEdgeWorker, type EdgeWorker } from "./support/edge-worker.ts";
import { startOrigin, type OriginProcess } from "./support/origin-process.ts";

const secret = "edge-usage-secret";
const dockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("edge usage reports", () => {
  let origin: OriginProcess;
  let proxy: OriginProxy;
  let edge: EdgeWorker;

  before(async () => {
    origin = await startOrigin({
      env: { ORIGIN_SECRET: secret },
    });
    proxy = await startOriginProxy(origin.url);
    edge = await startEdgeWorker({ originUrl: proxy.url, originSecret: secret, pollSeconds: 2 });
  });
  after(async () => {
    await edge?.stop();
    await proxy?.stop();
    await origin?.stop();
  });

  it("reports a manifest served from the edge to the origin once a day", async () => {
    const get = async () => {
      const response = await edge.fetch("/v2/goodbye/manifests/latest", {
        headers: { Accept: dockerManifest },
      });
      assert.equal(response.status, 200);
      await response.arrayBuffer();
      return response.headers.get("docker-content-digest")!;
    };
    const digest = await get();
    await waitFor("a usage report", () => proxy.count(/^\/_origin\/usage/) === 1);
    // Served from the edge's caches now; the day's report is already made.
    const before = proxy.count(/^\/(v2|_origin\/builds)/);
    await get();
    await get();
    assert.equal(proxy.count(/^\/(v2|_origin\/builds)/), before, "answered by the edge alone");
    await sleep(500);
    assert.equal(proxy.count(/^\/_origin\/usage/), 1, "one report a day per manifest");

    assert.ok(!edge.logs.some((line) => line.event === "usage report failed"));
    assert.match(digest, /^sha256:/);
  });

  it("refuses a malformed usage report with a registry error", async () => {
    const response = await fetch(`${origin.url}/_origin/usage`, {
      method: "POST",
      headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" },
      body: JSON.stringify({ digests: "sha256:nope" }),
    });
    assert.equal(response.status, 400);
    assert.equal(response.headers.get("content-type"), "application/json");
    const unauthorised = await fetch(`${origin.url}/_origin/usage`, { method: "POST", body: "{}" });
    assert.equal(unauthorised.status, 401);
  });
});
