// Child process of the packing benchmark: packs one path with packLayer and prints its peak
// memory, so the measurement is not polluted by the benchmark's own allocations.
// Usage: tsx test/bench/pack-rss-child.ts <path> <destination>

import { readFile } from "node:fs/promises";
import { packLayer } from "../../origin/pack/pack-layer.ts";
import { storePathEntries } from "../../origin/pack/store-entries.ts";

async function statusKiB(field: string): Promise<number> {
  const status = await readFile("/proc/self/status", "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return match ? Number(match[1]) : Number.NaN;
}

const [path, destination] = process.argv.slice(2);
if (!path || !destination) throw new Error("usage: pack-rss-child.ts <path> <destination>");

const rssBeforeKiB = await statusKiB("VmRSS");
const started = performance.now();
const packed = await packLayer(storePathEntries([path]), destination);
const seconds = (performance.now() - started) / 1000;
console.log(
  JSON.stringify({
    ...packed,
    seconds,
    rssBeforeKiB,
    peakRssKiB: await statusKiB("VmHWM"),
    maxRssKiB: process.resourceUsage().maxRSS,
  }),
);
