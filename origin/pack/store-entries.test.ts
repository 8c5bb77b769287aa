// storePathEntries on a real store tree under a temporary root: names, Nix-store modes, order,
// hard links, empty directories, refused file types, and byte-for-byte identical layers.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import {
  chmod,
  cp,
  link,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { packLayer } from "./pack-layer.ts";
import { storePathEntries } from "./store-entries.ts";
import type { TarEntrySpec } from "./tar-entry.ts";

const hello = "/nix/store/0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-2.12";
const libfoo = "/nix/store/1bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-libfoo-1.0";
const script = "/nix/store/2ccccccccccccccccccccccccccccccc-builder.sh";

let dir: string;
let root: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "store-entries-"));
  root = join(dir, "root-a");
  await makeStore(root);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function makeStore(at: string): Promise<void> {
  const h = join(at, hello);
  await mkdir(join(h, "bin"), { recursive: true });
  await mkdir(join(h, "share/empty"), { recursive: true });
  await writeFile(join(h, "bin/hello"), "#!/bin/sh\necho hello\n");
  await chmod(join(h, "bin/hello"), 0o744); // only the owner may execute: still 0555 in the store
  await writeFile(join(h, "share/README"), "read me\n");
  await link(join(h, "share/README"), join(h, "share/README.hardlink"));
  // Byte order: "B" < "a" < "a-b" < "a.b" < "a_b" < "b" < "é"
  for (const name of ["é", "b", "a_b", "a.b", "a-b", "a", "B"])
    await writeFile(join(h, "share", name), name);
  await symlink("../share/README", join(h, "bin/readme"));
  await symlink(libfoo, join(h, "lib"));
  await mkdir(join(at, libfoo, "lib"), { recursive: true });
  await writeFile(join(at, libfoo, "lib/libfoo.so"), Buffer.alloc(100_000, 7));
  await chmod(join(at, libfoo, "lib/libfoo.so"), 0o755);
  await writeFile(join(at, script), "echo build\n");
}

async function collect(entries: AsyncIterable<TarEntrySpec>): Promise<TarEntrySpec[]> {
  const all: TarEntrySpec[] = [];
  for await (const entry of entries) all.push(entry);
  return all;
}

function tarListing(file: string): string[] {
  const out = execFileSync("tar", ["--full-time", "-tvf", file], {
    env: { ...process.env, TZ: "UTC" },
  });
  return out.toString().trimEnd().replace(/ +/g, " ").split("\n");
}

