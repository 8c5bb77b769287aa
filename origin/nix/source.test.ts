import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SourceUnavailable, TagNotFound } from "./errors.ts";
import { git } from "../../test/support/git.ts";
import { fixturePackageSet, lookupAndRealise, testNixEnv } from "../../test/support/nix-env.ts";
import { lookupPackages } from "./packages.ts";
import { createNixRunner } from "./runner.ts";
import { resolveSource, type SourceConfig } from "./source.ts";

const runner = createNixRunner({ env: testNixEnv() });
const system = "x86_64-linux";
let dir: string;
/** A bare repository (Nix treats it like a remote one) and a checkout of it. */
let bareUrl: string;
let workDir: string;
const commits: Record<"one" | "two" | "three", string> = { one: "", two: "", three: "" };

async function commitGreeting(greeting: string): Promise<string> {
  const file = join(workDir, "default.nix");
  const text = await readFile(join(fixturePackageSet, "default.nix"), "utf8");
  await writeFile(file, text.replace("greetings from libgreet", greeting));
  git(workDir, "commit", "-q", "-a", "-m", greeting);
  return git(workDir, "rev-parse", "HEAD");
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "source-test-"));
  workDir = join(dir, "work");
  await mkdir(workDir);
  git(workDir, "init", "-q", "-b", "main");
  await cp(join(fixturePackageSet, "default.nix"), join(workDir, "default.nix"));
  git(workDir, "add", "default.nix");
  commits.one = await commitGreeting("greetings one");
  git(workDir, "tag", "v1");
  git(workDir, "branch", "feature");
  // Commit two is reachable only through its tags, not from any branch.
  git(workDir, "checkout", "-q", "-b", "side");
  commits.two = await commitGreeting("greetings two");
  git(workDir, "tag", "v2");
  git(workDir, "tag", "-a", "-m", "annotated", "v2-annotated");
  git(workDir, "checkout", "-q", "main");
  git(workDir, "branch", "-q", "-D", "side");
  commits.three = await commitGreeting("greetings three");
  git(dir, "clone", "-q", "--bare", workDir, join(dir, "packages.git"));
  bareUrl = `file://${join(dir, "packages.git")}`;
});
after(() => rm(dir, { recursive: true, force: true }));

const gitSource = (tag: string, url = bareUrl) => resolveSource({ kind: "git", url }, tag, runner);

async function greetingPath(tag: string, url = bareUrl): Promise<string> {
  const lookup = await lookupPackages(runner, await gitSource(tag, url), ["libgreet"], system);
  assert.deepEqual(lookup.missing, []);
  return lookup.found[0]!.outPaths[0]!;
}

describe("resolveSource: path and channel", () => {
  it("a local path is never pinned and has no revision", async () => {
    const source = await resolveSource({ kind: "path", path: fixturePackageSet }, "v1", runner);
    assert.equal(source.id, `path:${fixturePackageSet}`);
    assert.equal(source.revision, null);
    assert.equal(source.pinned, false);
    assert.deepEqual(source.nixArgs.slice(0, 6), [
      "--argstr",
      "srcType",
      "path",
      "--argstr",
      "src",
      fixturePackageSet,
    ]);
  });

  it("a channel is pinned only when it is a commit, and is fetched as a tarball", async () => {
    const tarball = join(dir, "channel-abc.tar.gz");
    execFileSync("tar", ["-czf", tarball, "-C", join(fixturePackageSet, ".."), "pkgs"]);
    const config: SourceConfig = {
      kind: "channel",
      channel: "abc",
      urlTemplate: `file://${dir}/channel-{channel}.tar.gz`,
    };
    const source = await resolveSource(config, "latest", runner);
    assert.equal(source.id, `channel:file://${tarball}`);
    assert.equal(source.revision, "abc");
    assert.equal(source.pinned, false);
    const lookup = await lookupPackages(runner, source, ["hello"], system);
    assert.deepEqual(
      lookup.found.map((p) => p.attrPath),
      ["hello"],
    );

    const commit = "0123456789abcdef0123456789abcdef01234567";
    const pinned = await resolveSource({ ...config, channel: commit }, "latest", runner);
    assert.equal(pinned.pinned, true);
    assert.equal(pinned.revision, commit);
  });
});

