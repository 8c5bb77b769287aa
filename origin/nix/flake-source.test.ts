// Flake references without Nix: which kind a reference is, how a tag changes a forge reference,
// what is refused as configuration, and `nix flake metadata --json` as each Nix version prints it
// (recorded samples, test/fixtures/nix-output/<version>/flake-metadata-*.json).

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { nixOutputFixtures } from "../../test/support/nix-env.ts";
import { TagNotFound } from "./errors.ts";
import {
  flakeKind,
  flakeReferenceForTag,
  flakeRevision,
  gitUrlOf,
  InvalidFlakeReference,
  isLocalFlake,
  normaliseFlakeReference,
  parseFlakeMetadata,
} from "./flake-source.ts";
import type { NixRunner } from "./runner.ts";

const noRunner: NixRunner = () => {
  throw new Error("no process may run for this reference");
};
const commit = "0123456789abcdef0123456789abcdef01234567";

describe("flake references", () => {
  it("tells paths, git, forges and the rest apart", () => {
    assert.equal(flakeKind("/srv/flake"), "path");
    assert.equal(flakeKind("path:/srv/flake"), "path");
    assert.equal(flakeKind("git+file:///srv/repo"), "git");
    assert.equal(flakeKind("git+ssh://git@example.com/pkgs.git?ref=main"), "git");
    assert.equal(flakeKind("git+https://example.com/pkgs.git"), "git");
    assert.equal(flakeKind("github:NixOS/nixpkgs/nixos-24.05"), "forge");
    assert.equal(flakeKind("gitlab:group/project"), "forge");
    assert.equal(flakeKind("nixpkgs"), "other");
    assert.equal(flakeKind("https://example.com/set.tar.gz"), "other");
    assert.equal(isLocalFlake("git+file:///srv/repo"), true);
    assert.equal(isLocalFlake("git+ssh://host/repo"), false);
    assert.equal(gitUrlOf("git+ssh://git@host/r.git?ref=main&dir=sub#x"), "ssh://git@host/r.git");
  });

  it("refuses what Nix would misread and makes relative paths absolute", () => {
    for (const [text, why] of [
      ["", /empty/],
      ["  ", /empty/],
      ["--impure", /starts with "-"/],
      ["github:a/b extra", /white space/],
    ] as const) {
      assert.throws(
        () => normaliseFlakeReference(text),
        (error: unknown) => {
          return error instanceof InvalidFlakeReference && why.test(error.message);
        },
      );
    }
    assert.equal(normaliseFlakeReference("./set"), join(process.cwd(), "set"));
    assert.equal(normaliseFlakeReference("path:./set"), `path:${join(process.cwd(), "set")}`);
    assert.equal(normaliseFlakeReference("github:a/b"), "github:a/b");
  });

  it("puts the tag into a forge reference as its ref or rev", async () => {
    const cases: [string, string, string, boolean][] = [
      ["github:NixOS/nixpkgs", "latest", "github:NixOS/nixpkgs", false],
      ["github:NixOS/nixpkgs/nixos-24.05", "latest", "github:NixOS/nixpkgs/nixos-24.05", false],
      [
        "github:NixOS/nixpkgs/nixos-24.05",
        "nixos-24.11",
        "github:NixOS/nixpkgs?ref=nixos-24.11",
        false,
      ],
      ["github:NixOS/nixpkgs?dir=lib", "v1", "github:NixOS/nixpkgs?dir=lib&ref=v1", false],
      ["github:NixOS/nixpkgs?ref=a", commit, `github:NixOS/nixpkgs?rev=${commit}`, true],
      [`github:o/r?rev=${commit}`, "latest", `github:o/r?rev=${commit}`, true],
    ];
    for (const [ref, tag, expected, pinned] of cases) {
      assert.deepEqual(await flakeReferenceForTag(ref, tag, noRunner), { ref: expected, pinned });
    }
    await assert.rejects(flakeReferenceForTag("github:o/r", "-x", noRunner), TagNotFound);
  });

  it("lets a tag select nothing of a path or another kind of reference", async () => {
    for (const ref of ["/srv/flake", "path:/srv/flake", "nixpkgs"]) {
      assert.deepEqual(await flakeReferenceForTag(ref, "v1", noRunner), { ref, pinned: false });
    }
  });
});

describe("nix flake metadata --json", () => {
  async function sample(version: string, name: string): Promise<{ stdout: string }> {
    const file = join(nixOutputFixtures, version, `flake-metadata-${name}.json`);
    return JSON.parse(await readFile(file, "utf8")) as { stdout: string };
  }

  for (const version of ["2.8", "2.26", "2.34"]) {
    it(`reads the locked reference and revision of Nix ${version}`, async () => {
      const git = parseFlakeMetadata((await sample(version, "git-tag")).stdout);
      assert.match(git.lockedRef, /^git\+file:\/\/\/.*[?&]rev=[0-9a-f]{40}/);
      assert.match(git.rev!, /^[0-9a-f]{40}$/);
      assert.equal(flakeRevision(git), git.rev);
      assert.match(git.lockedRef, new RegExp(`rev=${git.rev}`));

      const path = parseFlakeMetadata((await sample(version, "path")).stdout);
      assert.match(path.lockedRef, /^path:\/.*narHash=sha256-/);
      assert.equal(path.rev, null);
      assert.match(flakeRevision(path)!, /^sha256-[A-Za-z0-9+/]+=$/);

      // A dirty tree has no commit (2.26 says `dirtyRevision`, which is not one).
      const dirty = parseFlakeMetadata((await sample(version, "git-dirty")).stdout);
      assert.equal(dirty.rev, null);
      assert.match(flakeRevision(dirty)!, /^sha256-/);
    });
  }

  it("prefers lockedUrl where Nix prints one", () => {
    const parsed = parseFlakeMetadata(
      JSON.stringify({
        url: "github:o/r",
        lockedUrl: `github:o/r/${commit}?narHash=sha256-x`,
        locked: { rev: commit, narHash: "sha256-x" },
      }),
    );
    assert.equal(parsed.lockedRef, `github:o/r/${commit}?narHash=sha256-x`);
    assert.equal(parsed.rev, commit);
  });

  it("refuses output without a locked reference", () => {
    assert.throws(() => parseFlakeMetadata("not json"), /no JSON/);
    assert.throws(() => parseFlakeMetadata('{"locked":{}}'), /no locked reference/);
  });
});
