// One name, every platform, from the origin: with NIXERY_PLATFORMS=linux/amd64,linux/arm64 a name
// is an image index over an amd64 and an arm64 image, both built here by real Nix (the fixture
// set's aarch64-linux derivations, extra-platforms = aarch64-linux). Each real client pulls the
// platform it asks for; the arm64 binary runs under qemu. A platform that cannot be built fails
// the index, naming it; concurrent pulls build each platform once.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mediaTypes } from "../../shared/media-types.ts";
import { manifestKey } from "../../shared/storage-keys.ts";
import type { Digest } from "../../shared/digest.ts";
import { privatePodman, startContainerd } from "../support/clients.ts";
import { dockerAvailable, startDockerd } from "../support/dockerd.ts";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";
import {
  assertAmd64Rootfs,
  assertArm64Rootfs,
  assertFetchedOnlyPlatform,
  ctrPullPlatform,
  dockerPullArch,
  indexAccept,
  podmanPullArch,
  skopeoPullArch,
  type IndexBody,
} from "../support/platform-pulls.ts";
import { writeProbeSet, type ProbeSet } from "../support/probe-set.ts";

const platforms = { NIXERY_PLATFORMS: "linux/amd64,linux/arm64" };
const docker = await dockerAvailable();

async function getManifest(url: string, accept: string) {
  const response = await fetch(url, { headers: { Accept: accept } });
  const text = await response.text();
  return { response, text, json: JSON.parse(text) as Record<string, unknown> };
}

