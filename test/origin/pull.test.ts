// End to end on the origin alone: real Nix builds the offline fixture set, skopeo pulls the
// image, umoci unpacks it, and a program from it runs; containerd's ctr pulls it too.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { lstat, mkdtemp, readFile, readlink, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mediaTypes } from "../../shared/media-types.ts";
import { runInRootfs, skopeoCopy, startContainerd, umociUnpack } from "../support/clients.ts";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";

describe("pulling from the origin", () => {
  let origin: OriginProcess;
  let work: string;
  let host: string;

  before(async () => {
    origin = await startOrigin({ env: { NIXERY_BIG_PATH_BYTES: "10000000" } });
    host = `127.0.0.1:${origin.port}`;
    work = await mkdtemp(join(tmpdir(), "nixery-pull-"));
  });
  after(async () => {
    await origin?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("skopeo pulls shell/hello, umoci unpacks it, and its programs run", async () => {
    const layout = join(work, "shell-hello");
    const copy = await skopeoCopy(host, "shell/hello:latest", layout);
    assert.equal(copy.code, 0, copy.stderr);
    const rootfs = await umociUnpack(layout, join(work, "bundle"));

    const hello = await runInRootfs(rootfs, ["/bin/hello"]);
    assert.equal(hello.code, 0, hello.stderr);
    assert.equal(hello.stdout.trim(), "hello: greetings from libgreet");

    const bash = await runInRootfs(rootfs, [
      "/bin/bash",
      "-c",
      "echo from bash; /usr/bin/env true && echo env ok",
    ]);
    assert.equal(bash.stdout, "from bash\nenv ok\n", bash.stderr);

    assert.equal(((await stat(join(rootfs, "tmp"))).mode & 0o7777).toString(8), "1777");
    assert.ok((await lstat(join(rootfs, "usr/bin/env"))).isSymbolicLink());
    assert.match(
      await readlink(join(rootfs, "usr/bin/env")),
      /^\/nix\/store\/[a-z0-9]{32}-coreutils-9\.1\/bin\/env$/,
    );
    assert.match(
      await readFile(join(rootfs, "etc/ssl/certs/ca-bundle.crt"), "utf8"),
      /Fixture CA bundle/,
    );
    assert.match(await readFile(join(rootfs, "etc/services"), "utf8"), /https 443/);
    assert.match(await readFile(join(rootfs, "etc/passwd"), "utf8"), /^root:x:0:0:/m);
    assert.match(await readFile(join(rootfs, "etc/passwd"), "utf8"), /^nobody:x:65534:65534:/m);

    const config = JSON.parse(await readFile(join(work, "bundle/config.json"), "utf8"));
    assert.deepEqual(config.process.args, ["bash"]);
    assert.ok(config.process.env.includes("SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"));
  });

  it("serves the manifest with exact headers, and HEAD of a cached manifest does not build", async () => {
    const url = `${origin.url}/v2/shell/hello/manifests/latest`;
    const get = await fetch(url);
    assert.equal(get.status, 200);
    assert.equal(get.headers.get("content-type"), mediaTypes.dockerManifest);
    const body = new Uint8Array(await get.arrayBuffer());
    assert.equal(get.headers.get("content-length"), String(body.byteLength));
    const digest = get.headers.get("docker-content-digest");
    assert.match(digest ?? "", /^sha256:[a-f0-9]{64}$/);
    const manifest = JSON.parse(new TextDecoder().decode(body));
    assert.ok(manifest.layers.length >= 3, "closure is split into several layers");

    const buildsBefore = origin.logs.filter((l) => l.event === "build started").length;
    const head = await fetch(url, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("docker-content-digest"), digest);
    assert.equal(head.headers.get("content-length"), String(body.byteLength));
    assert.equal(origin.logs.filter((l) => l.event === "build started").length, buildsBefore);

    const byDigest = await fetch(`${origin.url}/v2/shell/hello/manifests/${digest}`);
    assert.equal(byDigest.status, 200);
    assert.equal(byDigest.headers.get("content-type"), mediaTypes.dockerManifest);
    assert.deepEqual(new Uint8Array(await byDigest.arrayBuffer()), body);
    const asBlob = await fetch(`${origin.url}/v2/shell/hello/blobs/${digest}`);
    assert.equal(asBlob.status, 200);
    assert.equal(asBlob.headers.get("content-type"), mediaTypes.dockerManifest);
    await asBlob.arrayBuffer();
  });

  it("builds one image for every order of the same packages", async () => {
    const first = await fetch(`${origin.url}/v2/goodbye/hello/manifests/latest`);
    assert.equal(first.status, 200);
    const builds = origin.logs.filter((l) => l.event === "build started").length;
    const second = await fetch(`${origin.url}/v2/hello/goodbye/manifests/latest`);
    assert.equal(
      second.headers.get("docker-content-digest"),
      first.headers.get("docker-content-digest"),
    );
    assert.equal(origin.logs.filter((l) => l.event === "build started").length, builds);
    await Promise.all([first.arrayBuffer(), second.arrayBuffer()]);
  });

  it("reports builds, cache hits and layer reuse at /metrics", async () => {
    const response = await fetch(`${origin.url}/metrics`);
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.match(text, /^nixery_builds_total\{outcome="success"\} [1-9]/m);
    assert.match(text, /^nixery_manifest_cache_total\{result="hit"\} [1-9]/m);
    assert.match(text, /^nixery_layers_total\{result="packed"\} [1-9]/m);
    assert.match(text, /^nixery_builds_running 0$/m);
  });

  it("negotiates OCI for clients that accept only OCI", async () => {
    const oci = await fetch(`${origin.url}/v2/hello/manifests/latest`, {
      headers: { Accept: `${mediaTypes.ociManifest}, ${mediaTypes.ociIndex}` },
    });
    assert.equal(oci.status, 200);
    assert.equal(oci.headers.get("content-type"), mediaTypes.ociManifest);
    assert.match(oci.headers.get("vary") ?? "", /Accept/);
    const manifest = JSON.parse(await oci.text());
    assert.equal(manifest.mediaType, mediaTypes.ociManifest);
    assert.equal(manifest.layers[0].mediaType, mediaTypes.ociLayer);
    const docker = await fetch(`${origin.url}/v2/hello/manifests/latest`);
    assert.notEqual(
      docker.headers.get("docker-content-digest"),
      oci.headers.get("docker-content-digest"),
    );
    await docker.arrayBuffer();
  });

  it("serves blob ranges (206) and refuses unsatisfiable ones (416)", async () => {
    const manifest = JSON.parse(
      await (await fetch(`${origin.url}/v2/hello/manifests/latest`)).text(),
    );
    const layer = manifest.layers[0];
    const url = `${origin.url}/v2/hello/blobs/${layer.digest}`;
    const whole = new Uint8Array(await (await fetch(url)).arrayBuffer());
    assert.equal(whole.byteLength, layer.size);

    const part = await fetch(url, { headers: { Range: "bytes=10-" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), `bytes 10-${layer.size - 1}/${layer.size}`);
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), whole.subarray(10));

    const head = await fetch(url, { method: "HEAD" });
    assert.equal(head.headers.get("content-length"), String(layer.size));
    assert.equal(head.headers.get("docker-content-digest"), layer.digest);
    assert.equal(head.headers.get("accept-ranges"), "bytes");

    const bad = await fetch(url, { headers: { Range: `bytes=${layer.size}-` } });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers.get("content-range"), `bytes */${layer.size}`);
    const body = (await bad.json()) as { errors: { code: string }[] };
    assert.equal(body.errors[0]!.code, "RANGE_INVALID");
  });

  it("lifts a big path into its own layer", async () => {
    const response = await fetch(`${origin.url}/v2/bigdata/hello/manifests/latest`);
    assert.equal(response.status, 200, await response.clone().text());
    const manifest = JSON.parse(await response.text());
    const sizes = manifest.layers.map((layer: { size: number }) => layer.size);
    assert.ok(
      sizes.some((size: number) => size > 5_000_000),
      `a big layer in ${sizes}`,
    );
  });

  it("containerd's ctr pulls (HEAD by tag, then GET by digest) and runs a command by name", async () => {
    const containerd = await startContainerd();
    try {
      const reference = `${host}/shell/hello:latest`;
      const pull = await containerd.pull(reference);
      assert.equal(pull.code, 0, pull.stderr + pull.stdout);
      // containerd adds no PATH of its own when the image's Env has any entry: the image's PATH
      // must find `hello` in /bin, as Kubernetes would run it.
      const run = await containerd.run(reference, ["hello"]);
      assert.equal(run.code, 0, run.stderr + run.stdout);
      assert.match(run.stdout, /hello: greetings from libgreet/);
    } finally {
      await containerd.stop();
    }
  });
});
