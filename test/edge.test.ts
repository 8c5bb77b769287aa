// The edge Worker in real workerd (Miniflare) against a real origin process, through a proxy that
// counts the edge's origin requests: the seams between them, each crossed once by a real pull (a
// cold pull backfilling KV and R2, a Range forwarded on a miss, tag lists, usage reports, the
// origin's errors and refusals, a long build polled across requests). Every branch of the edge's
// own logic is tested in workerd against an in-memory origin, beside the code (worker/*.test.ts).

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { originPaths } from "../shared/origin-protocol.ts";
import { blobKey, manifestKey } from "../shared/storage-keys.ts";
import { startOriginProxy, type OriginProxy } from "./support/edge-origin-proxy.ts";
import { startEdgeWorker, type EdgeWorker } from "./support/edge-worker.ts";
import { fixturePackageSet } from "./support/nix-env.ts";
import { startOrigin, type OriginProcess } from "./support/origin-process.ts";
import { waitFor } from "./support/wait-for.ts";

const secret = "edge-test-secret";
const dockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
const ociManifest = "application/vnd.oci.image.manifest.v1+json";

interface Manifest {
  mediaType: string;
  config: { digest: string; size: number };
  layers: { digest: string; size: number }[];
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Pulls a whole image the way skopeo does and checks every digest; returns the manifest. */
async function pull(edge: EdgeWorker, name: string, accept = dockerManifest): Promise<Manifest> {
  const response = await edge.fetch(`/v2/${name}/manifests/latest`, {
    headers: { Accept: accept },
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  assert.equal(response.status, 200, new TextDecoder().decode(bytes));
  assert.equal(response.headers.get("docker-content-digest"), sha256(bytes));
  const manifest = JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
  assert.equal(response.headers.get("content-type"), manifest.mediaType);
  for (const blob of [manifest.config, ...manifest.layers]) {
    const blobResponse = await edge.fetch(`/v2/${name}/blobs/${blob.digest}`);
    assert.equal(blobResponse.status, 200);
    const body = new Uint8Array(await blobResponse.arrayBuffer());
    assert.equal(sha256(body), blob.digest);
    assert.equal(blobResponse.headers.get("content-length"), String(blob.size));
  }
  return manifest;
}

/**
 * The fixture package set plus a package whose build sleeps 4 s and embeds a fresh nonce, so
 * it is never already in the Nix store.
 */
async function slowPackageSet(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "nixery-slow-pkgs-"));
  const nonce = randomBytes(8).toString("hex");
  await writeFile(
    join(dir, "default.nix"),
    `args@{ system ? builtins.currentSystem, ... }:
let
  base = import ${fixturePackageSet}/default.nix args;
  slow = name: derivation {
    inherit name system;
    builder = "\${base.busybox}/bin/sh";
    args = [ "-e" "-c" "sleep 4; mkdir -p $out/bin; echo ${nonce} > $out/nonce; echo '#!\${base.busybox}/bin/sh' > $out/bin/slow; chmod 555 $out/bin/slow" ];
    PATH = "\${base.busybox}/bin";
  } // { meta = { }; };
in base // { slow = slow "slow-${nonce}"; }
`,
  );
  return dir;
}

describe("edge worker against a real origin", () => {
  let origin: OriginProcess;
  let proxy: OriginProxy;
  let edge: EdgeWorker;

  let pkgsPath: string;

  before(async () => {
    pkgsPath = await slowPackageSet();
    origin = await startOrigin({ pkgsPath, env: { ORIGIN_SECRET: secret } });
    proxy = await startOriginProxy(origin.url);
    edge = await startEdgeWorker({ originUrl: proxy.url, originSecret: secret, pollSeconds: 1 });
  });

  after(async () => {
    await edge?.stop();
    await proxy?.stop();
    await origin?.stop();
    if (pkgsPath) await rm(pkgsPath, { recursive: true, force: true });
  });

  it("a cold pull builds through the origin and backfills KV and R2", async () => {
    const since = proxy.requests.length;
    // A span of the largest layer before it is at the edge: forwarded to the origin.
    const first = await edge.fetch("/v2/hello/manifests/latest", {
      headers: { Accept: dockerManifest },
    });
    const layer = ((await first.json()) as Manifest).layers.reduce((a, b) =>
      a.size > b.size ? a : b,
    );
    const ranged = await edge.fetch(`/v2/hello/blobs/${layer.digest}`, {
      headers: { Range: "bytes=20-59" },
    });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get("content-range"), `bytes 20-59/${layer.size}`);
    const span = new Uint8Array(await ranged.arrayBuffer());
    const manifest = await pull(edge, "hello");
    assert.equal(proxy.count(/^\/_origin\/builds$/, since), 1);
    const bucket = await edge.miniflare.getR2Bucket("BLOBS");
    for (const blob of [manifest.config, ...manifest.layers]) {
      await waitFor(
        `${blob.digest} in R2`,
        async () => (await bucket.head(blobKey(blob.digest as never))) !== null,
      );
    }
    const stored = await bucket.get(blobKey(layer.digest as never));
    assert.deepEqual(new Uint8Array(await stored!.arrayBuffer()).subarray(20, 60), span);
    const response = await edge.fetch("/v2/hello/manifests/latest");
    const digest = response.headers.get("docker-content-digest")!;
    assert.ok(await bucket.head(manifestKey(digest as never)));
    const kv = await edge.miniflare.getKVNamespace("MANIFESTS");
    const keys = (await kv.list()).keys.map((key) => key.name);
    assert.ok(keys.includes("tags/amd64/cacert/hello/iana-etc:latest"), keys.join());
    const record = JSON.parse((await kv.get("tags/amd64/cacert/hello/iana-etc:latest"))!) as {
      manifests: { docker: { digest: string }; oci: { digest: string } };
    };
    assert.equal(record.manifests.docker.digest, digest);
    // Both flavours are stored, so either can be served while the origin is down.
    assert.ok(await bucket.head(manifestKey(record.manifests.oci.digest as never)));
    // Tags come from the origin, paginated by the edge.
    const tags = await edge.fetch("/v2/hello/tags/list?n=1");
    assert.equal(tags.status, 200);
    assert.deepEqual(await tags.json(), { name: "hello", tags: ["latest"] });
  });

  it("a warm pull does not touch the origin", async () => {
    const since = proxy.requests.length;
    const manifest = await pull(edge, "hello");
    await pull(edge, "hello", ociManifest);
    const byDigest = await edge.fetch(
      `/v2/hello/manifests/${sha256(new TextEncoder().encode(JSON.stringify(manifest, null, 2)))}`,
    );
    await byDigest.arrayBuffer();
    const head = await edge.fetch(`/v2/hello/blobs/${manifest.layers[0]!.digest}`, {
      method: "HEAD",
    });
    assert.equal(head.status, 200);
    // Only the day's usage reports (under waitUntil) may reach the origin: no build, no read.
    const asked = proxy.requests.slice(since).filter((r) => r.path !== originPaths.usage.path());
    assert.deepEqual(asked, []);
    // The origin took the edge's report of the manifest it served: the day's mark is in KV.
    const kv = await edge.miniflare.getKVNamespace("MANIFESTS");
    const docker = await edge.fetch("/v2/hello/manifests/latest", {
      headers: { Accept: dockerManifest },
    });
    const reported = docker.headers.get("docker-content-digest")!;
    await docker.arrayBuffer();
    await waitFor("the usage mark", async () => (await kv.get(`used/${reported}`)) !== null);
    assert.ok(!edge.logs.some((line) => line.event === "usage report failed"));
  });

  it("says the builder is unreachable when the origin refuses the edge's secret", async () => {
    const stranger = await startEdgeWorker({ originUrl: proxy.url, originSecret: "wrong" });
    try {
      const response = await stranger.fetch("/v2/hello/manifests/latest");
      assert.equal(response.status, 503);
      const body = (await response.json()) as {
        errors: { code: string; detail: { reason: string } }[];
      };
      assert.equal(body.errors[0]!.code, "ORIGIN_UNAVAILABLE");
      assert.match(body.errors[0]!.detail.reason, /credentials/);
    } finally {
      await stranger.stop();
    }
  });

  it("passes on the origin's 404 for packages that do not exist", async () => {
    const response = await edge.fetch("/v2/nosuchpackage/manifests/latest");
    assert.equal(response.status, 404);
    const body = (await response.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]!.code, "MANIFEST_UNKNOWN");
    assert.match(body.errors[0]!.message, /nosuchpackage/);
  });

  it("one manifest request waits across several polls for a long build; concurrent ones share it", async () => {
    const since = proxy.requests.length;
    const started = Date.now();
    const responses = await Promise.all([1, 2].map(() => edge.fetch("/v2/slow/manifests/latest")));
    const elapsed = Date.now() - started;
    const digests = [];
    for (const response of responses) {
      const bytes = new Uint8Array(await response.arrayBuffer());
      assert.equal(response.status, 200, new TextDecoder().decode(bytes));
      digests.push(sha256(bytes));
    }
    assert.equal(digests[0], digests[1]);
    assert.ok(elapsed >= 4000, `the build sleeps 4 s, answered after ${elapsed} ms`);
    // Each edge request asks the origin itself (nothing is shared across requests in the
    // Worker); the origin's job table runs one build for both.
    assert.equal(proxy.count(/^\/_origin\/builds$/, since), 2, "each request asks the origin");
    const builds = origin.logs.filter(
      (line) => line.event === "build started" && line.image === "slow",
    );
    assert.equal(builds.length, 1, "one build ran");
    assert.ok(
      proxy.count(/^\/_origin\/builds\/[^?]+\?wait=1$/, since) >= 2,
      "polled in 1 s requests",
    );
  });
});
