// An origin whose package source is a flake (NIXERY_FLAKE), end to end and offline: local flakes
// made by the test (a git repository whose flake.lock pins a local git flake, and a path flake),
// images pulled with skopeo and run, tags selecting git refs and commits, the locked revision
// shown and recorded, and clear answers for bad names and bad flakes.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { mediaTypes } from "../../shared/media-types.ts";
import { runInRootfs, skopeoCopy, umociUnpack } from "../support/clients.ts";
import { git } from "../support/git.ts";
import { makeTestFlakes, type TestFlakes } from "../support/flakes.ts";
import { runOriginToExit, startOrigin, type OriginProcess } from "../support/origin-process.ts";
import { waitFor } from "../support/wait-for.ts";

let work: string;
let flakes: TestFlakes;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "nixery-flake-"));
  flakes = await makeTestFlakes(join(work, "flakes"));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

async function manifest(origin: OriginProcess, name: string, tag = "latest") {
  const response = await fetch(`${origin.url}/v2/${name}/manifests/${tag}`, {
    headers: { accept: mediaTypes.ociManifest },
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    revision: response.headers.get("nixery-source-revision"),
  };
}

async function runHello(origin: OriginProcess, reference: string, label: string): Promise<string> {
  const layout = join(work, `layout-${label}`);
  const copy = await skopeoCopy(`127.0.0.1:${origin.port}`, reference, layout);
  assert.equal(copy.code, 0, copy.stderr);
  const rootfs = await umociUnpack(layout, join(work, `bundle-${label}`));
  const run = await runInRootfs(rootfs, ["/bin/hello"]);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout;
}

describe("an origin serving a git flake", () => {
  let origin: OriginProcess;
  before(async () => {
    origin = await startOrigin({ env: { NIXERY_FLAKE: `git+file://${flakes.setRepo}` } });
  });
  after(async () => {
    await origin?.stop();
  });

  it("serves packages.<system> and legacyPackages.<system> names at the tag's commit", async () => {
    assert.equal(await runHello(origin, "hello:latest", "latest"), "hello v2: one\n");
    assert.equal(await runHello(origin, "hello:v1", "v1"), "hello v1: one\n");
    assert.equal(await runHello(origin, `hello:${flakes.commits.v1}`, "commit"), "hello v1: one\n");

    const latest = await manifest(origin, "shell/xorg.xev/haskellpackages.pandoc/7zip/flaketool");
    assert.equal(latest.status, 200, latest.text);
    assert.equal(latest.revision, flakes.commits.two);
    const v1 = await manifest(origin, "hello", "v1");
    assert.equal(v1.revision, flakes.commits.v1);

    // Recorded in the image itself.
    const config = JSON.parse(
      await (
        await fetch(`${origin.url}/v2/hello/blobs/${JSON.parse(v1.text).config.digest as string}`)
      ).text(),
    ) as { config: { Labels: Record<string, string> } };
    assert.equal(config.config.Labels["org.opencontainers.image.revision"], flakes.commits.v1);
    // Recorded in the origin's database: the build records and the published images.
    const db = new Database(join(origin.dataDir, "nixery.sqlite"), { readonly: true });
    try {
      const built = db
        .prepare(
          "SELECT DISTINCT revision FROM builds WHERE image = 'hello' AND outcome = 'success'",
        )
        .all() as { revision: string }[];
      assert.deepEqual(
        built.map((row) => row.revision).sort(),
        [flakes.commits.two, flakes.commits.v1].sort(),
      );
    } finally {
      db.close();
    }
    // The origin never wrote to the flake's repository.
    assert.equal(git(flakes.setRepo, "status", "--porcelain"), "");
  });

  it("shows the flake and its locked revision on the start page, and lists its tags", async () => {
    // Named without its path on the origin's disk (pages show no server paths).
    const page = await (await fetch(`${origin.url}/`)).text();
    assert.ok(page.includes("a flake of the operator&#39;s"), page);
    assert.ok(!page.includes(flakes.setRepo), page);
    assert.ok(page.includes(flakes.commits.two), page);
    const tags = await (await fetch(`${origin.url}/v2/hello/tags/list`)).json();
    assert.deepEqual(tags, { name: "hello", tags: ["latest", "main", "v1"] });
    const listening = origin.logs.find((entry) => entry.event === "origin listening");
    assert.equal(listening?.source, `flake:git+file://${flakes.setRepo}`);
  });

  it("indexes the flake's packages for search, at its locked revision", async () => {
    type Search = {
      revision: string;
      index: string;
      results: { attr: string; image: string; version: string }[];
    };
    const search = await waitFor("the flake's package index", async () => {
      const answer = (await (await fetch(`${origin.url}/api/packages?q=hello`)).json()) as Search;
      return answer.index === "ready" ? answer : null;
    });
    assert.equal(search.revision, flakes.commits.two);
    const hello = search.results.find((result) => result.attr === "hello");
    assert.ok(hello, JSON.stringify(search));
    assert.equal(hello.image, "hello");
    const one = await fetch(`${origin.url}/api/packages/hello`);
    assert.equal(one.status, 200, await one.clone().text());
  });

  it("answers bad names and tags with messages that name them and the flake", async () => {
    const missing = await manifest(origin, "hello/nosuchthing");
    assert.equal(missing.status, 404);
    assert.match(missing.text, /Could not find Nix packages: nosuchthing/);
    const throwing = await manifest(origin, "throwing");
    assert.equal(throwing.status, 404);
    assert.match(
      throwing.text,
      /Nix package throwing \(legacyPackages\.x86_64-linux\.throwing of the flake git\+file:\/\/[^)]*\) exists but does not evaluate: throwing is broken on purpose/,
    );
    const bad = await manifest(origin, "badeval");
    assert.equal(bad.status, 404);
    assert.match(
      bad.text,
      /Nix package badeval \(looked up in packages\.x86_64-linux, then legacyPackages\.x86_64-linux\) of the flake git\+file:\/\/\S+ does not evaluate: cannot add a string to an integer/,
    );
    const tag = await manifest(origin, "hello", "v9");
    assert.equal(tag.status, 404);
    assert.match(tag.text, /tag \\"v9\\" names no ref or commit of flake git\+file:\/\//);
  });
});

describe("an origin serving a path flake", () => {
  let origin: OriginProcess;
  before(async () => {
    origin = await startOrigin({ env: { NIXERY_FLAKE: flakes.pathFlake } });
  });
  after(async () => {
    await origin?.stop();
  });

  it("serves it, with the flake's narHash as the revision", async () => {
    assert.equal(await runHello(origin, "shell/hello:latest", "path"), "hello v2: one\n");
    const answer = await manifest(origin, "hello");
    assert.match(answer.revision ?? "", /^sha256-[A-Za-z0-9+/]{43}=$/);
  });
});

describe("an origin given a bad flake", () => {
  it("refuses to start with one line naming NIXERY_FLAKE", async () => {
    const notFlake = join(work, "not-a-flake");
    await mkdir(notFlake);
    await writeFile(join(notFlake, "default.nix"), "{ }\n");
    const dataDir = await mkdtemp(join(work, "data-"));
    const result = await runOriginToExit(dataDir, { env: { NIXERY_FLAKE: notFlake } });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`NIXERY_FLAKE=${notFlake}: cannot be locked: `));
    assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
    assert.match(result.stderr, /flake\.nix/);

    const noPackages = join(work, "no-packages");
    await mkdir(noPackages);
    await writeFile(join(noPackages, "flake.nix"), "{ outputs = { self }: { lib = { }; }; }\n");
    const second = await runOriginToExit(dataDir, { env: { NIXERY_FLAKE: noPackages } });
    assert.equal(second.code, 2, second.stderr);
    assert.match(
      second.stderr,
      /has neither packages\.x86_64-linux nor legacyPackages\.x86_64-linux as an attribute set/,
    );
    await assert.rejects(readFile(join(noPackages, "flake.lock")), { code: "ENOENT" });

    const invalid = await runOriginToExit(dataDir, { env: { NIXERY_FLAKE: "--impure" } });
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /NIXERY_FLAKE="--impure" starts with "-"/);
  });
});
