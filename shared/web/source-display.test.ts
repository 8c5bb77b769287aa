import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { publicSource } from "./source-display.ts";

const rev = "0123456789abcdef0123456789abcdef01234567";

describe("public source", () => {
  it("links a known forge's commit, in each URL form", () => {
    for (const url of [
      "https://github.com/NixOS/nixpkgs",
      "https://github.com/NixOS/nixpkgs.git",
      "git@github.com:NixOS/nixpkgs.git",
      "ssh://git@github.com/NixOS/nixpkgs.git",
    ]) {
      assert.deepEqual(publicSource(`git:${url}`, rev), {
        label: "github.com/NixOS/nixpkgs",
        url: "https://github.com/NixOS/nixpkgs",
        revision: rev,
        revisionUrl: `https://github.com/NixOS/nixpkgs/commit/${rev}`,
      });
    }
    assert.equal(
      publicSource("git:https://gitlab.com/group/pkgs", rev).revisionUrl,
      `https://gitlab.com/group/pkgs/-/commit/${rev}`,
    );
  });

  it("names an unknown forge without a commit link, and a channel by its branch", () => {
    const own = publicSource("git:https://git.example.org/ops/pkgs.git", rev);
    assert.equal(own.label, "git.example.org/ops/pkgs");
    assert.equal(own.revisionUrl, null);
    const channel = publicSource(
      "channel:https://github.com/NixOS/nixpkgs/archive/nixos-24.05.tar.gz",
      "nixos-24.05",
    );
    assert.equal(channel.url, "https://github.com/NixOS/nixpkgs/archive/nixos-24.05.tar.gz");
    assert.equal(channel.revisionUrl, "https://github.com/NixOS/nixpkgs/tree/nixos-24.05");
  });

  it("names a flake on a forge, and hides one on the origin's disk or a private host", () => {
    const forge = publicSource("flake:github:NixOS/nixpkgs/nixos-24.05", rev);
    assert.equal(forge.label, "github.com/NixOS/nixpkgs");
    assert.equal(forge.revisionUrl, `https://github.com/NixOS/nixpkgs/commit/${rev}`);
    assert.equal(
      publicSource("flake:git+https://codeberg.org/me/pkgs?ref=main", rev).label,
      "codeberg.org/me/pkgs",
    );
    for (const id of [
      "flake:git+file:///srv/secret/flake",
      "flake:path:/srv/secret/flake",
      "flake:/srv/secret/flake",
      "flake:git+ssh://***@127.0.0.1/srv/secret/flake",
    ]) {
      const shown = publicSource(id, rev);
      assert.equal(shown.label, "a flake of the operator's", id);
      assert.doesNotMatch(JSON.stringify(shown), /srv|secret|127\.0/, id);
    }
  });

  it("never shows a path on the origin's disk, a private host or credentials", () => {
    for (const id of [
      "path:/srv/secret/pkgs",
      "git:/srv/secret/repo",
      "git:file:///srv/secret/repo",
      "git:https://***@github.com/org/private",
      "git:https://localhost/org/repo",
      "git:https://10.0.0.7/org/repo",
      "channel:file:///srv/secret/nixexprs.tar.xz",
    ]) {
      const shown = JSON.stringify(publicSource(id, rev));
      assert.doesNotMatch(shown, /srv|secret|\*\*\*|localhost|10\.0\.0\.7/, id);
    }
  });
});
