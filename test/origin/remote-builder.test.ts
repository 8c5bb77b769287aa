// Distributed builds: an origin that builds nothing itself (`max-jobs = 0`) and has one Nix remote
// builder, an sshd on 127.0.0.1 whose key may only run `nix-store --serve --write` against a store
// of its own. Both platforms of a never-built package are built there (the x86_64-linux and the
// aarch64-linux derivations; the origin's Nix is not allowed aarch64-linux at all), copied back,
// packed and served by the origin, and pulled by skopeo for each platform.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mediaTypes } from "../../shared/media-types.ts";
import { command, runInRootfs, umociUnpack } from "../support/clients.ts";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";
import { writeProbeSet, type ProbeSet } from "../support/probe-set.ts";
import { startRemoteBuilder, type RemoteBuilder } from "../support/remote-builder.ts";

const indexAccept = [
  mediaTypes.dockerManifestList,
  mediaTypes.ociIndex,
  mediaTypes.dockerManifest,
  mediaTypes.ociManifest,
].join(", ");

// The builder's own store is a chroot store: Nix 2.26 builds into one only in a sandbox, which
// needs a user namespace, and a chrooted process may not create one (unshare(CLONE_NEWUSER) is
// EPERM in a chroot). So this runs on the host's Nix (2.8) only, not in test/nix-current's chroot.
const inChroot = process.env.NIXERY_TEST_CHROOT;
const skip = inChroot
  ? `the ${inChroot} chroot cannot create the user namespace a separate builder store needs`
  : false;

describe("an origin whose builds run on a Nix remote builder", { skip }, () => {
  let builder: RemoteBuilder;
  let probes: ProbeSet;
  let origin: OriginProcess;
  let work: string;

  before(async () => {
    probes = await writeProbeSet();
    builder = await startRemoteBuilder({
      systems: ["x86_64-linux", "aarch64-linux"],
      builderNixConf: ["extra-platforms = aarch64-linux"],
    });
    origin = await startOrigin({
      pkgsPath: probes.path,
      env: { ...builder.originEnv, NIXERY_PLATFORMS: "linux/amd64,linux/arm64" },
    });
    work = await mkdtemp(join(tmpdir(), "nixery-remote-pull-"));
  });
  after(async () => {
    await origin?.stop();
    await builder?.stop();
    await probes?.remove();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** skopeo copy for one platform, unpacked; the probe's store path in it and its rootfs. */
  async function pullProbe(arch: "amd64" | "arm64") {
    const layout = join(work, `layout-${arch}`);
    const copy = await command("skopeo", [
      `--override-arch=${arch}`,
      "copy",
      "--src-tls-verify=false",
      "--retry-times=0",
      `docker://127.0.0.1:${origin.port}/probe:latest`,
      `oci:${layout}:latest`,
    ]);
    assert.equal(copy.code, 0, copy.stderr);
    const rootfs = await umociUnpack(layout, join(work, `bundle-${arch}`));
    const names = (await readdir(join(rootfs, "nix/store"))).filter((n) =>
      n.endsWith("-probe-1.0"),
    );
    assert.equal(names.length, 1, names.join(" "));
    const storePath = `/nix/store/${names[0]}`;
    return { rootfs, storePath };
  }

  it("builds both platforms on the builder, then packs and serves them", async () => {
    const response = await fetch(`${origin.url}/v2/probe/manifests/latest`, {
      headers: { Accept: indexAccept },
    });
    const body = await response.text();
    assert.equal(response.status, 200, body);
    assert.equal(response.headers.get("content-type"), mediaTypes.dockerManifestList);
    assert.deepEqual(
      JSON.parse(body).manifests.map(
        (m: { platform: { architecture: string } }) => m.platform.architecture,
      ),
      ["amd64", "arm64"],
    );

    const amd64 = await pullProbe("amd64");
    const arm64 = await pullProbe("arm64");
    assert.notEqual(amd64.storePath, arm64.storePath);
    for (const { storePath } of [amd64, arm64]) {
      assert.ok(await builder.hasPath(storePath), `${storePath} is in the builder's own store`);
    }
    // Built in the builder's sandbox (a chroot store builds sandboxed, hostname "localhost").
    assert.equal(
      (await readFile(join(amd64.rootfs, amd64.storePath, "share/built-on"), "utf8")).trim(),
      "localhost",
    );
    const run = await runInRootfs(amd64.rootfs, ["/bin/probe"]);
    assert.equal(run.stdout.trim(), `probe ${probes.salt}`, run.stderr);
    // The arm64 one runs under qemu-user.
    await copyFile("/usr/bin/qemu-aarch64-static", join(arm64.rootfs, "qemu-aarch64-static"));
    const [busybox] = (await readdir(join(arm64.rootfs, "nix/store"))).filter((n) =>
      n.endsWith("-busybox-1.35.0"),
    );
    const emulated = await runInRootfs(arm64.rootfs, [
      "/qemu-aarch64-static",
      `/nix/store/${busybox}/bin/sh`,
      "/bin/probe",
    ]);
    assert.equal(emulated.stdout.trim(), `probe ${probes.salt}`, emulated.stderr);

    assert.match(await builder.log(), /Accepted publickey for root from 127\.0\.0\.1/);
  });

  it("builds nothing itself: without the builder a new package fails with Nix's reason", async () => {
    await builder.stop();
    const response = await fetch(`${origin.url}/v2/arm64/probe2/manifests/latest`);
    const body = (await response.json()) as { errors: { code: string; message: string }[] };
    assert.equal(response.status, 404, JSON.stringify(body));
    assert.equal(body.errors[0]!.code, "MANIFEST_UNKNOWN");
    // Nix's own reason: no builder for aarch64-linux, and this machine is none.
    assert.match(
      body.errors[0]!.message,
      /^Could not build probe2: .*a 'aarch64-linux' with features \{\} is required to build .*probe2-1\.0\.drv/s,
    );
  });
});
