// The tag path at the edge, in workerd against an in-memory origin: Cache API → KV → origin
// (a build started and long-polled), every manifest stored in R2 before the tag record in KV;
// stale answers while the origin is down; what a client gets when the origin cannot answer.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { originPaths } from "../shared/origin-protocol.ts";
import { mediaTypes } from "../shared/media-types.ts";
import { manifestKey } from "../shared/storage-keys.ts";
import { parseTagRecord } from "../shared/tag-record.ts";
import { originHolding, sha256, syntheticImage } from "../test/support/synthetic-image.ts";
import { waitFor } from "../test/support/wait-for.ts";
import { startWorkerdEdge, type WorkerdEdge } from "../test/support/workerd-edge.ts";

const { dockerManifest, ociManifest } = mediaTypes;
const containerdAccept = `${dockerManifest}, ${mediaTypes.dockerManifestList}, ${ociManifest}, ${mediaTypes.ociIndex}, */*`;

interface ErrorBody {
  errors: { code: string; message: string; detail: { reason?: string } | null }[];
}

describe("the tag path in workerd", () => {
  let edge: WorkerdEdge;
  const hello = syntheticImage("hello", { maxAgeSeconds: 600, revision: "rev-1" });

  before(async () => {
    edge = await startWorkerdEdge({ pollSeconds: 2 });
  });
  after(async () => {
    await edge?.stop();
  });

  const callsSince = async (since: number) => (await edge.originCalls()).slice(since);

  it("builds through the origin, polling, and stores the manifests then the tag record", async () => {
    const scenario = originHolding([hello]);
    scenario.builds!["hello:latest"]!.pendingPolls = 3;
    await edge.setOrigin(scenario);
    const since = (await edge.originCalls()).length;
    const response = await edge.fetch("/v2/hello/manifests/latest", {
      headers: { Accept: dockerManifest },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), hello.docker.bytes);
    assert.equal(response.headers.get("docker-content-digest"), hello.docker.digest);
    assert.equal(response.headers.get("nixery-source-revision"), "rev-1");
    const calls = await callsSince(since);
    assert.equal(`${calls[0]?.method} ${calls[0]?.path}`, `POST ${originPaths.builds.path()}`);
    const polls = calls.filter((call) => {
      const [path, query] = call.path.split("?");
      return call.method === "GET" && originPaths.build.match(path!) && query === "wait=2";
    });
    assert.equal(polls.length, 3, "three long polls of POLL_SECONDS each");
    const bucket = await edge.miniflare.getR2Bucket("BLOBS");
    for (const manifest of [hello.docker, hello.oci]) {
      assert.ok(await bucket.head(manifestKey(manifest.digest)), `${manifest.mediaType} in R2`);
    }
    // The canonical name holds the packages every image gets (cacert, iana-etc).
    const kv = await edge.miniflare.getKVNamespace("MANIFESTS");
    const key = "tags/amd64/cacert/hello/iana-etc:latest";
    await waitFor(`the tag record ${key}`, async () => (await kv.get(key)) !== null);
    const record = JSON.parse((await kv.get(key))!) as { manifests: { oci: { digest: string } } };
    assert.equal(record.manifests.oci.digest, hello.oci.digest);
  });

  it("answers again from the Cache API, then from KV and R2, never asking the origin", async () => {
    const since = (await edge.originCalls()).length;
    const cached = await edge.fetch("/v2/hello/manifests/latest", {
      headers: { Accept: dockerManifest },
    });
    assert.deepEqual(Buffer.from(await cached.arrayBuffer()), hello.docker.bytes);
    // Another Accept is another Cache API entry: this one comes from KV and R2.
    const fromKv = await edge.fetch("/v2/hello/manifests/latest", {
      headers: { Accept: ociManifest },
    });
    assert.equal(fromKv.headers.get("content-type"), ociManifest);
    assert.deepEqual(Buffer.from(await fromKv.arrayBuffer()), hello.oci.bytes);
    const byDigest = await edge.fetch(`/v2/hello/manifests/${hello.oci.digest}`);
    assert.deepEqual(Buffer.from(await byDigest.arrayBuffer()), hello.oci.bytes);
    const asked = (await callsSince(since)).filter(
      (call) => call.path !== originPaths.usage.path(),
    );
    assert.deepEqual(asked, []);
  });

  it("asks the origin again once the tag's answer expires", async () => {
    await edge.advanceClock(601_000);
    const since = (await edge.originCalls()).length;
    const response = await edge.fetch("/v2/hello/manifests/latest");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-nixery-stale"), null);
    await response.arrayBuffer();
    assert.ok((await callsSince(since)).some((call) => call.path === originPaths.builds.path()));
  });

  it("serves an expired tag stale while the origin is down, and 503 for what it never saw", async () => {
    await edge.advanceClock(601_000);
    await edge.setOrigin({ ...originHolding([hello]), down: true });
    const stale = await edge.fetch("/v2/hello/manifests/latest", {
      headers: { Accept: dockerManifest },
    });
    assert.equal(stale.status, 200);
    assert.equal(stale.headers.get("x-nixery-stale"), "true");
    assert.match(stale.headers.get("warning")!, /^110 /);
    assert.equal(stale.headers.get("cache-control"), "no-cache");
    assert.deepEqual(Buffer.from(await stale.arrayBuffer()), hello.docker.bytes);
    await edge.waitForLog((line) => line.event === "serving stale tag" && line.image === "hello");
    const unknown = await edge.fetch("/v2/goodbye/hello/manifests/latest");
    assert.equal(unknown.status, 503);
    const body = (await unknown.json()) as ErrorBody;
    assert.equal(body.errors[0]!.code, "ORIGIN_UNAVAILABLE");
    assert.match(body.errors[0]!.message, /builder is unreachable/);
    // Tags come from the origin; while it is down, the edge names `latest`.
    const tags = await edge.fetch("/v2/hello/tags/list");
    assert.deepEqual(await tags.json(), { name: "hello", tags: ["latest"] });
  });

  it("lists tags from the origin, paginated by the edge", async () => {
    const scenario = originHolding([hello]);
    scenario.tagLists = { hello: ["latest", "stable", "unstable"] };
    await edge.setOrigin(scenario);
    const since = (await edge.originCalls()).length;
    const response = await edge.fetch("/v2/hello/tags/list?n=1");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.deepEqual(await response.json(), { name: "hello", tags: ["latest"] });
    const asked = (await callsSince(since)).map((call) => call.path);
    assert.deepEqual(asked, ["/v2/hello/tags/list"], "the whole list, asked once");
  });

  it("passes on the origin's errors: an unknown package, a refused secret", async () => {
    await edge.setOrigin(originHolding([hello]));
    const missing = await edge.fetch("/v2/nosuchpackage/manifests/latest");
    assert.equal(missing.status, 404);
    const body = (await missing.json()) as ErrorBody;
    assert.equal(body.errors[0]!.code, "MANIFEST_UNKNOWN");
    assert.match(body.errors[0]!.message, /nosuchpackage/);
    await edge.setOrigin({ ...originHolding([hello]), secret: "another secret" });
    const refused = await edge.fetch("/v2/hello/jq/manifests/latest");
    assert.equal(refused.status, 503);
    const refusal = (await refused.json()) as ErrorBody;
    assert.equal(refusal.errors[0]!.code, "ORIGIN_UNAVAILABLE");
    assert.match(refusal.errors[0]!.detail!.reason!, /credentials/);
  });
});

