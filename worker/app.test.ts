// The edge app's own answers, in workerd against an in-memory origin: the start page, registry
// JSON errors, what responses tell caches (shared/cache-policy.ts), Range and HEAD on stored
// blobs, usage reports to the origin once a day, and an edge whose ORIGIN_URL is wrong.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { originPaths } from "../shared/origin-protocol.ts";
import { mediaTypes } from "../shared/media-types.ts";
import { blobKey, manifestKey, tagKey } from "../shared/storage-keys.ts";
import { tagRecordFrom } from "../shared/tag-record.ts";
import { originHolding, sha256, syntheticImage } from "../test/support/synthetic-image.ts";
import { waitFor } from "../test/support/wait-for.ts";
import { startWorkerdEdge, type WorkerdEdge } from "../test/support/workerd-edge.ts";

const { dockerManifest, ociManifest } = mediaTypes;
const containerdAccept = `${dockerManifest}, ${mediaTypes.dockerManifestList}, ${ociManifest}, ${mediaTypes.ociIndex}, */*`;

interface ErrorBody {
  errors: { code: string; message: string }[];
}

describe("the edge app in workerd", () => {
  let edge: WorkerdEdge;
  const hello = syntheticImage("hello", { layerSizes: [5_000, 100], maxAgeSeconds: 300 });
  const layer = hello.layers[0]!;

  before(async () => {
    edge = await startWorkerdEdge();
    await edge.setOrigin(originHolding([hello]));
  });
  after(async () => {
    await edge?.stop();
  });

  it("serves the start page and JSON errors", async () => {
    const page = await edge.fetch("/");
    assert.equal(page.status, 200);
    const html = await page.text();
    for (const text of [`${edge.url.host}/shell/`, "arm64", "built on demand"])
      assert.ok(html.includes(text), text);
    assert.ok(!html.includes("origin.test"), "the page names the origin");
    const cases: [string, RequestInit, number, string][] = [
      ["/nowhere", {}, 404, "NOT_FOUND"],
      ["/v2/hello/manifests/latest", { method: "PUT", body: "{}" }, 405, "UNSUPPORTED"],
      ["/v2/Hello/manifests/latest", {}, 400, "NAME_INVALID"],
      ["/v2/hello/blobs/sha256:abc", {}, 400, "DIGEST_INVALID"],
      ["/auth/token", {}, 404, "NOT_FOUND"],
    ];
    for (const [path, init, status, code] of cases) {
      const response = await edge.fetch(path, init);
      assert.equal(response.status, status, path);
      assert.equal(response.headers.get("content-type"), "application/json");
      assert.equal(response.headers.get("cache-control"), "no-store", path);
      const body = (await response.json()) as ErrorBody;
      assert.equal(body.errors[0]!.code, code, path);
    }
  });

  it("tells caches: tags for their time, digests for ever, Docker and OCI alike", async () => {
    const docker = await edge.fetch("/v2/hello/manifests/latest", {
      headers: { Accept: containerdAccept },
    });
    const dockerBytes = new Uint8Array(await docker.arrayBuffer());
    assert.equal(docker.headers.get("content-type"), dockerManifest);
    assert.equal(docker.headers.get("vary"), "Accept");
    const maxAge = Number(
      /^public, max-age=(\d+)$/.exec(docker.headers.get("cache-control")!)?.[1],
    );
    assert.ok(maxAge > 0 && maxAge <= 300, docker.headers.get("cache-control")!);
    const oci = await edge.fetch("/v2/hello/manifests/latest", {
      headers: { Accept: ociManifest },
    });
    assert.equal(oci.headers.get("content-type"), ociManifest);
    assert.deepEqual(Buffer.from(await oci.arrayBuffer()), hello.oci.bytes);
    const head = await edge.fetch("/v2/hello/manifests/latest", {
      method: "HEAD",
      headers: { Accept: containerdAccept },
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("docker-content-digest"), sha256(dockerBytes));
    assert.equal(head.headers.get("content-length"), String(dockerBytes.byteLength));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    for (const path of [
      `/v2/hello/manifests/${hello.oci.digest}`,
      `/v2/hello/blobs/${hello.oci.digest}`,
    ]) {
      const byDigest = await edge.fetch(path);
      assert.equal(byDigest.status, 200, path);
      assert.equal(byDigest.headers.get("content-type"), ociManifest);
      assert.equal(byDigest.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.equal(byDigest.headers.get("etag"), `"${hello.oci.digest}"`);
      assert.equal(sha256(new Uint8Array(await byDigest.arrayBuffer())), hello.oci.digest);
    }
    const blob = await edge.fetch(`/v2/hello/blobs/${layer.digest}`);
    assert.equal(blob.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal(sha256(new Uint8Array(await blob.arrayBuffer())), layer.digest);
  });

  it("answers Range and HEAD on stored blobs itself (206, 416)", async () => {
    const bucket = await edge.miniflare.getR2Bucket("BLOBS");
    await waitFor(
      "the layer reaches R2",
      async () => (await bucket.head(blobKey(layer.digest))) !== null,
    );
    const since = (await edge.originCalls()).length;
    const size = layer.size;
    const ranges: [string, number, number][] = [
      ["bytes=10-19", 10, 19],
      [`bytes=${size - 5}-`, size - 5, size - 1],
      ["bytes=-7", size - 7, size - 1],
      [`bytes=100-${size + 50}`, 100, size - 1],
    ];
    for (const [header, start, end] of ranges) {
      const response = await edge.fetch(`/v2/hello/blobs/${layer.digest}`, {
        headers: { Range: header },
      });
      assert.equal(response.status, 206, header);
      assert.equal(response.headers.get("content-range"), `bytes ${start}-${end}/${size}`);
      assert.equal(response.headers.get("content-length"), String(end - start + 1));
      assert.deepEqual(
        Buffer.from(await response.arrayBuffer()),
        layer.bytes.subarray(start, end + 1),
      );
    }
    for (const header of [`bytes=${size}-`, "bytes=0-1,5-6", "bytes=x-y"]) {
      const response = await edge.fetch(`/v2/hello/blobs/${layer.digest}`, {
        headers: { Range: header },
      });
      assert.equal(response.status, 416, header);
      assert.equal(response.headers.get("content-range"), `bytes */${size}`);
      assert.equal(((await response.json()) as ErrorBody).errors[0]!.code, "RANGE_INVALID");
    }
    const head = await edge.fetch(`/v2/hello/blobs/${layer.digest}`, { method: "HEAD" });
    assert.equal(head.headers.get("content-length"), String(size));
    assert.equal(head.headers.get("docker-content-digest"), layer.digest);
    assert.equal(head.headers.get("accept-ranges"), "bytes");
    const asked = (await edge.originCalls())
      .slice(since)
      .filter((c) => c.path !== originPaths.usage.path());
    assert.deepEqual(asked, [], "R2 answered");
  });

  it("passes on a full build queue's 429 with the origin's Retry-After", async () => {
    const busy = syntheticImage("busy");
    const scenario = originHolding([hello]);
    await edge.setOrigin({
      ...scenario,
      builds: {
        ...scenario.builds,
        [`${busy.name}:${busy.tag}`]: {
          failure: {
            status: 429,
            error: { code: "TOOMANYREQUESTS", message: "the build queue is full", detail: null },
            retryAfterSeconds: 45,
          },
        },
      },
    });
    try {
      const response = await edge.fetch(`/v2/${busy.name}/manifests/${busy.tag}`);
      assert.equal(response.status, 429);
      assert.equal(response.headers.get("retry-after"), "45");
      assert.equal(response.headers.get("cache-control"), "no-store");
      const body = (await response.json()) as ErrorBody;
      assert.equal(body.errors[0]!.code, "TOOMANYREQUESTS");
    } finally {
      await edge.setOrigin(originHolding([hello]));
    }
  });

  it("reports a manifest served from the edge to the origin once a day", async () => {
    const usage = async () =>
      (await edge.originCalls()).filter((call) => call.path === originPaths.usage.path()).length;
    const before = await usage();
    await edge.advanceClock(24 * 3600 * 1000);
    const get = async () => {
      const response = await edge.fetch("/v2/hello/manifests/latest", {
        headers: { Accept: dockerManifest },
      });
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    };
    await get();
    const kv = await edge.miniflare.getKVNamespace("MANIFESTS");
    await waitFor(
      "a usage mark in KV",
      async () => (await kv.get(`used/${hello.docker.digest}`)) !== null,
    );
    assert.equal(await usage(), before + 1);
    await get();
    await get();
    assert.equal(await usage(), before + 1, "one report a day per manifest");
    assert.ok(!edge.logs.some((line) => line.event === "usage report failed"));
  });
});

describe("an edge whose ORIGIN_URL is wrong, in workerd", () => {
  it("keeps serving what it has and says what is wrong for the rest", async () => {
    const edge = await startWorkerdEdge({ originUrl: "not a url" });
    try {
      const goodbye = syntheticImage("goodbye", { maxAgeSeconds: 0 });
      const bucket = await edge.miniflare.getR2Bucket("BLOBS");
      const kv = await edge.miniflare.getKVNamespace("MANIFESTS");
      for (const manifest of [goodbye.docker, goodbye.oci]) {
        await bucket.put(manifestKey(manifest.digest), new Uint8Array(manifest.bytes), {
          httpMetadata: { contentType: manifest.mediaType },
        });
      }
      for (const blob of [goodbye.config, ...goodbye.layers]) {
        await bucket.put(blobKey(blob.digest), new Uint8Array(blob.bytes));
      }
      const record = tagRecordFrom(goodbye.result, Date.now() - 60_000);
      await kv.put(tagKey("amd64/cacert/goodbye/iana-etc", "latest"), JSON.stringify(record));
      const stale = await edge.fetch("/v2/goodbye/manifests/latest");
      assert.equal(stale.status, 200);
      assert.deepEqual(Buffer.from(await stale.arrayBuffer()), goodbye.docker.bytes);
      const blob = await edge.fetch(`/v2/goodbye/blobs/${goodbye.layers[0]!.digest}`);
      assert.equal(sha256(new Uint8Array(await blob.arrayBuffer())), goodbye.layers[0]!.digest);
      const unknown = await edge.fetch("/v2/hello/jq/manifests/latest");
      assert.equal(unknown.status, 500);
      const body = (await unknown.json()) as ErrorBody;
      assert.match(body.errors[0]!.message, /ORIGIN_URL is not a URL/);
      assert.deepEqual(await edge.originCalls(), []);
    } finally {
      await edge.stop();
    }
  });
});