describe("one name for amd64 and arm64, from the origin", () => {
  let origin: OriginProcess;
  let work: string;
  let host: string;

  before(async () => {
    origin = await startOrigin({ env: platforms });
    host = `127.0.0.1:${origin.port}`;
    work = await mkdtemp(join(tmpdir(), "nixery-multi-arch-"));
  });
  after(async () => {
    await origin?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("answers an index to clients that accept one, the host's manifest to the others", async () => {
    const url = `${origin.url}/v2/shell/hello/manifests/latest`;
    const list = await getManifest(url, indexAccept);
    assert.equal(list.response.status, 200, list.text);
    assert.equal(list.response.headers.get("content-type"), mediaTypes.dockerManifestList);
    assert.equal(list.response.headers.get("vary"), "Accept");
    const index = list.json as unknown as IndexBody;
    assert.deepEqual(
      index.manifests.map((entry) => entry.platform),
      [
        { architecture: "amd64", os: "linux" },
        { architecture: "arm64", os: "linux", variant: "v8" },
      ],
    );
    // Every child exists, with the architecture its entry says.
    for (const entry of index.manifests) {
      const child = await getManifest(`${origin.url}/v2/shell/hello/manifests/${entry.digest}`, "");
      assert.equal(child.response.status, 200);
      assert.equal(child.response.headers.get("content-type"), mediaTypes.dockerManifest);
      assert.equal(Number(child.response.headers.get("content-length")), entry.size);
      const configDigest = (child.json.config as { digest: string }).digest;
      const config = (await (
        await fetch(`${origin.url}/v2/shell/hello/blobs/${configDigest}`)
      ).json()) as { architecture: string };
      assert.equal(config.architecture, entry.platform.architecture);
    }

    const oci = await getManifest(url, `${mediaTypes.ociManifest}, ${mediaTypes.ociIndex}`);
    assert.equal(oci.response.headers.get("content-type"), mediaTypes.ociIndex);
    assert.deepEqual(
      (oci.json as unknown as IndexBody).manifests.map((entry) => entry.mediaType),
      [mediaTypes.ociManifest, mediaTypes.ociManifest],
    );

    const single = await getManifest(url, mediaTypes.dockerManifest);
    assert.equal(single.response.headers.get("content-type"), mediaTypes.dockerManifest);
    assert.equal(single.response.headers.get("docker-content-digest"), index.manifests[0]!.digest);

    // HEAD agrees with GET; `arm64/…` is the index's arm64 image, not a build of its own.
    const head = await fetch(url, { method: "HEAD", headers: { Accept: indexAccept } });
    assert.equal(
      head.headers.get("docker-content-digest"),
      list.response.headers.get("docker-content-digest"),
    );
    const arm64 = await getManifest(`${origin.url}/v2/arm64/shell/hello/manifests/latest`, "");
    assert.equal(arm64.response.headers.get("docker-content-digest"), index.manifests[1]!.digest);
    assert.equal(origin.logs.filter((l) => l.event === "build started").length, 2);
  });

  it("skopeo pulls each platform; the arm64 binary runs only under qemu", async () => {
    await assertArm64Rootfs(await skopeoPullArch(host, "shell/hello:latest", "arm64", work));
    await assertAmd64Rootfs(await skopeoPullArch(host, "shell/hello:latest", "amd64", work));
  });

  it("podman pulls the platform it asks for", async () => {
    const podman = await privatePodman();
    try {
      const image = `${host}/shell/hello:latest`;
      assert.equal(await podmanPullArch(podman, image, "linux/arm64"), "arm64");
      assert.equal(await podmanPullArch(podman, image, "linux/amd64"), "amd64");
    } finally {
      await podman.cleanup();
    }
  });

  it("containerd pulls only the platform it asks for (its layers, none of the other's)", async () => {
    const index = (await getManifest(`${origin.url}/v2/shell/hello/manifests/latest`, indexAccept))
      .json as unknown as IndexBody;
    const [amd64, arm64] = index.manifests;
    const containerd = await startContainerd();
    try {
      const content = await ctrPullPlatform(
        containerd,
        `${host}/shell/hello:latest`,
        "linux/arm64",
      );
      await assertFetchedOnlyPlatform(
        content,
        origin.url,
        "shell/hello",
        arm64!.digest,
        amd64!.digest,
      );
    } finally {
      await containerd.stop();
    }
  });

  it(
    "docker pulls the platform it asks for",
    { skip: !docker && "needs root and dockerd (docker.io)" },
    async () => {
      const dockerd = await startDockerd([host]);
      try {
        const image = `${host}/shell/hello:latest`;
        assert.equal(await dockerPullArch(dockerd, image, "linux/arm64"), "arm64");
        assert.equal(await dockerPullArch(dockerd, image, "linux/amd64"), "amd64");
      } finally {
        await dockerd.stop();
      }
    },
  );

  it("restores a collected index with the same digest", async () => {
    const url = `${origin.url}/v2/shell/hello/manifests/latest`;
    const list = await getManifest(url, indexAccept);
    const digest = list.response.headers.get("docker-content-digest") as Digest;
    await unlink(join(origin.dataDir, "storage", manifestKey(digest)));
    const again = await fetch(`${origin.url}/v2/shell/hello/manifests/${digest}`);
    assert.equal(again.status, 200);
    assert.equal(await again.text(), list.text);
  });

  it("says on the start page what it builds", async () => {
    const page = await (await fetch(`${origin.url}/`)).text();
    assert.match(page, /<code>linux\/amd64<\/code>, <code>linux\/arm64<\/code>/);
  });
});

describe("an index is all its platforms or nothing", () => {
  let probes: ProbeSet;
  let confDir: string;
  let origin: OriginProcess;
  let noArm: OriginProcess;

  before(async () => {
    probes = await writeProbeSet();
    // The tests' Nix settings without extra-platforms: this Nix cannot build aarch64-linux.
    confDir = await mkdtemp(join(tmpdir(), "nixery-no-arm-"));
    await mkdir(confDir, { recursive: true });
    await writeFile(
      join(confDir, "nix.conf"),
      "build-users-group =\nsandbox = false\nsubstituters =\nconnect-timeout = 5\n",
    );
    origin = await startOrigin({ pkgsPath: probes.path, env: platforms });
    noArm = await startOrigin({
      pkgsPath: probes.path,
      env: { ...platforms, NIX_CONF_DIR: confDir },
    });
  });
  after(async () => {
    await origin?.stop();
    await noArm?.stop();
    await probes?.remove();
    if (confDir) await rm(confDir, { recursive: true, force: true });
  });

  it("builds each platform once for concurrent pulls of the index and of arm64/…", async () => {
    const pulls = [
      ...Array.from({ length: 4 }, () =>
        getManifest(`${origin.url}/v2/probe/manifests/latest`, indexAccept),
      ),
      ...Array.from({ length: 2 }, () =>
        getManifest(`${origin.url}/v2/arm64/probe/manifests/latest`, indexAccept),
      ),
    ];
    const answers = await Promise.all(pulls);
    for (const answer of answers) assert.equal(answer.response.status, 200, answer.text);
    const started = origin.logs.filter((l) => l.event === "build started").map((l) => l.image);
    assert.deepEqual(started.sort(), ["arm64/probe", "probe"]);
    const index = answers[0]!.json as unknown as IndexBody;
    assert.equal(
      answers[4]!.response.headers.get("docker-content-digest"),
      index.manifests[1]!.digest,
    );
  });

  it("fails the index, naming the platform, when one platform cannot be built", async () => {
    const failed = await getManifest(`${noArm.url}/v2/probe2/manifests/latest`, indexAccept);
    assert.equal(failed.response.status, 404, failed.text);
    assert.equal(failed.response.headers.get("content-type"), "application/json");
    const [error] = (
      failed.json as {
        errors: { code: string; message: string; detail: Record<string, unknown> }[];
      }
    ).errors;
    assert.equal(error!.code, "MANIFEST_UNKNOWN");
    assert.match(
      error!.message,
      /^the linux\/arm64 image failed, and an index is served only when every platform builds: /,
    );
    assert.match(error!.message, /aarch64-linux/);
    assert.deepEqual(error!.detail.failedPlatforms, ["linux/arm64"]);
    // No partial index was stored (the amd64 image was: it is complete by itself).
    const dir = join(noArm.dataDir, "storage", "manifests", "sha256");
    const stored = await Promise.all(
      (await readdir(dir)).map(async (file) => JSON.parse(await readFile(join(dir, file), "utf8"))),
    );
    assert.deepEqual(stored.map((manifest: { mediaType: string }) => manifest.mediaType).sort(), [
      mediaTypes.dockerManifest,
      mediaTypes.ociManifest,
    ]);
    assert.equal(noArm.logs.filter((l) => l.event === "build failed").length, 1);
    // Repeated from memory, without another Nix process.
    const again = await getManifest(`${noArm.url}/v2/probe2/manifests/latest`, indexAccept);
    assert.equal(again.response.status, 404);
    assert.equal(noArm.logs.filter((l) => l.event === "build failed").length, 1);
  });
});
