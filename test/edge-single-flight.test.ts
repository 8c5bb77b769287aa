// Concurrent blob misses at the edge, in workerd over real HTTP: followers never await the
// leader's request (worker/blob-backfill.ts). The leader's client goes away mid-transfer, or the
// origin cuts the leader's body off: the followers still get the whole, verified blob, and the
// origin is asked again at most once.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { startEdgeRuntime, type EdgeRuntime } from "../stack/edge-runtime.ts";
import { startOriginProxy, type OriginProxy } from "./support/edge-origin-proxy.ts";
import { startOrigin, type OriginProcess } from "./support/origin-process.ts";

const secret = "single-flight-secret";

interface Layer {
  digest: string;
  size: number;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** GET a blob over HTTP; resolves with status and body, or the error that ended it. */
function getBlob(
  base: URL,
  path: string,
  onFirstBytes?: (abort: () => void) => void,
): Promise<{ status: number; body: Buffer; error: string | null }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let first = true;
    const outgoing = request(new URL(path, base), (response) => {
      status = response.statusCode ?? 0;
      response.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        if (first && onFirstBytes) onFirstBytes(() => outgoing.destroy());
        first = false;
      });
      response.on("end", () => resolve({ status, body: Buffer.concat(chunks), error: null }));
      response.on("error", (error) =>
        resolve({ status, body: Buffer.concat(chunks), error: error.message }),
      );
    });
    outgoing.on("error", (error) =>
      resolve({ status, body: Buffer.concat(chunks), error: error.message }),
    );
    outgoing.end();
  });
}

describe("edge: concurrent blob misses without shared requests", () => {
  let origin: OriginProcess;
  let proxy: OriginProxy;
  let layer: Layer;

  before(async () => {
    origin = await startOrigin({
      env: { ORIGIN_SECRET: secret, NIXERY_BIG_PATH_BYTES: "10000000" },
    });
    proxy = await startOriginProxy(origin.url);
    const response = await fetch(`${origin.url}/v2/bigdata/manifests/latest`, {
      headers: { Authorization: `Bearer ${secret}` },
    });
    const manifest = (await response.json()) as { layers: Layer[] };
    layer = manifest.layers.reduce((a, b) => (b.size > a.size ? b : a));
    assert.ok(layer.size > 1_000_000, `a layer of ${layer.size} bytes`);
  });

  after(async () => {
    await proxy?.stop();
    await origin?.stop();
  });

  /** A fresh edge (empty R2 and cache) for each case. */
  async function withEdge(run: (edge: EdgeRuntime) => Promise<void>): Promise<void> {
    const edge = await startEdgeRuntime({
      originUrl: proxy.url,
      originSecret: secret,
      port: 0,
      onLogLine: (line) => {
        if (process.env.EDGE_DEBUG) process.stderr.write(`edge: ${line}\n`);
      },
    });
    try {
      await run(edge);
    } finally {
      proxy.throttleBlobs = null;
      proxy.cutNextBlobs = 0;
      await edge.stop();
    }
  }

  const blobPath = () => `/v2/bigdata/blobs/${layer.digest}`;
  const originFetches = (since: number) =>
    proxy.requests
      .slice(since)
      .filter((entry) => entry.method === "GET" && entry.path.endsWith(layer.digest)).length;

  it("the leader's client aborts mid-flight: the followers still get the blob", async () => {
    await withEdge(async (edge) => {
      const since = proxy.requests.length;
      proxy.throttleBlobs = { bytes: 256 * 1024, delayMs: 40 };
      let followers: Promise<{ status: number; body: Buffer }>[] = [];
      const leader = await getBlob(edge.url!, blobPath(), (abort) => {
        followers = [1, 2].map(() => getBlob(edge.url!, blobPath()));
        setTimeout(abort, 100);
      });
      assert.ok(leader.error || leader.body.length < layer.size, "the leader was cut off");
      for (const follower of await Promise.all(followers)) {
        assert.equal(follower.status, 200);
        assert.equal(follower.body.length, layer.size);
        assert.equal(sha256(follower.body), layer.digest);
      }
      // The leader's stream and its copy; two more if the copy died with the leader's request.
      assert.ok(originFetches(since) <= 4, `${originFetches(since)} origin fetches`);
    });
  });

  it("two followers take over after a failed leader and both get a 200", async () => {
    await withEdge(async (edge) => {
      const since = proxy.requests.length;
      proxy.throttleBlobs = { bytes: 256 * 1024, delayMs: 20 };
      // The leader's stream to its client and its copy into R2 both die half-way.
      proxy.cutNextBlobs = 2;
      let followers: Promise<{ status: number; body: Buffer; error: string | null }>[] = [];
      const leader = await getBlob(edge.url!, blobPath(), () => {
        followers = [1, 2].map(() => getBlob(edge.url!, blobPath()));
      });
      assert.ok(leader.error || leader.body.length < layer.size, "the leader's body failed");
      const answers = await Promise.all(followers);
      for (const follower of answers) {
        assert.equal(follower.error, null);
        assert.equal(follower.status, 200);
        assert.equal(sha256(follower.body), layer.digest);
      }
      // The failed leader's two reads, and one take-over's two (its client's and its copy, which
      // the other follower waited for).
      assert.equal(originFetches(since), 4);
    });
  });
});
