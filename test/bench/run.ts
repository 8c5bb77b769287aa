// Entry of `npm run bench`: runs the benchmarks, prints a summary table, and writes the results as
// JSON to .cache/bench.json and as the last line of stdout.

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { formatClosureBench, runClosureBench } from "./closure.ts";
import { formatGcBench, runGcBench } from "./gc.ts";
import { dockerAvailable } from "../support/dockerd.ts";
import { formatDockerReuseBench, runDockerReuseBench } from "./docker-reuse.ts";
import { formatReuseBench, runReuseBench } from "./layer-reuse.ts";
import { formatPackBench, runPackBench } from "./pack.ts";
import { formatPackUploadBench, runPackUploadBench } from "./pack-upload.ts";
import { formatPlatformBench, runPlatformBench } from "./platforms.ts";
import { formatEdgeMemoryBench, runEdgeMemoryBench } from "./edge-memory.ts";
import { formatEdgeMissBench, runEdgeMissBench } from "./edge-miss.ts";
import { formatServeBench, runServeBench } from "./serve.ts";
import { formatSummary, summaryRows } from "./summary.ts";

const cacheDir = fileURLToPath(new URL("../../.cache/", import.meta.url));
const loadAverage = async () => (await readFile("/proc/loadavg", "utf8")).split(" ")[0]!;
const loadBefore = await loadAverage();

console.error(
  "packing benchmark: building the dataset, then (a) one layer, (b) parallel layers, (c) peak RSS…",
);
const pack = await runPackBench();
console.log(formatPackBench(pack));
console.error(
  "pack + upload benchmark: one 1 GiB layer to the local S3 server, against packing alone…",
);
const packUpload = await runPackUploadBench(1024);
console.log(formatPackUploadBench(packUpload));
console.error("serving benchmark: origin and edge beside docker-registry…");
const serve = await runServeBench();
console.error("edge blob miss: origin-direct pulls beside pulls through a fresh edge…");
const edgeMiss = await runEdgeMissBench();
console.log(formatServeBench(serve));
console.log(formatEdgeMissBench(edgeMiss));
console.error("edge memory: 100,000 warm requests through workerd, beside a constant Worker…");
const edgeMemory = await runEdgeMemoryBench();
console.log(formatEdgeMemoryBench(edgeMemory));
console.error("layer reuse benchmark: a sequence of images pulled by a chain-ID client…");
const reuse = await runReuseBench();
console.log(formatReuseBench(reuse));
let dockerReuse = null;
if (await dockerAvailable()) {
  console.error("layer reuse with docker: the same sequence pulled by a private dockerd…");
  dockerReuse = await runDockerReuseBench();
  console.log(formatDockerReuseBench(dockerReuse));
} else {
  console.log(
    "layer reuse with docker: skipped (needs root and dockerd: apt-get install docker.io)",
  );
}
console.error("storage lifecycle benchmark: many images, some used again, one collection…");
const gc = await runGcBench();
console.log(formatGcBench(gc));
console.error(
  "closure benchmark: the generated package set (built once), cold pulls of four images by phase…",
);
const closure = await runClosureBench();
console.log(formatClosureBench(closure));
console.error("platforms benchmark: one and two platforms, and a remote Nix builder…");
const platforms = await runPlatformBench();
console.log(formatPlatformBench(platforms));
const results = {
  node: process.version,
  zlib: process.versions.zlib,
  date: new Date().toISOString(),
  pack,
  packUpload,
  serve,
  edgeMiss,
  edgeMemory,
  reuse,
  dockerReuse,
  gc,
  platforms,
  closure,
};

console.log(
  `\n${formatSummary(
    summaryRows({ pack, packUpload, serve, edgeMiss, edgeMemory, reuse, gc, closure }),
    `${loadBefore} at the start, ${await loadAverage()} at the end, 2 cores`,
  )}\n`,
);
await mkdir(cacheDir, { recursive: true });
await writeFile(`${cacheDir}bench.json`, `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results));