describe("resolveSource: git", () => {
  it("`latest` is the default branch's head, and moves", async () => {
    const source = await gitSource("latest");
    assert.equal(source.id, `git:${bareUrl}`);
    assert.equal(source.revision, commits.three);
    assert.equal(source.pinned, false);
    assert.ok(source.nixArgs.join(" ").includes("ref refs/heads/main"));
  });

  it("tags and branches name their commits; annotated tags are peeled", async () => {
    assert.equal((await gitSource("v1")).revision, commits.one);
    assert.equal((await gitSource("v2")).revision, commits.two);
    assert.equal((await gitSource("v2-annotated")).revision, commits.two);
    assert.equal((await gitSource("feature")).revision, commits.one);
    assert.equal((await gitSource("v2")).pinned, false);
  });

  it("a 40-hex tag is a pinned commit", async () => {
    const source = await gitSource(commits.two);
    assert.equal(source.revision, commits.two);
    assert.equal(source.pinned, true);
  });

  it("fetches a commit that only a tag reaches, with nothing cached", async () => {
    // A fresh URL, so Nix's git cache cannot already hold the commit.
    const fresh = join(dir, "pinned.git");
    git(dir, "clone", "-q", "--bare", workDir, fresh);
    const byCommit = await greetingPath(commits.two, `file://${fresh}`);
    assert.equal(byCommit, await greetingPath("v2", `file://${fresh}`));
  });

  it("an unknown tag or commit is TagNotFound", async () => {
    await assert.rejects(gitSource("v9"), TagNotFound);
    await assert.rejects(gitSource("0".repeat(40)), TagNotFound);
  });

  it("an unreachable repository is SourceUnavailable", async () => {
    await assert.rejects(gitSource("latest", `file://${dir}/absent.git`), SourceUnavailable);
  });

  it("different tags give different packages; names of one commit give the same", async () => {
    const [one, two, twoAnnotated, twoByCommit, three] = await Promise.all([
      greetingPath("v1"),
      greetingPath("v2"),
      greetingPath("v2-annotated"),
      greetingPath(commits.two),
      greetingPath("latest"),
    ]);
    assert.notEqual(one, two);
    assert.notEqual(two, three);
    assert.equal(two, twoAnnotated);
    assert.equal(two, twoByCommit);
    // A checkout (not bare) is read directly by Nix; same commit, same package.
    assert.equal(await greetingPath("v2", workDir), two);
  });

  it("follows a branch that moved since the last fetch", async () => {
    const movingDir = join(dir, "moving.git");
    git(dir, "clone", "-q", "--bare", workDir, movingDir);
    const url = `file://${movingDir}`;
    const before = await greetingPath("latest", url);
    const clone = join(dir, "moving-work");
    git(dir, "clone", "-q", url, clone);
    await writeFile(
      join(clone, "default.nix"),
      (await readFile(join(clone, "default.nix"), "utf8")).replace(
        "greetings three",
        "greetings four",
      ),
    );
    git(clone, "commit", "-q", "-a", "-m", "four");
    git(clone, "push", "-q", "origin", "main");
    const after = await greetingPath("latest", url);
    assert.notEqual(after, before);
  });

  it("builds from a tag whose commit is on no branch", async () => {
    const rootDir = join(dir, "roots");
    const realised = await lookupAndRealise(
      runner,
      await gitSource("v2-annotated"),
      ["libgreet"],
      system,
      {
        timeoutMs: 60_000,
        rootDir,
      },
    );
    try {
      const greeting = await readFile(join(realised.outPaths[0]!, "share/greeting"), "utf8");
      assert.equal(greeting, "greetings two\n");
    } finally {
      await realised.release();
    }
  });
});
