// symlinkLayerEntries on real package trees: the buildEnv-style merge table, first-package-wins
// collisions, the fixed /tmp, /usr/bin/env and /etc entries, and the packed layer as tar sees it.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { packLayer } from "./pack-layer.ts";
import { etcFiles, nonrootEtcFiles, symlinkLayerEntries } from "./symlink-layer.ts";
import type { TarEntrySpec } from "./tar-entry.ts";

let store: string;
before(async () => {
  store = await mkdtemp(join(tmpdir(), "symlink-layer-"));
});
after(async () => {
  await rm(store, { recursive: true, force: true });
});

/** Creates a package from `{ "bin/hello": "content", "lib": "->target" }` and returns its path. */
async function makePackage(name: string, files: Record<string, string>): Promise<string> {
  const root = join(store, name);
  await mkdir(root, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    if (content.startsWith("->")) await symlink(content.slice(2), join(root, path));
    else if (content === "/") await mkdir(join(root, path), { recursive: true });
    else await writeFile(join(root, path), content);
  }
  return root;
}

/** Entries as short strings, leaving out the fixed tmp/ and etc/ files unless asked. */
function describeEntries(entries: TarEntrySpec[], keepFixed = false): string[] {
  return entries
    .filter(
      (e) => keepFixed || !(e.name === "tmp" || e.name === "etc" || e.name.startsWith("etc/")),
    )
    .map((e) => {
      if (e.type === "symlink") return `${e.name} -> ${e.target.replace(`${store}/`, "")}`;
      if (e.type === "directory") return `${e.name}/ ${e.mode.toString(8)}`;
      return `${e.name} ${e.mode.toString(8)} (${"bytes" in e.content ? "bytes" : e.content.path})`;
    });
}

