import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RegistryError } from "./errors.ts";
import {
  assertValidTag,
  canonicalImageName,
  parseImageName,
  typedPackageName,
} from "./image-name.ts";

describe("parseImageName", () => {
  const cases: [string, string, string[]][] = [
    ["hello", "amd64", ["cacert", "hello", "iana-etc"]],
    ["htop/git", "amd64", ["cacert", "git", "htop", "iana-etc"]],
    ["git/htop", "amd64", ["cacert", "git", "htop", "iana-etc"]],
    [
      "shell/git",
      "amd64",
      ["bashInteractive", "cacert", "coreutils", "git", "iana-etc", "moreutils", "nano"],
    ],
    ["arm64/hello", "arm64", ["cacert", "hello", "iana-etc"]],
    [
      "arm64/shell",
      "arm64",
      ["bashInteractive", "cacert", "coreutils", "iana-etc", "moreutils", "nano"],
    ],
    // Meta-packages count only at the front.
    ["hello/shell", "amd64", ["cacert", "hello", "iana-etc", "shell"]],
    ["hello/arm64", "amd64", ["arm64", "cacert", "hello", "iana-etc"]],
    ["xorg.xev", "amd64", ["cacert", "iana-etc", "xorg.xev"]],
    ["1password", "amd64", ["_1password", "cacert", "iana-etc"]],
    ["tools.7zip", "amd64", ["cacert", "iana-etc", "tools._7zip"]],
    ["hello/hello/cacert", "amd64", ["cacert", "hello", "iana-etc"]],
  ];
  for (const [name, arch, packages] of cases) {
    it(`reads ${name}`, () => {
      const image = parseImageName(name);
      assert.equal(image.arch, arch);
      assert.deepEqual(image.packages, packages);
      assert.equal(image.name, name);
    });
  }

  it("says whether the name chose the architecture", () => {
    assert.equal(parseImageName("hello").archNamed, false);
    assert.equal(parseImageName("shell/hello").archNamed, false);
    assert.equal(parseImageName("hello/arm64").archNamed, false);
    assert.equal(parseImageName("arm64/hello").archNamed, true);
    assert.equal(parseImageName("shell/arm64/hello").archNamed, true);
  });

  it("shows attribute paths as the user typed them", () => {
    for (const [name, arch, packages] of cases) {
      if (arch !== "amd64" || name.includes("shell")) continue;
      const typed = new Set(name.split("/"));
      for (const pkg of packages) {
        if (!parseImageName("hello").optional.includes(pkg) || typed.has(pkg)) {
          assert.ok(typed.has(typedPackageName(pkg)), `${pkg} in ${name}`);
        }
      }
    }
    assert.equal(typedPackageName("_1password"), "1password");
    assert.equal(typedPackageName("tools._7zip"), "tools.7zip");
    assert.equal(typedPackageName("haskellPackages.pandoc"), "haskellPackages.pandoc");
  });

  it("marks the always-included packages optional unless the image names them", () => {
    assert.deepEqual(parseImageName("hello").optional, ["cacert", "iana-etc"]);
    assert.deepEqual(parseImageName("hello/cacert").optional, ["iana-etc"]);
    assert.deepEqual(parseImageName("iana-etc/cacert").optional, []);
  });

  it("reads nonroot at the front only, and keeps it out of the packages", () => {
    const image = parseImageName("nonroot/shell/git");
    assert.equal(image.nonroot, true);
    assert.deepEqual(image.packages, parseImageName("shell/git").packages);
    assert.equal(parseImageName("shell/nonroot/arm64/git").nonroot, true);
    assert.equal(parseImageName("shell/nonroot/arm64/git").arch, "arm64");
    assert.equal(parseImageName("shell/git").nonroot, false);
    const late = parseImageName("git/nonroot");
    assert.equal(late.nonroot, false);
    assert.ok(late.packages.includes("nonroot"));
  });

  it("gives nonroot images canonical names of their own and keeps root images' names", () => {
    assert.equal(
      canonicalImageName(parseImageName("shell/hello")),
      "amd64/" +
        ["bashInteractive", "cacert", "coreutils", "hello", "iana-etc", "moreutils", "nano"].join(
          "/",
        ),
    );
    assert.equal(
      canonicalImageName(parseImageName("nonroot/hello")),
      "amd64+nonroot/cacert/hello/iana-etc",
    );
    assert.equal(
      canonicalImageName(parseImageName("nonroot/shell/git")),
      canonicalImageName(parseImageName("shell/nonroot/git")),
    );
    assert.notEqual(
      canonicalImageName(parseImageName("nonroot/git")),
      canonicalImageName(parseImageName("git/nonroot")),
    );
    assert.notEqual(
      canonicalImageName(parseImageName("nonroot/git")),
      canonicalImageName(parseImageName("git")),
    );
  });

  it("gives one canonical name for every spelling", () => {
    assert.equal(
      canonicalImageName(parseImageName("git/htop")),
      canonicalImageName(parseImageName("htop/git")),
    );
    assert.notEqual(
      canonicalImageName(parseImageName("arm64/hello")),
      canonicalImageName(parseImageName("hello")),
    );
  });

  const invalid: [string, RegExp][] = [
    ["", /empty/],
    ["Hello", /invalid repository name component "Hello"/],
    ["hello//git", /component ""/],
    ["hello/", /component ""/],
    ["-hello", /component "-hello"/],
    ["hello..x", /component "hello..x"/],
    ["a".repeat(256), /256 characters long; the limit is 255/],
  ];
  for (const [name, message] of invalid) {
    it(`rejects ${JSON.stringify(name.slice(0, 20))} with NAME_INVALID`, () => {
      assert.throws(
        () => parseImageName(name),
        (error: unknown) =>
          error instanceof RegistryError &&
          error.code === "NAME_INVALID" &&
          message.test(error.message),
      );
    });
  }
});

describe("tags", () => {
  for (const tag of [
    "latest",
    "v1.2.3",
    "_x",
    "a".repeat(128),
    "0123456789abcdef0123456789abcdef01234567",
  ]) {
    it(`accepts ${tag.slice(0, 20)}`, () => assertValidTag(tag));
  }
  for (const tag of [".hidden", "-x", "a".repeat(129), "a/b", "a:b", ""]) {
    it(`rejects ${JSON.stringify(tag.slice(0, 20))}`, () =>
      assert.throws(() => assertValidTag(tag), { code: "TAG_INVALID" }));
  }
});
