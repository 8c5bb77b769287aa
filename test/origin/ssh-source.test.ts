// A private package repository reached over SSH with a deploy key (NIXERY_PKGS_SSH_KEY): a real
// sshd on 127.0.0.1 serves a bare repository of the fixture set; the origin resolves tags with
// git ls-remote and Nix fetches with builtins.fetchGit, both through GIT_SSH_COMMAND. The key
// itself reaches no image, no store path, no stored object and no log line; a server whose
// host key is not the known one is refused.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { command, runInRootfs, skopeoCopy, umociUnpack } from "../support/clients.ts";
import { fixturePackageSet, testNixEnv } from "../support/nix-env.ts";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";
import { startSshServer, type SshServer } from "../support/sshd.ts";

/** Every regular file under `dir` (symlinks not followed). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The base64 lines of an OpenSSH private key: any one of them found anywhere is a leak. */
function keyLines(keyText: string): string[] {
  return keyText.split("\n").filter((line) => line.length >= 20 && !line.startsWith("-----"));
}

async function assertNoKeyIn(files: string[], lines: string[], where: string): Promise<void> {
  for (const file of files) {
    const text = (await readFile(file)).toString("latin1");
    for (const line of lines)
      assert.ok(!text.includes(line), `the deploy key is in ${where}: ${file}`);
  }
}

describe("a package repository over SSH with a deploy key", () => {
  let ssh: SshServer;
  let work: string;
  let repoUrl: string;
  let commit: string;
  let origin: OriginProcess;

  before(async () => {
    ssh = await startSshServer();
    work = await mkdtemp(join(tmpdir(), "nixery-ssh-source-"));
    const bare = join(work, "pkgs.git");
    const tree = join(work, "tree");
    await cp(fixturePackageSet, tree, { recursive: true });
    const identity = ["-c", "user.email=t@example.com", "-c", "user.name=t"];
    const git = async (...args: string[]) => {
      const result = await command("git", [...identity, ...args]);
      assert.equal(result.code, 0, result.stderr);
      return result.stdout.trim();
    };
    await git("init", "-q", "--bare", "-b", "main", bare);
    await git("-C", tree, "init", "-q", "-b", "main");
    await git("-C", tree, "add", "-A");
    await git("-C", tree, "commit", "-qm", "fixture set");
    await git("-C", tree, "tag", "v1");
    await git("-C", tree, "push", "-q", bare, "main", "v1");
    commit = await git("-C", tree, "rev-parse", "HEAD");
    repoUrl = ssh.url(bare);
    origin = await startOrigin({
      env: {
        NIXERY_PKGS_REPO: repoUrl,
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
    assert.equal(ran.stdout.trim(), "hello: greetings from libgreet");
    const manifest = await fetch(`${origin.url}/v2/hello/manifests/v1`);
    assert.equal(manifest.headers.get("nixery-source-revision"), commit);
    await manifest.arrayBuffer();
    // ls-remote for the tag list, ls-remote for v1, and Nix's fetch (a new URL: no cache).
    const logins = ssh.log().match(/Accepted publickey for root/g) ?? [];
    assert.ok(logins.length >= 3, ssh.log());
  });

  it("leaves the key in no image, store path, stored object, database or log", async () => {
    const lines = keyLines(ssh.deployKeyText);
    assert.ok(lines.length >= 3);
    await assertNoKeyIn(await filesUnder(join(work, "bundle", "rootfs")), lines, "the image");
    await assertNoKeyIn(await filesUnder(origin.dataDir), lines, "the data directory");
    const logs = JSON.stringify(origin.logs) + origin.stderr();
    for (const line of lines) assert.ok(!logs.includes(line), "the deploy key is in the log");

    // The source Nix fetched (a store path of its own, not in the image's closure).
    const source = await command(
      "nix-instantiate",
      [
        ...[
          "--eval",
          "--expr",
          '{ url, rev }: (builtins.fetchGit { inherit url rev; ref = "main"; }).outPath',
        ],
        ...["--argstr", "url", repoUrl, "--argstr", "rev", commit],
      ],
      60_000,
      {
        env: {
          ...testNixEnv(),
          GIT_SSH_COMMAND: `ssh -i ${ssh.deployKey} -o IdentitiesOnly=yes -o UserKnownHostsFile=${ssh.knownHosts}`,
        },
      },
    );
    assert.equal(source.code, 0, source.stderr);
    const storePath = JSON.parse(source.stdout.trim()) as string;
    assert.ok((await stat(join(storePath, "default.nix"))).isFile());
    await assertNoKeyIn(await filesUnder(storePath), lines, "the fetched source");
  });

  it("refuses a server whose host key is not the known one, and says so", async () => {
    const otherHosts = join(work, "other_known_hosts");
    const known = await readFile(ssh.knownHosts, "utf8");
    // Same host, another key: what a man in the middle would present.
    await writeFile(
      otherHosts,
      known.replace(
        /ssh-ed25519 \S+/,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBj3dM3nCz0Q1uKJkRzM1fVvJbM7yQx3wZ0gT8d2yYtq",
      ),
    );
    const wary = await startOrigin({
      env: {
        NIXERY_PKGS_REPO: repoUrl,
        NIXERY_PKGS_SSH_KEY: ssh.deployKey,
        NIXERY_PKGS_SSH_KNOWN_HOSTS: otherHosts,
      },
    });
    try {
      const response = await fetch(`${wary.url}/v2/hello/manifests/latest`);
      assert.equal(response.status, 503);
      const body = (await response.json()) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors[0]!.code, "SOURCE_UNAVAILABLE");
      assert.match(body.errors[0]!.message, /Host key verification failed/);
      assert.ok(!body.errors[0]!.message.includes(ssh.deployKey), "no server path in the message");
    } finally {
      await wary.stop();
    }
  });
});
