// The edge Worker (real workerd, Miniflare) in front of an origin that builds every name for
// linux/amd64 and linux/arm64: the KV tag record carries the index and every platform's manifests,
// all of them are in R2 before the answer, the Cache API keys tag answers by what the client
// takes (an index or a single manifest), and all of it is served with the origin down.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mediaTypes } from "../shared/media-types.ts";
import { manifestKey } from "../shared/storage-keys.ts";
import { parseTagRecord } from "../shared/tag-record.ts";
import type { Digest } from "../shared/digest.ts";
import { startOriginProxy, type OriginProxy } from "./support/edge-origin-proxy.ts";
import { startEdgeWorker, type EdgeWorker } from "./support/edge-worker.ts";
import { startOrigin, type OriginProcess } from "./support/origin-process.ts";
import { indexAccept, type IndexBody } from "./support/platform-pulls.ts";

const secret = "edge-index-secret";
const containerdAccept = `${mediaTypes.dockerManifest}, ${mediaTypes.dockerManifestList}, ${mediaTypes.ociManifest}, ${mediaTypes.ociIndex}, */*`;

describe("edge worker: image indexes", () => {
  let origin: OriginProcess;
  let proxy: OriginProxy;
  let edge: EdgeWorker;

  before(async () => {
    origin = await startOrigin({
      env: { ORIGIN_SECRET: secret, NIXERY_PLATFORMS: "linux/amd64,linux/arm64" },
    });
    proxy = await startOriginProxy(origin.url);
    edge = await startEdgeWorker({ originUrl: proxy.url, originSecret: secret, pollSeconds: 2 });
  });
  after(async () => {
    await edge?.stop();
    await proxy?.stop();
    await origin?.stop();
  });

  async function manifest(accept: string) {
    const response = await edge.fetch("/v2/goodbye/manifests/latest", {
      headers: { Accept: accept },
    });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    return { response, body: JSON.parse(text) as IndexBody };
  }

  it("stores the index and every platform's manifests before the first answer", async () => {
    const { response, body } = await manifest(containerdAccept);
    assert.equal(response.headers.get("content-type"), mediaTypes.dockerManifestList);
    assert.equal(response.headers.get("vary"), "Accept");
    const bucket = await edge.miniflare.getR2Bucket("BLOBS");
    const kv = await edge.miniflare.getKVNamespace("MANIFESTS");
    const record = parseTagRecord(await kv.get("tags/amd64/cacert/goodbye/iana-etc:latest"));
    assert.ok(record?.index, "the tag record carries the index");
    assert.equal(
      record.index.manifests.docker.digest,
      response.headers.get("docker-content-digest"),
    );
    assert.deepEqual(
      record.index.platforms.map((p) => p.platform),
      ["linux/amd64", "linux/arm64"],
    );
    const digests = [
      record.index.manifests.docker.digest,
      record.index.manifests.oci.digest,
      ...record.index.platforms.flatMap((p) => [p.manifests.docker.digest, p.manifests.oci.digest]),
    ];
    for (const digest of digests) {
      assert.ok(await bucket.head(manifestKey(digest)), `${digest} is in R2`);
    }
    assert.deepEqual(
      body.manifests.map((entry) => entry.digest),
      record.index.platforms.map((p) => p.manifests.docker.digest),
    );
  });

  it("keys cached answers by what the client takes, and serves them with the origin down", async () => {
    const list = await manifest(indexAccept);
    const oci = await manifest(`${mediaTypes.ociManifest}, ${mediaTypes.ociIndex}`);
    const single = await manifest(mediaTypes.dockerManifest);
    assert.equal(oci.response.headers.get("content-type"), mediaTypes.ociIndex);
    assert.equal(single.response.headers.get("content-type"), mediaTypes.dockerManifest);
    assert.equal(
      single.response.headers.get("docker-content-digest"),
      list.body.manifests[0]!.digest,
    );

    proxy.setDown(true);
    try {
      const since = proxy.requests.length;
      for (const [accept, type] of [
        [indexAccept, mediaTypes.dockerManifestList],
        [`${mediaTypes.ociManifest}, ${mediaTypes.ociIndex}`, mediaTypes.ociIndex],
        [mediaTypes.dockerManifest, mediaTypes.dockerManifest],
      ] as const) {
        const again = await manifest(accept);
        assert.equal(again.response.headers.get("content-type"), type);
      }
      // Each platform's manifest, by digest, from the edge alone.
      for (const entry of list.body.manifests) {
        const child = await edge.fetch(`/v2/goodbye/manifests/${entry.digest as Digest}`);
        assert.equal(child.status, 200);
        assert.equal(child.headers.get("content-type"), mediaTypes.dockerManifest);
        await child.arrayBuffer();
      }
      assert.deepEqual(proxy.requests.slice(since), []);
    } finally {
      proxy.setDown(false);
    }
  });
});
