// One name, every platform, through the edge: the local stack (origin process + edge in workerd)
// with NIXERY_PLATFORMS=linux/amd64,linux/arm64. The edge answers an index only once it holds every
// manifest the index lists; skopeo, podman, containerd and docker pull the platform they ask for
// through it, the arm64 binary runs under qemu; with the origin stopped, the edge still serves the
// index and its arm64 image from its tag record, R2 and the Cache API.

import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { mediaTypes } from "../shared/media-types.ts";
import { privatePodman, startContainerd } from "./support/clients.ts";
import { dockerAvailable, startDockerd } from "./support/dockerd.ts";
import { localStackEnv, startLocalStack, type LocalStack } from "./support/edge-stack.ts";
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
} from "./support/platform-pulls.ts";

const docker = await dockerAvailable();

describe("one name for amd64 and arm64, through the edge", () => {
  let work: string;
  let stack: LocalStack;
  let edge: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "nixery-edge-multi-arch-"));
    stack = await startLocalStack(
      await localStackEnv(join(work, "data"), { NIXERY_PLATFORMS: "linux/amd64,linux/arm64" }),
    );
    edge = `http://${stack.edgeHost}`;
  });
  after(async () => {
    await stack?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("answers an index it holds every child of, and single manifests to the others", async () => {
    const response = await fetch(`${edge}/v2/shell/hello/manifests/latest`, {
      headers: { Accept: indexAccept },
    });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    assert.equal(response.headers.get("content-type"), mediaTypes.dockerManifestList);
    const index = JSON.parse(text) as IndexBody;
    assert.deepEqual(
      index.manifests.map((entry) => entry.platform.architecture),
      ["amd64", "arm64"],
    );
    // The edge stored every manifest the answer names before it answered.
    const backfilled = stack.output.filter((line) => line.includes('"manifest backfilled"'));
    for (const entry of index.manifests) {
      assert.ok(
        backfilled.some((line) => line.includes(entry.digest)),
        `${entry.digest} is at the edge`,
      );
    }
    const oci = await fetch(`${edge}/v2/shell/hello/manifests/latest`, {
      headers: { Accept: `${mediaTypes.ociManifest}, ${mediaTypes.ociIndex}` },
    });
    assert.equal(oci.headers.get("content-type"), mediaTypes.ociIndex);
    await oci.arrayBuffer();
    const single = await fetch(`${edge}/v2/shell/hello/manifests/latest`, {
      headers: { Accept: mediaTypes.dockerManifest },
    });
    assert.equal(single.headers.get("content-type"), mediaTypes.dockerManifest);
    assert.equal(single.headers.get("docker-content-digest"), index.manifests[0]!.digest);
    await single.arrayBuffer();
  });

  it("skopeo pulls each platform through the edge; the arm64 binary runs under qemu", async () => {
    await assertArm64Rootfs(
      await skopeoPullArch(stack.edgeHost, "shell/hello:latest", "arm64", work),
    );
    await assertAmd64Rootfs(
      await skopeoPullArch(stack.edgeHost, "shell/hello:latest", "amd64", work),
    );
  });

  it("podman and containerd pull the platform they ask for through the edge", async () => {
    const image = `${stack.edgeHost}/shell/hello:latest`;
    const podman = await privatePodman();
    try {
      assert.equal(await podmanPullArch(podman, image, "linux/arm64"), "arm64");
    } finally {
      await podman.cleanup();
    }
    const index = (await (
      await fetch(`${edge}/v2/shell/hello/manifests/latest`, { headers: { Accept: indexAccept } })
    ).json()) as IndexBody;
    const containerd = await startContainerd();
    try {
      const content = await ctrPullPlatform(containerd, image, "linux/arm64");
      const [amd64, arm64] = index.manifests;
      await assertFetchedOnlyPlatform(content, edge, "shell/hello", arm64!.digest, amd64!.digest);
    } finally {
      await containerd.stop();
    }
  });

  it(
    "docker pulls the platform it asks for through the edge",
    { skip: !docker && "needs root and dockerd (docker.io)" },
    async () => {
      const dockerd = await startDockerd([stack.edgeHost]);
      try {
        const image = `${stack.edgeHost}/shell/hello:latest`;
        assert.equal(await dockerPullArch(dockerd, image, "linux/arm64"), "arm64");
      } finally {
        await dockerd.stop();
      }
    },
  );

  it("serves the index and the arm64 image with the origin stopped", async () => {
    // Let the edge finish copying what it streamed into R2 (every layer and config of the image).
    const layout = join(work, "skopeo-arm64");
    const blobs = (await readdir(join(layout, "blobs/sha256"))).length - 1;
    for (let i = 0; i < 200; i++) {
      if (stack.output.filter((line) => line.includes('"blob backfilled"')).length >= blobs) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    process.kill(stack.originPid, "SIGTERM");
    await stack.waitForLine(/the origin exited/);

    const response = await fetch(`${edge}/v2/shell/hello/manifests/latest`, {
      headers: { Accept: indexAccept },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), mediaTypes.dockerManifestList);
    await response.arrayBuffer();
    await mkdir(join(work, "again"));
    await assertArm64Rootfs(
      await skopeoPullArch(stack.edgeHost, "shell/hello:latest", "arm64", join(work, "again")),
    );
  });
});
