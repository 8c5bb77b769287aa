// Real clients pulling one platform of a multi-platform name, and proof of what they got: the
// same checks against the origin and the edge (test/origin/multi-arch.test.ts,
// test/edge-multi-arch.test.ts). An arm64 image's busybox is an AArch64 ELF that this machine
// cannot execute and qemu-user-static runs.

import assert from "node:assert/strict";
import { access, copyFile, open, readlink } from "node:fs/promises";
import { join } from "node:path";
import { mediaTypes } from "../../shared/media-types.ts";
import { command, runInRootfs, umociUnpack, type Containerd, type Podman } from "./clients.ts";
import type { Dockerd } from "./dockerd.ts";

/** What containers/image and containerd send: every manifest and index type. */
export const indexAccept = [
  mediaTypes.ociManifest,
  mediaTypes.ociIndex,
  mediaTypes.dockerManifest,
  mediaTypes.dockerManifestList,
].join(", ");

export interface IndexBody {
  mediaType: string;
  manifests: {
    mediaType: string;
    digest: string;
    size: number;
    platform: { architecture: string; os: string; variant?: string };
  }[];
}

/** The ELF machine of a file: 62 is x86-64, 183 AArch64. */
async function elfMachine(path: string): Promise<number> {
  const file = await open(path, "r");
  try {
    const header = Buffer.alloc(20);
    await file.read(header, 0, 20, 0);
    assert.equal(header.subarray(0, 4).toString("latin1"), "\x7fELF", `${path} is an ELF file`);
    return header.readUInt16LE(18);
  } finally {
    await file.close();
  }
}

/** Follows absolute symlinks inside a rootfs (as the image's own root would). */
async function resolveInRootfs(rootfs: string, path: string): Promise<string> {
  let current = path;
  for (let hops = 0; hops < 20; hops++) {
    const target = await readlink(join(rootfs, current)).catch(() => null);
    if (target === null) return join(rootfs, current);
    current = target.startsWith("/") ? target : join(current, "..", target);
  }
  throw new Error(`too many symlinks at ${path}`);
}

/**
 * The static qemu for AArch64: qemu-user-static's binary, or (Debian after trixie, where the
 * package only points to qemu-user, whose binaries are static) qemu-user's.
 */
async function staticQemuAarch64(): Promise<string> {
  for (const path of ["/usr/bin/qemu-aarch64-static", "/usr/bin/qemu-aarch64"]) {
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    )
      return path;
  }
  throw new Error("no qemu-aarch64-static or qemu-aarch64: install qemu-user-static");
}

/** An arm64 rootfs: /bin/sh is an AArch64 busybox, this machine cannot run it, qemu can. */
export async function assertArm64Rootfs(rootfs: string): Promise<void> {
  assert.equal(await elfMachine(await resolveInRootfs(rootfs, "/bin/sh")), 183, "AArch64 ELF");
  const native = await runInRootfs(rootfs, ["/bin/sh", "-c", "echo native"]);
  assert.notEqual(native.code, 0, "an arm64 binary does not run natively here");
  await copyFile(await staticQemuAarch64(), join(rootfs, "qemu-aarch64-static"));
  const emulated = await runInRootfs(rootfs, [
    "/qemu-aarch64-static",
    "/bin/sh",
    "-c",
    // Applets and builtins only: a child process would be an arm64 exec, which only qemu runs.
    'read -r line < /etc/services; echo "$(uname -m) says $line"',
  ]);
  assert.equal(emulated.code, 0, emulated.stderr);
  assert.equal(emulated.stdout, "aarch64 says http 80/tcp www\n");
}

/** An amd64 rootfs: /bin/sh is an x86-64 busybox and shell/hello's hello runs. */
export async function assertAmd64Rootfs(rootfs: string): Promise<void> {
  assert.equal(await elfMachine(await resolveInRootfs(rootfs, "/bin/sh")), 62, "x86-64 ELF");
  const hello = await runInRootfs(rootfs, ["/bin/hello"]);
  assert.equal(hello.stdout.trim(), "hello: greetings from libgreet", hello.stderr);
}

