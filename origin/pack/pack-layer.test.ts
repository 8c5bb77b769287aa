// packLayer on real files: digests checked against gzip(1) and node:crypto, the tar read back by
// GNU tar, determinism, and failures that must reject and leave no partial file.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { DeflatePool } from "./deflate-pool.ts";
import { gzipModeFor, packFormatVersion, packLayer } from "./pack-layer.ts";
import type { TarEntrySpec } from "./tar-entry.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pack-layer-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

function tarListing(file: string): string[] {
  const out = execFileSync("tar", ["--full-time", "-tvf", file], {
    env: { ...process.env, TZ: "UTC" },
  });
  return out.toString().trimEnd().replace(/ +/g, " ").split("\n");
}

async function sampleEntries(): Promise<TarEntrySpec[]> {
  const big = join(dir, "big.bin");
  // Deterministic, partly compressible content bigger than every internal buffer.
  const block = createHash("sha512").update("seed").digest();
  const content = Buffer.concat(
    Array.from({ length: 40_000 }, (_, i) => (i % 3 ? block : Buffer.alloc(64, i))),
  );
  await writeFile(big, content);
  const longName = `deep/${"d".repeat(90)}/${"f".repeat(90)}/file-with-a-long-name.txt`;
  return [
    { type: "directory", name: "deep", mode: 0o755 },
    {
      type: "file",
      name: "big.bin",
      mode: 0o444,
      content: { path: big, size: content.byteLength },
    },
    {
      type: "file",
      name: "hello.txt",
      mode: 0o644,
      content: { bytes: new TextEncoder().encode("hello\n") },
    },
    {
      type: "file",
      name: "run.sh",
      mode: 0o555,
      content: { bytes: new TextEncoder().encode("#!/bin/sh\n") },
    },
    { type: "file", name: "empty", mode: 0o444, content: { bytes: new Uint8Array() } },
    { type: "symlink", name: "link", target: "/nix/store/x-hello/bin/hello" },
    { type: "symlink", name: "long-link", target: `/nix/store/${"t".repeat(120)}` },
    {
      type: "file",
      name: longName,
      mode: 0o444,
      content: { bytes: new TextEncoder().encode("long\n") },
    },
    {
      type: "file",
      name: "ünïcode",
      mode: 0o444,
      content: { bytes: new TextEncoder().encode("u\n") },
    },
  ];
}