describe("an index at the edge, in workerd", () => {
  let edge: WorkerdEdge;
  const multi = syntheticImage("shell", { platforms: ["linux/amd64", "linux/arm64"] });
  const [amd64, arm64] = multi.index!.platforms as [typeof multi, typeof multi];

  before(async () => {
    edge = await startWorkerdEdge();
    await edge.setOrigin(originHolding([multi]));
  });
  after(async () => {
    await edge?.stop();
  });

  it("stores the index and every platform's manifests before the first answer", async () => {
    const response = await edge.fetch("/v2/shell/manifests/latest", {
      headers: { Accept: containerdAccept },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), mediaTypes.dockerManifestList);
    assert.equal(response.headers.get("vary"), "Accept");
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), multi.index!.docker.bytes);
    const kv = await edge.miniflare.getKVNamespace("MANIFESTS");
    // "shell" is a meta-package: the canonical name lists what it stands for.
    const key = "tags/amd64/bashInteractive/cacert/coreutils/iana-etc/moreutils/nano:latest";
    await waitFor(`the tag record ${key}`, async () => (await kv.get(key)) !== null);
    const record = parseTagRecord(await kv.get(key));
    assert.equal(record?.index?.manifests.docker.digest, multi.index!.docker.digest);
    assert.deepEqual(
      record.index.platforms.map((p) => p.platform),
      ["linux/amd64", "linux/arm64"],
    );
    const bucket = await edge.miniflare.getR2Bucket("BLOBS");
    for (const manifest of [
      multi.index!.docker,
      multi.index!.oci,
      amd64.docker,
      amd64.oci,
      arm64.docker,
      arm64.oci,
    ]) {
      assert.ok(await bucket.head(manifestKey(manifest.digest)), manifest.digest);
    }
  });

  it("keys cached answers by what the client takes, and serves them with the origin down", async () => {
    const answers = async () => {
      const result: Record<string, string> = {};
      for (const [client, accept] of [
        ["containerd", containerdAccept],
        ["oci index", `${mediaTypes.ociIndex}, ${ociManifest}`],
        ["docker only", dockerManifest],
        ["oci only", ociManifest],
      ] as const) {
        const response = await edge.fetch("/v2/shell/manifests/latest", {
          headers: { Accept: accept },
        });
        assert.equal(response.status, 200, client);
        result[client] = sha256(new Uint8Array(await response.arrayBuffer()));
      }
      return result;
    };
    const expected = {
      containerd: multi.index!.docker.digest,
      "oci index": multi.index!.oci.digest,
      "docker only": amd64.docker.digest,
      "oci only": amd64.oci.digest,
    };
    assert.deepEqual(await answers(), expected);
    await edge.setOrigin({ ...originHolding([multi]), down: true });
    assert.deepEqual(await answers(), expected);
    const since = (await edge.originCalls()).length;
    for (const platform of [amd64, arm64]) {
      const child = await edge.fetch(`/v2/shell/manifests/${platform.docker.digest}`);
      assert.equal(child.status, 200);
      assert.equal(child.headers.get("content-type"), dockerManifest);
      assert.deepEqual(Buffer.from(await child.arrayBuffer()), platform.docker.bytes);
    }
    const asked = (await edge.originCalls()).slice(since);
    assert.deepEqual(
      asked.filter((call) => call.path !== originPaths.usage.path()),
      [],
      "answered by the edge alone",
    );
  });
});

describe("the edge's deadline for a long build, in workerd", () => {
  it("gives up after BUILD_DEADLINE_SECONDS with a 503 that says the build continues", async () => {
    const edge = await startWorkerdEdge({ pollSeconds: 1, deadlineSeconds: 1 });
    try {
      const slow = syntheticImage("slower");
      const scenario = originHolding([slow]);
      scenario.builds!["slower:latest"]!.pendingPolls = -1;
      await edge.setOrigin(scenario);
      const response = await edge.fetch("/v2/slower/manifests/latest");
      assert.equal(response.status, 503);
      assert.equal(response.headers.get("retry-after"), "30");
      const body = (await response.json()) as ErrorBody;
      assert.equal(body.errors[0]!.code, "ORIGIN_UNAVAILABLE");
      assert.match(body.errors[0]!.message, /still being built/);
    } finally {
      await edge.stop();
    }
  });
});