/** skopeo copy of one architecture (`--override-arch`), unpacked by umoci; the rootfs. */
export async function skopeoPullArch(
  registry: string,
  reference: string,
  arch: "amd64" | "arm64" | null,
  work: string,
): Promise<string> {
  const layout = join(work, `skopeo-${arch ?? "default"}`);
  const copy = await command("skopeo", [
    ...(arch ? [`--override-arch=${arch}`] : []),
    "copy",
    "--src-tls-verify=false",
    "--retry-times=0",
    `docker://${registry}/${reference}`,
    `oci:${layout}:latest`,
  ]);
  assert.equal(copy.code, 0, copy.stderr);
  return umociUnpack(layout, join(work, `bundle-${arch ?? "default"}`));
}

/** podman pull --platform; resolves to the pulled image's architecture. */
export async function podmanPullArch(
  podman: Podman,
  image: string,
  platform: string,
): Promise<string> {
  const pull = await podman.run(["pull", "--tls-verify=false", `--platform=${platform}`, image]);
  assert.equal(pull.code, 0, pull.stderr);
  const id = pull.stdout.trim().split("\n").pop()!;
  const inspect = await podman.run(["image", "inspect", "--format", "{{.Architecture}}", id]);
  assert.equal(inspect.code, 0, inspect.stderr);
  return inspect.stdout.trim();
}

/**
 * ctr pull --platform: containerd fetches the index and only that platform's manifest; resolves
 * to the manifest digests it holds afterwards.
 */
/** The layer digests of the image manifest `digest`, read from the registry at `base`. */
export async function manifestLayers(
  base: string,
  name: string,
  digest: string,
): Promise<string[]> {
  const response = await fetch(`${base}/v2/${name}/manifests/${digest}`, {
    headers: { Accept: indexAccept },
  });
  assert.equal(response.status, 200, `manifest ${digest}`);
  const manifest = (await response.json()) as { layers: { digest: string }[] };
  return manifest.layers.map((layer) => layer.digest);
}

/**
 * What a containerd pull of one platform fetched holds that platform's manifest and layers and no
 * layer of the other platform alone. (containerd 2's transfer service also fetches the other
 * platforms' manifests, metadata only; 1.6 does not; either is right.)
 */
export async function assertFetchedOnlyPlatform(
  content: Set<string>,
  base: string,
  name: string,
  wanted: string,
  other: string,
): Promise<void> {
  const wantedLayers = await manifestLayers(base, name, wanted);
  const otherOnly = (await manifestLayers(base, name, other)).filter(
    (layer) => !wantedLayers.includes(layer),
  );
  assert.ok(otherOnly.length > 0, "the platforms differ in at least one layer");
  assert.ok(content.has(wanted), "the asked-for platform's manifest was fetched");
  for (const layer of wantedLayers) assert.ok(content.has(layer), `its layer ${layer}`);
  for (const layer of otherOnly) {
    assert.ok(!content.has(layer), `the other platform's layer ${layer} was not fetched`);
  }
}

export async function ctrPullPlatform(
  containerd: Containerd,
  image: string,
  platform: string,
): Promise<Set<string>> {
  const pull = await containerd.pull(image, undefined, ["--platform", platform]);
  assert.equal(pull.code, 0, pull.stderr);
  const content = await containerd.ctr(["content", "ls", "-q"]);
  assert.equal(content.code, 0, content.stderr);
  return new Set(content.stdout.split("\n").filter(Boolean));
}

/** docker pull --platform, then the architecture docker recorded for the image. */
export async function dockerPullArch(
  dockerd: Dockerd,
  image: string,
  platform: string,
): Promise<string> {
  const pull = await dockerd.docker("pull", "--quiet", `--platform=${platform}`, image);
  assert.equal(pull.code, 0, pull.stderr);
  const inspect = await dockerd.docker("image", "inspect", "--format", "{{.Architecture}}", image);
  assert.equal(inspect.code, 0, inspect.stderr);
  return inspect.stdout.trim();
}
