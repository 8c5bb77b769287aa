// Entry of `npm run bench`: runs the benchmarks, prints a summary table, and writes the results as
// JSON to .cache/bench.json and as the last line of stdout.

import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { formatPackBench, runPackBench } from "./pack.ts";
import { formatEdgeMissBench, runEdgeMissBench } from "./edge-miss.ts";
import { formatServeBench, runServeBench } from "./serve.ts";

const cacheDir = fileURLToPath(new URL("../../.cache/", import.meta.url));

console.error(
  "packing benchmark: building the dataset, then (a) one layer, (b) parallel layers, (c) peak RSS…",
);
const pack = await runPackBench();
console.log(formatPackBench(pack));
console.error("serving benchmark: origin and edge beside docker-registry…");
const serve = await runServeBench();
console.error("edge blob miss: origin-direct pulls beside pulls through a fresh edge…");
const edgeMiss = await runEdgeMissBench();
console.log(formatServeBench(serve));
console.log(formatEdgeMissBench(edgeMiss));
const results = {
  node: process.version,
  zlib: process.versions.zlib,
  date: new Date().toISOString(),
  pack,
  serve,
  edgeMiss,
};

await mkdir(cacheDir, { recursive: true });
await writeFile(`${cacheDir}bench.json`, `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results));
