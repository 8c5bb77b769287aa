// Child process for the packer's memory test: packs a 512 MiB sparse file followed by 200,000
// symlinks and prints its resident memory before and at peak. A fresh process keeps the
// measurement free of whatever the test runner allocated before.
// Usage: node --import tsx test/support/pack-memory-child.ts <scratch-dir>

import { readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { packLayer } from "../../origin/pack/pack-layer.ts";
import type { TarEntrySpec } from "../../origin/pack/tar-entry.ts";

async function statusKiB(field: string): Promise<number> {
  const status = await readFile("/proc/self/status", "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return match ? Number(match[1]) : Number.NaN;
}

const [dir] = process.argv.slice(2);
if (!dir) throw new Error("usage: pack-memory-child.ts <scratch-dir>");

const sparseSize = 512 * 1024 * 1024;
const symlinks = 200_000;
const sparse = join(dir, "sparse.bin");
await writeFile(sparse, "");
await truncate(sparse, sparseSize);

function* entries(): Iterable<TarEntrySpec> {
  yield { type: "file", name: "sparse", mode: 0o444, content: { path: sparse, size: sparseSize } };
  // 200k symlinks are 100 MB of tar headers that tar-stream pushes without backpressure.
  for (let i = 0; i < symlinks; i++) yield { type: "symlink", name: `l/${i}`, target: "/x" };
}

const rssBeforeKiB = await statusKiB("VmRSS");
const packed = await packLayer(entries(), join(dir, "large.tar.gz"), { gzipLevel: 1 });
console.log(
  JSON.stringify({
    tarSize: packed.tarSize,
    size: packed.size,
    expectedTarSize: 512 + sparseSize + symlinks * 512 + 1024,
    rssBeforeKiB,
    peakRssKiB: await statusKiB("VmHWM"),
  }),
);
