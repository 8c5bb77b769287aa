// Build behaviour across origins: determinism from empty storage, single-flight for concurrent
// cold pulls, git-sourced package sets where tags select revisions, the layer cache, and the
// authenticated build endpoints the edge uses.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  originPaths,
  type BuildStatus,
  type ExistingBuildStatus,
} from "../../shared/origin-protocol.ts";
import { fixturePackageSet } from "../support/nix-env.ts";
import { exitedEarly, startOrigin, type OriginProcess } from "../support/origin-process.ts";
import { processesUnder, stillRunning } from "../support/processes.ts";
import { waitFor } from "../support/wait-for.ts";

const exec = promisify(execFile);

async function manifestDigest(
  origin: OriginProcess,
  image: string,
  tag = "latest",
): Promise<string> {
  const response = await fetch(`${origin.url}/v2/${image}/manifests/${tag}`);
  const body = await response.text();
  assert.equal(response.status, 200, body);
  return response.headers.get("docker-content-digest")!;
}

const count = (origin: OriginProcess, msg: string) =>
  origin.logs.filter((l) => l.event === msg).length;

describe("builds", () => {
  const origins: OriginProcess[] = [];
  const start = async (...args: Parameters<typeof startOrigin>) => {
    const origin = await startOrigin(...args);
    origins.push(origin);
    return origin;
  };
  after(async () => {
    await Promise.all(origins.map((origin) => origin.stop()));
  });

  it("is deterministic: two empty storages give one manifest digest", async () => {
    const [a, b] = await Promise.all([start(), start()]);
    const [digestA, digestB] = await Promise.all([
      manifestDigest(a, "shell/goodbye"),
      manifestDigest(b, "shell/goodbye"),
    ]);
    assert.equal(digestA, digestB);
    await Promise.all([a.stop(), b.stop()]);
  });

  it("shares one build among many concurrent cold pulls (single-flight)", async () => {
    const origin = await start();
    const responses = await Promise.all(
      Array.from({ length: 12 }, () => fetch(`${origin.url}/v2/tools.xev/jq/manifests/latest`)),
    );
    const digests = new Set(
      responses.map((response) => response.headers.get("docker-content-digest")),
    );
    await Promise.all(responses.map((response) => response.arrayBuffer()));
    assert.deepEqual(
      responses.map((response) => response.status),
      Array(12).fill(200),
    );
    assert.equal(digests.size, 1);
    assert.equal(count(origin, "build started"), 1);
    await origin.stop();
  });

  it("reuses cached layers when a moving tag is rebuilt", async () => {
    const origin = await start({ env: { NIXERY_TAG_TTL_SECONDS: "1" } });
    const first = await manifestDigest(origin, "haskellpackages.pandoclite");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const second = await manifestDigest(origin, "haskellpackages.pandoclite");
    assert.equal(first, second);
    const finished = origin.logs.filter((l) => l.event === "build finished");
    assert.equal(finished.length, 2, "the expired tag was evaluated again");
    assert.ok(Number(finished[0]!.packedLayers) > 0);
    assert.equal(finished[1]!.packedLayers, 0, "every layer came from the layer cache");
    await origin.stop();
  });

  describe("a git-sourced package set", () => {
    let repo: string;
    let origin: OriginProcess;
    let commitV1: string;

    before(async () => {
      repo = await mkdtemp(join(tmpdir(), "nixery-git-"));
      await cp(fixturePackageSet, repo, { recursive: true });
      // Its own identity: a fresh machine has no git user configured.
      const identity = ["-c", "user.email=t@example.com", "-c", "user.name=t"];
      const git = (...args: string[]) => exec("git", ["-C", repo, ...identity, ...args]);
      await git("init", "-q", "-b", "main");
      await git("commit", "-qam", "v1", "--allow-empty");
      await git("add", "-A");
      await git("commit", "-qm", "v1");
      await git("tag", "v1");
      commitV1 = (await git("rev-parse", "HEAD")).stdout.trim();
      const file = join(repo, "default.nix");
      await writeFile(file, (await readFile(file, "utf8")).replace('"hello: ', '"hello v2: '));
      await git("commit", "-qam", "v2");
      await git("tag", "-a", "v2", "-m", "second");
      origin = await start({ env: { NIXERY_PKGS_REPO: repo } });
    });
    after(async () => {
      await origin?.stop();
      await rm(repo, { recursive: true, force: true });
    });

    it("gives two images for two tags, and latest follows the default branch", async () => {
      const v1 = await manifestDigest(origin, "hello", "v1");
      const v2 = await manifestDigest(origin, "hello", "v2");
      assert.notEqual(v1, v2);
      assert.equal(await manifestDigest(origin, "hello", "latest"), v2);
      assert.equal(await manifestDigest(origin, "hello", commitV1), v1);
      const response = await fetch(`${origin.url}/v2/hello/manifests/v1`);
      assert.equal(response.headers.get("nixery-source-revision"), commitV1);
      await response.arrayBuffer();
    });

    it("lists the repository's tags and branches", async () => {
      const response = await fetch(`${origin.url}/v2/hello/tags/list`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), {
        name: "hello",
        tags: ["latest", "main", "v1", "v2"],
      });
    });

    it("answers an unknown tag with MANIFEST_UNKNOWN", async () => {
      const response = await fetch(`${origin.url}/v2/hello/manifests/v9`);
      assert.equal(response.status, 404);
      const body = (await response.json()) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors[0]!.code, "MANIFEST_UNKNOWN");
      assert.match(body.errors[0]!.message, /v9/);
    });
  });

  it("guards the build endpoints with the shared secret and long-polls builds", async () => {
    const origin = await start({ env: { ORIGIN_SECRET: "s3cret" } });
    const url = `${origin.url}${originPaths.builds.path()}`;
    const body = JSON.stringify({ name: "goodbye", tag: "latest", waitSeconds: 0 });
    const denied = await fetch(url, { method: "POST", body });
    assert.equal(denied.status, 401);
    assert.equal(
      ((await denied.json()) as { errors: { code: string }[] }).errors[0]!.code,
      "UNAUTHORIZED",
    );
    const wrong = await fetch(url, {
      method: "POST",
      body,
      headers: { Authorization: "Bearer nope" },
    });
    assert.equal(wrong.status, 401);
    await wrong.arrayBuffer();

    const headers = { Authorization: "Bearer s3cret", "Content-Type": "application/json" };
    let status = (await (
      await fetch(url, { method: "POST", body, headers })
    ).json()) as BuildStatus;
    while (status.state === "pending") {
      const poll = await fetch(`${origin.url}${originPaths.build.path({ id: status.id })}?wait=5`, {
        headers,
      });
      status = (await poll.json()) as BuildStatus;
    }
    assert.equal(status.state, "done");
    if (status.state !== "done") return;
    assert.match(status.result.manifests.docker.digest, /^sha256:/);
    assert.equal(status.result.pinned, false);

    const missing = (await (
      await fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify({ name: "nope", tag: "latest", waitSeconds: 10 }),
      })
    ).json()) as BuildStatus;
    assert.equal(missing.state, "failed");
    if (missing.state === "failed") {
      assert.equal(missing.status, 404);
      assert.match(missing.error.message, /nope/);
    }
    // The registry API itself stays public.
    assert.equal((await fetch(`${origin.url}/v2/`)).status, 200);
  });

  it("answers onlyIfBuilt from what exists and never starts a build for it", async () => {
    const origin = await start();
    const ask = async (name: string, onlyIfBuilt = true) =>
      (await (
        await fetch(`${origin.url}${originPaths.builds.path()}`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ name, tag: "latest", waitSeconds: 30, onlyIfBuilt }),
        })
      ).json()) as ExistingBuildStatus;
    assert.equal((await ask("goodbye")).state, "unbuilt");
    assert.equal(count(origin, "build started"), 0);
    assert.equal((await ask("goodbye", false)).state, "done");
    assert.equal((await ask("goodbye")).state, "done", "built now: answered");
    assert.equal((await ask("nosuchpackage", false)).state, "failed");
    assert.equal((await ask("nosuchpackage")).state, "failed", "a remembered failure is answered");
    assert.equal((await ask("hello")).state, "unbuilt");
    // Only goodbye was built (the unknown package failed at the lookup, before a build starts).
    assert.equal(count(origin, "build started"), 1);
  });

  it("requires the secret on the registry API too when ORIGIN_PRIVATE=true", async () => {
    const origin = await start({ env: { ORIGIN_SECRET: "s3cret", ORIGIN_PRIVATE: "true" } });
    const denied = await fetch(`${origin.url}/v2/`);
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get("content-type"), "application/json");
    await denied.arrayBuffer();
    const allowed = await fetch(`${origin.url}/v2/`, {
      headers: { Authorization: "Bearer s3cret" },
    });
    assert.equal(allowed.status, 200);
    await allowed.arrayBuffer();
  });

  it("builds from a channel archive fetched through a configurable URL template", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nixery-channel-"));
    try {
      await exec("tar", [
        "-czf",
        join(dir, "fixture-channel.tar.gz"),
        "-C",
        join(fixturePackageSet, ".."),
        "pkgs",
      ]);
      const origin = await start({
        env: {
          NIXERY_CHANNEL: "fixture-channel",
          NIXERY_CHANNEL_URL_TEMPLATE: `file://${dir}/{channel}.tar.gz`,
        },
      });
      const response = await fetch(`${origin.url}/v2/hello/manifests/latest`);
      assert.equal(response.status, 200, await response.clone().text());
      assert.equal(response.headers.get("nixery-source-revision"), "fixture-channel");
      await response.arrayBuffer();
      await origin.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("stops running builds with SIGTERM when the origin shuts down", async () => {
    const origin = await start();
    const pending = fetch(`${origin.url}/v2/hangs/manifests/latest`).catch(() => null);
    const sleepers = await waitFor(
      "the hanging builder to start",
      async () => {
        // Only this origin's own builders count (other test runs may have sleepers of their own).
        const found = await processesUnder(origin.process.pid!, "sleep 3600");
        return found.length > 0 ? found : null;
      },
      { failIf: () => exitedEarly(origin) },
    );
    assert.equal(sleepers.length, 1, "the hanging builder is running");
    await origin.stop();
    // The test's stop() sends SIGKILL only if SIGTERM did not end the origin: it must not have.
    assert.equal(origin.process.signalCode, null, "stopped without waiting for SIGKILL");
    assert.equal(origin.process.exitCode, 0, "stopped without waiting for SIGKILL");
    assert.deepEqual(
      await stillRunning(sleepers, "sleep 3600"),
      [],
      "no builder outlives the origin",
    );
    await pending;
  });

  it("answers 429 with Retry-After when the build queue is full", async () => {
    const origin = await start({ env: { NIXERY_MAX_BUILDS: "1", NIXERY_MAX_QUEUED_BUILDS: "0" } });
    const pending = fetch(`${origin.url}/v2/hangs/manifests/latest`).catch(() => null);
    await waitFor("the first build to start", () => count(origin, "build started") > 0, {
      failIf: () => exitedEarly(origin),
    });
    const refused = await fetch(`${origin.url}/v2/goodbye/manifests/latest`);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("retry-after"), "60");
    const body = (await refused.json()) as { errors: { code: string }[] };
    assert.equal(body.errors[0]!.code, "TOOMANYREQUESTS");
    await origin.stop();
    await pending;
  });
});
