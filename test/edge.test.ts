// The edge Worker in real workerd (Miniflare) against a real origin process, through a proxy that
// counts the edge's origin requests and can corrupt blobs or go down: hit and miss paths, backfill
// into KV and R2, digest verification, Range/HEAD/Accept, origin outages and the long-build path.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { blobKey, manifestKey } from "../shared/storage-keys.ts";
import { startOriginProxy, type OriginProxy } from "./support/edge-origin-proxy.ts";
import { startEdgeWorker, type EdgeWorker } from "./support/edge-worker.ts";
import { fixturePackageSet } from "./support/nix-env.ts";
import { startOrigin, type OriginProcess } from "./support/origin-process.ts";

const secret = "edge-test-secret";
const dockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
const ociManifest = "application/vnd.oci.image.manifest.v1+json";
const containerdAccept = `${dockerManifest}, application/vnd.docker.distribution.manifest.list.v2+json, ${ociManifest}, application/vnd.oci.image.index.v1+json, */*`;

interface Manifest {
  mediaType: string;
  config: { digest: string; size: number };
  layers: { digest: string; size: number }[];
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
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

describe("edge worker against a real origin", () => {
  let origin: OriginProcess;
  let proxy: OriginProxy;
  let edge: EdgeWorker;

  before(async () => {
    origin = await startOrigin({ env: { ORIGIN_SECRET: secret } });
    proxy = await startOriginProxy(origin.url);
    edge = await startEdgeWorker({ originUrl: proxy.url, originSecret: secret, pollSeconds: 2 });
  });

  after(async () => {
    await edge?.stop();
    await proxy?.stop();
    await origin?.stop();
  });

  it("serves the start page and JSON errors", async () => {
    const page = await edge.fetch("/");
    assert.equal(page.status, 200);
    const html = await page.text();
    for (const text of ["edge.test/shell/", "arm64", "built on demand"])
      assert.ok(html.includes(text), text);
    // The origin's address stays private.
    assert.ok(!html.includes(new URL(proxy.url).host), "the page names the origin");
    const cases: [string, RequestInit, number, string][] = [
      ["/nowhere", {}, 404, "NOT_FOUND"],
      ["/v2/hello/manifests/latest", { method: "PUT", body: "{}" }, 405, "UNSUPPORTED"],
      ["/v2/Hello/manifests/latest", {}, 400, "NAME_INVALID"],
      ["/v2/hello/blobs/sha256:abc", {}, 400, "DIGEST_INVALID"],
    ];
    for (const [path, init, status, code] of cases) {
      const response = await edge.fetch(path, init);
      assert.equal(response.status, status, path);
      assert.equal(response.headers.get("content-type"), "application/json");
      const body = (await response.json()) as { errors: { code: string }[] };
      assert.equal(body.errors[0]!.code, code, path);
    }
  });

  it("a cold pull builds through the origin and backfills KV and R2", async () => {
    const since = proxy.requests.length;
    const manifest = await pull(edge, "hello");
    assert.equal(proxy.count(/^\/_origin\/builds$/, since), 1);
    const bucket = await edge.miniflare.getR2Bucket("BLOBS");
    for (const blob of [manifest.config, ...manifest.layers]) {
      await waitFor(
        `${blob.digest} in R2`,
        async () => (await bucket.head(blobKey(blob.digest as never))) !== null,
      );
    }
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
  });

  it("lists tags from the origin, paginated by the edge", async () => {
    const since = proxy.requests.length;
    const response = await edge.fetch("/v2/hello/tags/list?n=1");
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { name: "hello", tags: ["latest"] });
    assert.equal(proxy.count(/^\/v2\/hello\/tags\/list$/, since), 1);
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
    const asked = proxy.requests.slice(since).filter((r) => r.path !== "/_origin/usage");
    assert.deepEqual(asked, []);
  });

  it("negotiates Docker and OCI manifests and answers HEAD like GET", async () => {
    const docker = await edge.fetch("/v2/hello/manifests/latest", {
      headers: { Accept: containerdAccept },
    });
    const dockerBytes = new Uint8Array(await docker.arrayBuffer());
    assert.equal(docker.headers.get("content-type"), dockerManifest);
    assert.equal(docker.headers.get("vary"), "Accept");
    assert.match(docker.headers.get("cache-control")!, /^public, max-age=\d+$/);
    const oci = await edge.fetch("/v2/hello/manifests/latest", {
      headers: { Accept: ociManifest },
    });
    const ociBytes = new Uint8Array(await oci.arrayBuffer());
    assert.equal(oci.headers.get("content-type"), ociManifest);
    assert.notEqual(sha256(ociBytes), sha256(dockerBytes));
    const head = await edge.fetch("/v2/hello/manifests/latest", {
      method: "HEAD",
      headers: { Accept: containerdAccept },
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("docker-content-digest"), sha256(dockerBytes));
    assert.equal(head.headers.get("content-length"), String(dockerBytes.byteLength));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    const digest = sha256(ociBytes);
    for (const path of [`/v2/hello/manifests/${digest}`, `/v2/hello/blobs/${digest}`]) {
      const byDigest = await edge.fetch(path);
      assert.equal(byDigest.status, 200, path);
      assert.equal(byDigest.headers.get("content-type"), ociManifest);
      assert.equal(byDigest.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.equal(byDigest.headers.get("etag"), `"${digest}"`);
      assert.equal(sha256(new Uint8Array(await byDigest.arrayBuffer())), digest);
    }
  });

  it("answers Range and HEAD on blobs itself (206, 416)", async () => {
    const manifest = await pull(edge, "hello");
    const layer = manifest.layers.reduce((a, b) => (a.size > b.size ? a : b));
    const whole = new Uint8Array(
      await (await edge.fetch(`/v2/hello/blobs/${layer.digest}`)).arrayBuffer(),
    );
    const ranges: [string, number, number][] = [
      ["bytes=10-19", 10, 19],
      [`bytes=${layer.size - 5}-`, layer.size - 5, layer.size - 1],
      ["bytes=-7", layer.size - 7, layer.size - 1],
      [`bytes=100-${layer.size + 50}`, 100, layer.size - 1],
    ];
    for (const [header, start, end] of ranges) {
      const response = await edge.fetch(`/v2/hello/blobs/${layer.digest}`, {
        headers: { Range: header },
      });
      assert.equal(response.status, 206, header);
      assert.equal(response.headers.get("content-range"), `bytes ${start}-${end}/${layer.size}`);
      assert.equal(response.headers.get("content-length"), String(end - start + 1));
      assert.deepEqual(
        new Uint8Array(await response.arrayBuffer()),
        whole.subarray(start, end + 1),
      );
    }
    for (const header of [`bytes=${layer.size}-`, "bytes=0-1,5-6", "bytes=x-y"]) {
      const response = await edge.fetch(`/v2/hello/blobs/${layer.digest}`, {
        headers: { Range: header },
      });
      assert.equal(response.status, 416, header);
      assert.equal(response.headers.get("content-range"), `bytes */${layer.size}`);
      assert.equal(
        ((await response.json()) as { errors: { code: string }[] }).errors[0]!.code,
        "RANGE_INVALID",
      );
    }
    const head = await edge.fetch(`/v2/hello/blobs/${layer.digest}`, { method: "HEAD" });
    assert.equal(head.headers.get("content-length"), String(layer.size));
    assert.equal(head.headers.get("docker-content-digest"), layer.digest);
    assert.equal(head.headers.get("accept-ranges"), "bytes");
  });

  it("forwards a Range on an R2 miss to the origin and still backfills the blob", async () => {
    const response = await edge.fetch("/v2/goodbye/manifests/latest");
    const manifest = (await response.json()) as Manifest;
    const bucket = await edge.miniflare.getR2Bucket("BLOBS");
    const missing: Manifest["layers"] = [];
    for (const entry of manifest.layers) {
      if (entry.size > 60 && !(await bucket.head(blobKey(entry.digest as never))))
        missing.push(entry);
    }
    const layer = missing[0];
    assert.ok(layer, "goodbye has a layer that hello does not share");
    const since = proxy.requests.length;
    const ranged = await edge.fetch(`/v2/goodbye/blobs/${layer.digest}`, {
      headers: { Range: "bytes=20-59" },
    });
    assert.equal(ranged.status, 206);
    const span = new Uint8Array(await ranged.arrayBuffer());
    assert.equal(span.byteLength, 40);
    assert.ok(proxy.count(/\/blobs\//, since) >= 1);
    await waitFor(
      "the ranged blob in R2",
      async () => (await bucket.head(blobKey(layer.digest as never))) !== null,
    );
    const whole = new Uint8Array(
      await (await edge.fetch(`/v2/goodbye/blobs/${layer.digest}`)).arrayBuffer(),
    );
    assert.equal(sha256(whole), layer.digest);
    assert.deepEqual(span, whole.subarray(20, 60));
  });

  it("concurrent misses for one blob read it from the origin twice, whatever their number", async () => {
    const response = await edge.fetch("/v2/1password/manifests/latest");
    const manifest = (await response.json()) as Manifest;
    const since = proxy.requests.length;
    const results = await Promise.all(
      [1, 2, 3].map(async () => {
        const blob = await edge.fetch(`/v2/1password/blobs/${manifest.config.digest}`);
        return sha256(new Uint8Array(await blob.arrayBuffer()));
      }),
    );
    assert.deepEqual(results, [
      manifest.config.digest,
      manifest.config.digest,
      manifest.config.digest,
    ]);
    // The leader's stream to its client, and its copy into R2 (which the followers wait for).
    assert.equal(proxy.count(/\/blobs\//, since), 2);
  });

  it("refuses a corrupted origin body: the client's stream fails and nothing is stored", async () => {
    const response = await edge.fetch("/v2/jq/manifests/latest");
    const manifest = (await response.json()) as Manifest;
    const layer = manifest.layers.reduce((a, b) => (a.size > b.size ? a : b));
    proxy.corruptBlobs = true;
    try {
      const corrupt = await edge.fetch(`/v2/jq/blobs/${layer.digest}`);
      let received: Uint8Array | null = null;
      await assert.rejects(async () => {
        received = new Uint8Array(await corrupt.arrayBuffer());
      });
      assert.equal(received, null);
      await waitFor("the refusal log line", async () =>
        edge.logs.some(
          (line) => line.event === "blob backfill refused" && line.digest === layer.digest,
        ),
      );
      const bucket = await edge.miniflare.getR2Bucket("BLOBS");
      assert.equal(await bucket.head(blobKey(layer.digest as never)), null);
    } finally {
      proxy.corruptBlobs = false;
    }
    const good = await edge.fetch(`/v2/jq/blobs/${layer.digest}`);
    assert.equal(sha256(new Uint8Array(await good.arrayBuffer())), layer.digest);
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
});

/**
 * The fixture package set plus two packages whose builds sleep 4 s and embed a fresh nonce, so
 * they are never already in the Nix store.
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
in base // { slow = slow "slow-${nonce}"; slower = slow "slower-${nonce}"; }
`,
  );
  return dir;
}

describe("edge worker: long builds and origin outages", () => {
  let pkgsPath: string;
  let origin: OriginProcess;
  let proxy: OriginProxy;
  let edge: EdgeWorker;

  before(async () => {
    pkgsPath = await slowPackageSet();
    origin = await startOrigin({
      pkgsPath,
      env: { ORIGIN_SECRET: secret, NIXERY_TAG_TTL_SECONDS: "1" },
    });
    proxy = await startOriginProxy(origin.url);
    edge = await startEdgeWorker({ originUrl: proxy.url, originSecret: secret, pollSeconds: 1 });
  });

  after(async () => {
    await edge?.stop();
    await proxy?.stop();
    await origin?.stop();
    if (pkgsPath) await rm(pkgsPath, { recursive: true, force: true });
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

  it("gives up after BUILD_DEADLINE_SECONDS with a 503 that says the build continues", async () => {
    const impatient = await startEdgeWorker({
      originUrl: proxy.url,
      originSecret: secret,
      pollSeconds: 1,
      deadlineSeconds: 2,
    });
    try {
      const response = await impatient.fetch("/v2/slower/manifests/latest");
      assert.equal(response.status, 503);
      assert.equal(response.headers.get("retry-after"), "30");
      const body = (await response.json()) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors[0]!.code, "ORIGIN_UNAVAILABLE");
      assert.match(body.errors[0]!.message, /still being built/);
    } finally {
      await impatient.stop();
    }
  });

  it("keeps serving while the origin is down: cached pulls, stale tags, 503 for the unknown", async () => {
    const manifest = await pull(edge, "hello");
    await sleep(1500);
    proxy.setDown(true);
    try {
      const since = proxy.requests.length;
      const stale = await edge.fetch("/v2/hello/manifests/latest");
      assert.equal(stale.status, 200);
      assert.equal(stale.headers.get("x-nixery-stale"), "true");
      assert.match(stale.headers.get("warning")!, /^110 /);
      assert.deepEqual(JSON.parse(await stale.text()), manifest);
      assert.ok(
        edge.logs.some((line) => line.event === "serving stale tag" && line.image === "hello"),
      );
      for (const blob of [manifest.config, ...manifest.layers]) {
        const response = await edge.fetch(`/v2/hello/blobs/${blob.digest}`);
        assert.equal(sha256(new Uint8Array(await response.arrayBuffer())), blob.digest);
      }
      const unknown = await edge.fetch("/v2/goodbye/hello/manifests/latest");
      assert.equal(unknown.status, 503);
      const body = (await unknown.json()) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors[0]!.code, "ORIGIN_UNAVAILABLE");
      assert.match(body.errors[0]!.message, /builder is unreachable/);
      assert.equal(proxy.requests.length, since, "a refused connection is not a request");
    } finally {
      proxy.setDown(false);
    }
    const fresh = await edge.fetch("/v2/hello/manifests/latest");
    assert.equal(fresh.headers.get("x-nixery-stale"), null);
    await fresh.arrayBuffer();
  });
});

describe("edge worker with a misconfigured origin URL", () => {
  it("keeps serving what it has and says what is wrong for the rest", async () => {
    const persistDir = await mkdtemp(join(tmpdir(), "nixery-edge-persist-"));
    const origin = await startOrigin();
    try {
      const first = await startEdgeWorker({ originUrl: origin.url, persistDir });
      const manifest = await pull(first, "goodbye");
      // Backfills finish under waitUntil, after the client has its bytes.
      const blobs = manifest.layers.length + 1;
      await waitFor(
        "the backfills",
        async () => first.logs.filter((line) => line.event === "blob backfilled").length >= blobs,
      );
      await first.stop();

      const broken = await startEdgeWorker({ originUrl: "not a url", persistDir });
      try {
        assert.deepEqual(await pull(broken, "goodbye"), manifest);
        const unknown = await broken.fetch("/v2/hello/jq/manifests/latest");
        assert.equal(unknown.status, 500);
        const body = (await unknown.json()) as { errors: { message: string }[] };
        assert.match(body.errors[0]!.message, /ORIGIN_URL is not a URL/);
      } finally {
        await broken.stop();
      }
    } finally {
      await origin.stop();
      await rm(persistDir, { recursive: true, force: true });
    }
  });
});
