// A flake in a private repository reached over SSH (NIXERY_FLAKE=git+ssh://…) with the deploy
// key of NIXERY_PKGS_SSH_KEY: a real sshd on 127.0.0.1 serves a bare copy of the test flake's
// repository; `git ls-remote` (tags) and Nix's git fetcher (nix flake metadata, getFlake) both
// go through the key's GIT_SSH_COMMAND. The flake's pinned input stays a local git flake.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runInRootfs, skopeoCopy, umociUnpack } from "../support/clients.ts";
import { git } from "../support/git.ts";
import { makeTestFlakes, type TestFlakes } from "../support/flakes.ts";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";
import { startSshServer, type SshServer } from "../support/sshd.ts";

describe("a flake over SSH with a deploy key", () => {
  let ssh: SshServer;
  let work: string;
  let flakes: TestFlakes;
  let origin: OriginProcess;
  let flakeRef: string;

  before(async () => {
    ssh = await startSshServer();
    work = await mkdtemp(join(tmpdir(), "nixery-ssh-flake-"));
    flakes = await makeTestFlakes(join(work, "flakes"));
    const bare = join(work, "set.git");
    git(work, "clone", "-q", "--bare", flakes.setRepo, bare);
    flakeRef = `git+${ssh.url(bare)}`;
    origin = await startOrigin({
      env: {
        NIXERY_FLAKE: flakeRef,
        NIXERY_PKGS_SSH_KEY: ssh.deployKey,
        NIXERY_PKGS_SSH_KNOWN_HOSTS: ssh.knownHosts,
      },
    });
  });
  after(async () => {
    await origin?.stop();
    await ssh?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("resolves tags and builds images through the deploy key", async () => {
    const tags = (await (await fetch(`${origin.url}/v2/hello/tags/list`)).json()) as {
      tags: string[];
    };
    assert.deepEqual(tags.tags, ["latest", "main", "v1"]);
    const layout = join(work, "hello");
    const copied = await skopeoCopy(`127.0.0.1:${origin.port}`, "hello:v1", layout);
    assert.equal(copied.code, 0, copied.stderr);
    const rootfs = await umociUnpack(layout, join(work, "bundle"));
    const ran = await runInRootfs(rootfs, ["/bin/hello"]);
    assert.equal(ran.stdout, "hello v1: one\n");
    const manifest = await fetch(`${origin.url}/v2/hello/manifests/latest`);
    assert.equal(manifest.status, 200);
    assert.equal(manifest.headers.get("nixery-source-revision"), flakes.commits.two);
    await manifest.arrayBuffer();
    const page = await (await fetch(`${origin.url}/`)).text();
    // Shown with the user part hidden, as every source URL is (it may carry a token).
    assert.ok(page.includes(`flake:${flakeRef.replace("//root@", "//***@")}`), page);
    assert.ok((ssh.log().match(/Accepted publickey for root/g) ?? []).length >= 3, ssh.log());
  });
});