describe("storePathEntries", () => {
  it("lists store paths under their full names with Nix-store metadata, depth first in byte order", async () => {
    const destination = join(dir, "store.tar.gz");
    await packLayer(storePathEntries([script, libfoo, hello, hello], { root }), destination);
    const t = "0/0";
    const time = "1970-01-01 00:00:01";
    assert.deepEqual(tarListing(destination), [
      `drwxr-xr-x ${t} 0 ${time} nix/`,
      `drwxr-xr-x ${t} 0 ${time} nix/store/`,
      `dr-xr-xr-x ${t} 0 ${time} ${hello.slice(1)}/`,
      `dr-xr-xr-x ${t} 0 ${time} ${hello.slice(1)}/bin/`,
      `-r-xr-xr-x ${t} 21 ${time} ${hello.slice(1)}/bin/hello`,
      `lrwxrwxrwx ${t} 0 ${time} ${hello.slice(1)}/bin/readme -> ../share/README`,
      `lrwxrwxrwx ${t} 0 ${time} ${hello.slice(1)}/lib -> ${libfoo}`,
      `dr-xr-xr-x ${t} 0 ${time} ${hello.slice(1)}/share/`,
      `-r--r--r-- ${t} 1 ${time} ${hello.slice(1)}/share/B`,
      `-r--r--r-- ${t} 8 ${time} ${hello.slice(1)}/share/README`,
      `-r--r--r-- ${t} 8 ${time} ${hello.slice(1)}/share/README.hardlink`,
      `-r--r--r-- ${t} 1 ${time} ${hello.slice(1)}/share/a`,
      `-r--r--r-- ${t} 3 ${time} ${hello.slice(1)}/share/a-b`,
      `-r--r--r-- ${t} 3 ${time} ${hello.slice(1)}/share/a.b`,
      `-r--r--r-- ${t} 3 ${time} ${hello.slice(1)}/share/a_b`,
      `-r--r--r-- ${t} 1 ${time} ${hello.slice(1)}/share/b`,
      `dr-xr-xr-x ${t} 0 ${time} ${hello.slice(1)}/share/empty/`,
      `-r--r--r-- ${t} 2 ${time} ${hello.slice(1)}/share/é`,
      `dr-xr-xr-x ${t} 0 ${time} ${libfoo.slice(1)}/`,
      `dr-xr-xr-x ${t} 0 ${time} ${libfoo.slice(1)}/lib/`,
      `-r-xr-xr-x ${t} 100000 ${time} ${libfoo.slice(1)}/lib/libfoo.so`,
      `-r--r--r-- ${t} 11 ${time} ${script.slice(1)}`,
    ]);

    const out = join(dir, "extracted");
    await mkdir(out);
    execFileSync("tar", ["-xzf", destination, "-C", out]);
    assert.equal(await readFile(join(out, hello, "share/README.hardlink"), "utf8"), "read me\n");
    assert.deepEqual(await readFile(join(out, libfoo, "lib/libfoo.so")), Buffer.alloc(100_000, 7));
  });

  it("gives byte-identical layers for the same paths packed twice and from another copy of the store", async () => {
    const otherRoot = join(dir, "elsewhere", "root-b");
    await cp(root, otherRoot, { recursive: true, verbatimSymlinks: true });
    const paths = [hello, libfoo, script];
    const a = await packLayer(storePathEntries(paths, { root }), join(dir, "a.tar.gz"));
    const again = await packLayer(
      storePathEntries([...paths].reverse(), { root }),
      join(dir, "again.tar.gz"),
    );
    const b = await packLayer(storePathEntries(paths, { root: otherRoot }), join(dir, "b.tar.gz"));
    assert.deepEqual(again, a);
    assert.deepEqual(b, a);
    assert.deepEqual(await readFile(join(dir, "b.tar.gz")), await readFile(join(dir, "a.tar.gz")));
  });

  it("rejects the layer, leaving no file, when a file disappears mid-pack", async () => {
    const victimRoot = join(dir, "victim");
    await cp(root, victimRoot, { recursive: true, verbatimSymlinks: true });
    async function* deleting(): AsyncIterable<TarEntrySpec> {
      for await (const entry of storePathEntries([hello, libfoo], { root: victimRoot })) {
        if (entry.name.endsWith("libfoo.so")) await rm(join(victimRoot, libfoo, "lib/libfoo.so"));
        yield entry;
      }
    }
    const destination = join(dir, "victim.tar.gz");
    await assert.rejects(packLayer(deleting(), destination), /ENOENT/);
    assert.equal(existsSync(destination), false);
  });

  it("refuses sockets, FIFOs and devices", async () => {
    const fifoRoot = join(dir, "fifo");
    const path = "/nix/store/3ddddddddddddddddddddddddddddddd-fifo";
    await mkdir(join(fifoRoot, path), { recursive: true });
    execFileSync("mkfifo", [join(fifoRoot, path, "pipe")]);
    await assert.rejects(
      collect(storePathEntries([path], { root: fifoRoot })),
      /cannot pack this file type/,
    );
  });

  it("refuses relative, unnormalized and nested paths", async () => {
    for (const bad of [
      ["nix/store/x"],
      ["/nix/store/x/"],
      ["/nix//store/x"],
      ["/nix/store/../x"],
      [hello, `${hello}/bin`],
    ]) {
      await assert.rejects(collect(storePathEntries(bad, { root })), /store path/, bad.join(" "));
    }
  });

  it("emits every parent directory of paths outside the store", async () => {
    const names = (await collect(storePathEntries([join(root, script)]))).map((e) => e.name);
    const parts = root.slice(1).split("/");
    const parents = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    assert.deepEqual(names, [
      ...parents,
      `${root.slice(1)}/nix`,
      `${root.slice(1)}/nix/store`,
      join(root, script).slice(1),
    ]);
  });
});

describe("names beyond ustar's limits", () => {
  it("keeps long paths, long symlink targets and non-ASCII names intact", async () => {
    const root = await mkdtemp(join(tmpdir(), "nixery-long-"));
    try {
      const deep = join(root, "d".repeat(90), "e".repeat(90), "f".repeat(90), "g".repeat(60));
      await mkdir(deep, { recursive: true });
      await writeFile(join(deep, "ünïcode-名前.txt"), "x");
      const target = `/nix/store/${"z".repeat(32)}-${"long-target".repeat(12)}/bin/thing`;
      await symlink(target, join(root, "link"));
      const layer = join(root, "layer.tar.gz");
      await packLayer(storePathEntries([join(root, "d".repeat(90)), join(root, "link")]), layer);
      const listing = execFileSync("tar", ["-tvzf", layer], { encoding: "utf8" });
      assert.ok(listing.includes(`${join(deep, "ünïcode-名前.txt").slice(1)}`), listing);
      assert.ok(listing.includes(`link -> ${target}`), listing);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