describe("symlinkLayerEntries", () => {
  it("links each directory of a single package into the store and adds tmp, usr/bin/env and etc", async () => {
    const hello = await makePackage("a-hello", {
      "bin/hello": "x",
      "share/man/man1/hello.1": "x",
      "nix-support/x": "x",
    });
    const entries = await symlinkLayerEntries([hello], {
      envBinary: "/nix/store/c-coreutils/bin/env",
    });
    assert.deepEqual(describeEntries(entries, true), [
      "bin -> a-hello/bin",
      "etc/ 755",
      "etc/group 644 (bytes)",
      "etc/nsswitch.conf 644 (bytes)",
      "etc/passwd 644 (bytes)",
      "share -> a-hello/share",
      "tmp/ 1777",
      "usr/ 755",
      "usr/bin/ 755",
      "usr/bin/env -> /nix/store/c-coreutils/bin/env",
    ]);
    const passwd = entries.find((e) => e.name === "etc/passwd");
    assert.ok(passwd?.type === "file" && "bytes" in passwd.content);
    assert.match(
      new TextDecoder().decode(passwd.content.bytes),
      /^root:x:0:0:.*\nnobody:x:65534:65534:/,
    );
  });

  it("makes a real directory for a directory two packages share, and links their files", async () => {
    const a = await makePackage("two-a", { "bin/a": "x", "lib/liba.so": "x" });
    const b = await makePackage("two-b", { "bin/b": "x" });
    assert.deepEqual(describeEntries(await symlinkLayerEntries([a, b], { envBinary: null })), [
      "bin/ 755",
      "bin/a -> two-a/bin/a",
      "bin/b -> two-b/bin/b",
      "lib -> two-a/lib",
    ]);
  });

  it("lets the first package win a file collision", async () => {
    const a = await makePackage("coll-a", { "bin/tool": "a", "bin/only-a": "a" });
    const b = await makePackage("coll-b", { "bin/tool": "b" });
    assert.deepEqual(describeEntries(await symlinkLayerEntries([a, b])), [
      "bin/ 755",
      "bin/only-a -> coll-a/bin/only-a",
      "bin/tool -> coll-a/bin/tool",
    ]);
    assert.deepEqual(describeEntries(await symlinkLayerEntries([b, a])), [
      "bin/ 755",
      "bin/only-a -> coll-a/bin/only-a",
      "bin/tool -> coll-b/bin/tool",
    ]);
    // A file against a directory: the first provider decides too.
    const c = await makePackage("coll-c", { "bin/tool/inner": "c" });
    assert.deepEqual(describeEntries(await symlinkLayerEntries([c, a])).slice(0, 3), [
      "bin/ 755",
      "bin/only-a -> coll-a/bin/only-a",
      "bin/tool -> coll-c/bin/tool",
    ]);
  });

  it("merges as deep as needed and follows symlinks to directories", async () => {
    const a = await makePackage("deep-a", {
      "share/man/man1/a.1": "x",
      "share/doc/a/README": "x",
      "lib64/liba.so": "x",
      lib: "->lib64",
    });
    const b = await makePackage("deep-b", {
      "share/man/man1/b.1": "x",
      "share/man/man5/b.5": "x",
      "lib/libb.so": "x",
    });
    assert.deepEqual(describeEntries(await symlinkLayerEntries([a, b])), [
      "lib/ 755",
      "lib/liba.so -> deep-a/lib/liba.so",
      "lib/libb.so -> deep-b/lib/libb.so",
      "lib64 -> deep-a/lib64",
      "share/ 755",
      "share/doc -> deep-a/share/doc",
      "share/man/ 755",
      "share/man/man1/ 755",
      "share/man/man1/a.1 -> deep-a/share/man/man1/a.1",
      "share/man/man1/b.1 -> deep-b/share/man/man1/b.1",
      "share/man/man5 -> deep-b/share/man/man5",
    ]);
  });

  it("keeps a package's own /etc files and fills in the missing ones", async () => {
    const certs = await makePackage("etc-certs", {
      "etc/ssl/certs/ca-bundle.crt": "x",
      "etc/passwd": "mine",
    });
    const entries = await symlinkLayerEntries([certs]);
    assert.deepEqual(
      describeEntries(entries, true).filter((e) => e.startsWith("etc")),
      [
        "etc/ 755",
        "etc/group 644 (bytes)",
        "etc/nsswitch.conf 644 (bytes)",
        "etc/passwd -> etc-certs/etc/passwd",
        "etc/ssl -> etc-certs/etc/ssl",
      ],
    );
  });

  it("lets tmp and usr/bin/env override packages, and merges a package's usr", async () => {
    const a = await makePackage("fixed-a", {
      "tmp/junk": "x",
      "usr/share/x": "x",
      "usr/bin/env": "theirs",
    });
    const names = describeEntries(await symlinkLayerEntries([a], { envBinary: "/e/env" }), true);
    assert.ok(names.includes("tmp/ 1777"));
    assert.ok(!names.some((n) => n.startsWith("tmp/junk")));
    assert.deepEqual(
      names.filter((n) => n.startsWith("usr")),
      ["usr/ 755", "usr/bin/ 755", "usr/bin/env -> /e/env", "usr/share -> fixed-a/usr/share"],
    );
  });

  it("packs into a layer whose tmp is drwxrwxrwt and whose etc files are readable text", async () => {
    const a = await makePackage("pack-a", { "bin/a": "x" });
    const destination = join(store, "symlink-layer.tar.gz");
    const entries = await symlinkLayerEntries([a], { envBinary: "/e/env" });
    const first = await packLayer(entries, destination);
    const second = await packLayer(
      await symlinkLayerEntries([a], { envBinary: "/e/env" }),
      join(store, "again.tar.gz"),
    );
    assert.equal(second.digest, first.digest);
    const listing = execFileSync("tar", ["-tvf", destination])
      .toString()
      .replace(/ +/g, " ")
      .split("\n");
    assert.ok(
      listing.some((l) => /^drwxrwxrwt 0\/0 0 .* tmp\/$/.test(l)),
      listing.join("\n"),
    );
    assert.ok(listing.some((l) => l.endsWith(`bin -> ${a}/bin`)));
    const passwd = execFileSync("tar", ["-xzOf", destination, "etc/passwd"]).toString();
    assert.equal(passwd, etcFiles.passwd);
  });

  it("keeps a root image's layer byte for byte as before nonroot existed (pinned diff id)", async () => {
    // Recorded from main before the nonroot meta-package: a root image's top layer (and so its
    // digest and every manifest over it) must not change.
    const env = "/nix/store/00000000000000000000000000000000-coreutils-9.1/bin/env";
    for (const entries of [
      await symlinkLayerEntries([], { envBinary: env }),
      await symlinkLayerEntries([], { envBinary: env, nonroot: false }),
    ]) {
      const packed = await packLayer(entries, join(store, "pinned.tar.gz"));
      assert.equal(
        packed.diffId,
        "sha256:0ce37081a0945cc931380012c7a7c275bb7553a0496648ac31269a66753d4d70",
      );
    }
  });

  it("adds the nonroot user to passwd and group, over a package's own, and its home", async () => {
    const certs = await makePackage("nonroot-etc", {
      "etc/ssl/certs/ca-bundle.crt": "x",
      "etc/passwd": "mine",
    });
    const entries = await symlinkLayerEntries([certs], { nonroot: true });
    assert.deepEqual(
      describeEntries(entries, true).filter((e) => /^(etc|home|tmp)/.test(e)),
      [
        "etc/ 755",
        "etc/group 644 (bytes)",
        "etc/nsswitch.conf 644 (bytes)",
        "etc/passwd 644 (bytes)",
        "etc/ssl -> nonroot-etc/etc/ssl",
        "home/ 755",
        "home/nonroot/ 755",
        "tmp/ 1777",
      ],
    );
    assert.equal(
      nonrootEtcFiles.passwd,
      "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/var/empty:/bin/false\n" +
        "nonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh\n",
    );
    assert.equal(nonrootEtcFiles.group, "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n");

    const destination = join(store, "nonroot.tar.gz");
    await packLayer(entries, destination);
    const listing = execFileSync("tar", ["--numeric-owner", "-tvzf", destination])
      .toString()
      .replace(/ +/g, " ")
      .split("\n");
    assert.ok(
      listing.some((l) => /^drwxr-xr-x 65532\/65532 0 .* home\/nonroot\/$/.test(l)),
      listing.join("\n"),
    );
    assert.ok(listing.some((l) => /^drwxr-xr-x 0\/0 0 .* home\/$/.test(l)));
    assert.ok(listing.some((l) => /^drwxrwxrwt 0\/0 0 .* tmp\/$/.test(l)));
    const passwd = execFileSync("tar", ["-xzOf", destination, "etc/passwd"]).toString();
    assert.equal(passwd, nonrootEtcFiles.passwd);
    const group = execFileSync("tar", ["-xzOf", destination, "etc/group"]).toString();
    assert.equal(group, nonrootEtcFiles.group);
  });
});