describe("packLayer", () => {
  it("returns the digests and sizes that gzip(1) and sha256 compute independently", async () => {
    const destination = join(dir, "layer.tar.gz");
    const packed = await packLayer(await sampleEntries(), destination);
    const gz = await readFile(destination);
    const tar = gunzipSync(gz);
    assert.equal(packed.digest, sha256(gz));
    assert.equal(packed.diffId, sha256(tar));
    assert.equal(packed.size, gz.byteLength);
    assert.equal(packed.tarSize, tar.byteLength);

    const viaGzip = spawnSync("bash", ["-c", 'gzip -dc "$1" | sha256sum', "bash", destination]);
    assert.equal(viaGzip.status, 0);
    assert.equal(`sha256:${viaGzip.stdout.toString().split(" ")[0]}`, packed.diffId);
  });

  it("writes a gzip header with mtime 0 and no file name", async () => {
    const destination = join(dir, "header.tar.gz");
    await packLayer(await sampleEntries(), destination);
    const gz = await readFile(destination);
    assert.deepEqual([...gz.subarray(0, 4)], [0x1f, 0x8b, 8, 0]); // magic, deflate, no FNAME/FEXTRA
    assert.equal(gz.readUInt32LE(4), 0); // MTIME
    assert.equal(gz[9], 3); // OS: Unix
  });

  it("writes entries GNU tar reads back with fixed metadata", async () => {
    const destination = join(dir, "listing.tar.gz");
    await packLayer(await sampleEntries(), destination);
    const lines = tarListing(destination);
    const epoch = "1970-01-01 00:00:01";
    assert.equal(lines[0], `drwxr-xr-x 0/0 0 ${epoch} deep/`);
    assert.match(lines[1]!, new RegExp(`^-r--r--r-- 0/0 \\d+ ${epoch} big.bin$`));
    assert.equal(lines[2], `-rw-r--r-- 0/0 6 ${epoch} hello.txt`);
    assert.equal(lines[3], `-r-xr-xr-x 0/0 10 ${epoch} run.sh`);
    assert.equal(lines[4], `-r--r--r-- 0/0 0 ${epoch} empty`);
    assert.equal(lines[5], `lrwxrwxrwx 0/0 0 ${epoch} link -> /nix/store/x-hello/bin/hello`);
    assert.equal(lines[6], `lrwxrwxrwx 0/0 0 ${epoch} long-link -> /nix/store/${"t".repeat(120)}`);
    assert.match(lines[7]!, /deep\/d{90}\/f{90}\/file-with-a-long-name\.txt$/);
    assert.match(lines[8]!, /ünïcode$/);
    assert.equal(lines.length, 9);

    const out = join(dir, "extracted");
    await mkdir(out);
    execFileSync("tar", ["-xzf", destination, "-C", out]);
    assert.equal(await readFile(join(out, "hello.txt"), "utf8"), "hello\n");
    assert.deepEqual(await readFile(join(out, "big.bin")), await readFile(join(dir, "big.bin")));
  });

  it("is deterministic: the same entries twice give identical bytes", async () => {
    const a = await packLayer(await sampleEntries(), join(dir, "a.tar.gz"));
    const b = await packLayer(await sampleEntries(), join(dir, "b.tar.gz"));
    assert.deepEqual(a, b);
    assert.deepEqual(await readFile(join(dir, "a.tar.gz")), await readFile(join(dir, "b.tar.gz")));
  });

  it("gives a different digest for another gzip level but the same diffId", async () => {
    const six = await packLayer(await sampleEntries(), join(dir, "six.tar.gz"));
    const one = await packLayer(await sampleEntries(), join(dir, "one.tar.gz"), { gzipLevel: 1 });
    assert.equal(one.diffId, six.diffId);
    assert.notEqual(one.digest, six.digest);
  });

  it("gives one digest whatever the number of workers, gzip(1) reads it, and a tar of exactly two blocks ends right", async () => {
    // Header (512) + content + end of archive (1024) = 2 MiB: the stream ends on a block cut.
    const exactBytes = 2 * 1024 * 1024 - 1536;
    const exact = join(dir, "exact.bin");
    await sampleEntries(); // writes big.bin (2.5 MB)
    await writeFile(exact, (await readFile(join(dir, "big.bin"))).subarray(0, exactBytes));
    const layers = [
      {
        name: "multi",
        entries: async () => [
          ...(await sampleEntries()),
          ...(await sampleEntries()).map((e) => ({ ...e, name: `again/${e.name}` })),
        ],
      },
      {
        name: "exact",
        entries: async (): Promise<TarEntrySpec[]> => [
          {
            type: "file",
            name: "e",
            mode: 0o444,
            content: { path: exact, size: exactBytes },
          },
        ],
      },
    ];
    for (const layer of layers) {
      const packed = [];
      for (const size of [1, 2, 4]) {
        const pool = new DeflatePool(size);
        try {
          packed.push(
            await packLayer(await layer.entries(), join(dir, `${layer.name}-${size}.tar.gz`), {
              pool,
            }),
          );
        } finally {
          await pool.close();
        }
      }
      assert.deepEqual(packed[1], packed[0], layer.name);
      assert.deepEqual(packed[2], packed[0], layer.name);
      const file = join(dir, `${layer.name}-2.tar.gz`);
      const gz = await readFile(file);
      assert.equal(packed[0]!.digest, sha256(gz));
      assert.equal(packed[0]!.diffId, sha256(gunzipSync(gz)));
      assert.equal(spawnSync("gzip", ["-t", file]).status, 0, `gzip -t ${layer.name}`);
    }
    const exactLayer = await readFile(join(dir, "exact-1.tar.gz"));
    assert.equal(exactLayer.readUInt32LE(exactLayer.byteLength - 4), 2 * 1024 * 1024);
  });

  it("packs a layer recorded by the one-stream packer (pack-v1) byte for byte again", async () => {
    const old = await packLayer(await sampleEntries(), join(dir, "v1.tar.gz"), {
      gzip: "single-stream",
    });
    const v1 = gzipModeFor(`pack-v1-zlib${process.versions.zlib}`);
    assert.equal(v1, "single-stream");
    const again = await packLayer(await sampleEntries(), join(dir, "v1-again.tar.gz"), {
      gzip: v1!,
    });
    assert.deepEqual(again, old);
    const current = await packLayer(await sampleEntries(), join(dir, "v2.tar.gz"), {
      gzip: gzipModeFor(packFormatVersion)!,
    });
    assert.equal(current.diffId, old.diffId);
    assert.notEqual(current.digest, old.digest, "blocks and one stream are different bytes");
    assert.equal(gzipModeFor("pack-v4-something"), null);
    assert.equal(gzipModeFor("test"), null);
  });

  it("packs a layer recorded by the memLevel 8 block packer (pack-v2) byte for byte again", async () => {
    const old = await packLayer(await sampleEntries(), join(dir, "v2.tar.gz"), {
      gzip: "blocks-mem8",
    });
    const v2 = gzipModeFor(`pack-v2-blocks1024k-zlib${process.versions.zlib}`);
    assert.equal(v2, "blocks-mem8");
    const again = await packLayer(await sampleEntries(), join(dir, "v2-again.tar.gz"), {
      gzip: v2!,
    });
    assert.deepEqual(again, old);
    const current = await packLayer(await sampleEntries(), join(dir, "v3.tar.gz"), {});
    assert.equal(gzipModeFor(packFormatVersion), "blocks");
    assert.equal(current.diffId, old.diffId);
    assert.notEqual(current.digest, old.digest, "memLevel 8 and 9 are different bytes");
    assert.equal(spawnSync("gzip", ["-t", join(dir, "v3.tar.gz")]).status, 0);
  });

  it("rejects and removes the partial file when a file disappears mid-pack", async () => {
    const doomed = join(dir, "doomed.bin");
    await writeFile(doomed, randomBytes(1000));
    const entries = await sampleEntries();
    async function* disappearing(): AsyncIterable<TarEntrySpec> {
      yield* entries; // big.bin goes first, so the destination already holds data
      await rm(doomed);
      yield {
        type: "file",
        name: "doomed.bin",
        mode: 0o444,
        content: { path: doomed, size: 1000 },
      };
    }
    const destination = join(dir, "disappearing.tar.gz");
    await assert.rejects(packLayer(disappearing(), destination), /ENOENT/);
    assert.equal(existsSync(destination), false);
  });

  it("rejects a file whose size changed since its entry was made", async () => {
    // Small files are read in one call, larger ones streamed: both paths must notice.
    const path = join(dir, "changing.bin");
    const destination = join(dir, "changing.tar.gz");
    const cases = [
      { recorded: 300_000, actual: 1000, error: /shrank/ },
      { recorded: 1000, actual: 300, error: /shrank/ },
      { recorded: 1000, actual: 300_000, error: /grew/ },
      { recorded: 100_000, actual: 300_000, error: /grew/ },
    ];
    for (const { recorded, actual, error } of cases) {
      await writeFile(path, randomBytes(actual));
      const entry: TarEntrySpec = {
        type: "file",
        name: "c",
        mode: 0o444,
        content: { path, size: recorded },
      };
      await assert.rejects(packLayer([entry], destination), error, `${recorded} → ${actual}`);
      assert.equal(existsSync(destination), false);
    }
  });

  it("rejects invalid names", async () => {
    const destination = join(dir, "invalid.tar.gz");
    for (const name of ["/abs", "a/../b", "a//b", "", "trailing/"]) {
      await assert.rejects(
        packLayer([{ type: "directory", name, mode: 0o755 }], destination),
        /invalid tar entry name/,
      );
      assert.equal(existsSync(destination), false);
    }
  });

  it("rejects and removes the partial file when the disk is full", async (t) => {
    const small = join(dir, "small-fs");
    await mkdir(small);
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", small]).status !== 0) {
      t.skip("cannot mount a tmpfs here");
      return;
    }
    try {
      const noise = join(dir, "noise.bin");
      await writeFile(noise, randomBytes(2 * 1024 * 1024)); // incompressible, larger than the tmpfs
      const destination = join(small, "layer.tar.gz");
      const entry: TarEntrySpec = {
        type: "file",
        name: "n",
        mode: 0o444,
        content: { path: noise, size: 2 << 20 },
      };
      await assert.rejects(packLayer([entry], destination), /ENOSPC/);
      assert.equal(existsSync(destination), false);
    } finally {
      spawnSync("umount", [small]);
    }
  });

  it("keeps memory bounded for large files and for floods of header-only entries", () => {
    // Measured in a fresh process: this one's heap depends on the tests that ran before it.
    // Peak about 150 MiB here; without the header backpressure it passes 300 MiB.
    const child = fileURLToPath(
      new URL("../../test/support/pack-memory-child.ts", import.meta.url),
    );
    const run = spawnSync(process.execPath, ["--import", "tsx", child, dir], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as {
      tarSize: number;
      expectedTarSize: number;
      rssBeforeKiB: number;
      peakRssKiB: number;
    };
    assert.equal(report.tarSize, report.expectedTarSize);
    const message = `peak RSS ${report.peakRssKiB >> 10} MiB, ${report.rssBeforeKiB >> 10} MiB before`;
    assert.ok(report.peakRssKiB < 200 * 1024, message);
    assert.ok(report.peakRssKiB - report.rssBeforeKiB < 120 * 1024, message);
  });
});
