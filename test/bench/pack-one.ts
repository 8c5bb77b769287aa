// Profiling aid for one big layer: packs the benchmark dataset as one layer `runs` times beside
// `tar | gzip -6`, printing wall and CPU seconds of each (run it under `node --cpu-prof`).
// Usage: npx tsx test/bench/pack-one.ts [runs] [dataset-dir]

import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { packLayer } from "../../origin/pack/pack-layer.ts";
import { storePathEntries } from "../../origin/pack/store-entries.ts";
import { baselinePack } from "./pack-baseline.ts";
import { buildDataset } from "./pack-dataset.ts";

const runs = Number(process.argv[2] ?? 3);
const work = process.argv[3] ?? "/tmp/bench-pack-one";
const ours = join(work, "ours.tar.gz");
const base = join(work, "baseline.tar.gz");
const exists = await stat(join(work, "data")).then(
  () => true,
  () => false,
);
if (!exists) await mkdir(work, { recursive: true });
const dataset = await buildDataset(join(work, "data"), 30 * 1024 * 1024);
const paths = dataset.packages;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const oursWall: number[] = [];
const baseWall: number[] = [];
await packLayer(storePathEntries(paths), ours);
await baselinePack(paths, base);
for (let i = 0; i < runs; i++) {
  const cpu = process.cpuUsage();
  let t = performance.now();
  await packLayer(storePathEntries(paths), ours);
  oursWall.push((performance.now() - t) / 1000);
  const used = process.cpuUsage(cpu);
  t = performance.now();
  const b = await baselinePack(paths, base);
  baseWall.push((performance.now() - t) / 1000);
  console.log(
    `run ${i}: ours ${oursWall.at(-1)!.toFixed(2)} s (cpu ${((used.user + used.system) / 1e6).toFixed(2)} s), baseline ${baseWall.at(-1)!.toFixed(2)} s (cpu ${b.cpuSeconds.toFixed(2)} s)`,
  );
}
console.log(
  `median ours ${median(oursWall).toFixed(2)} s, baseline ${median(baseWall).toFixed(2)} s, ratio ${(median(oursWall) / median(baseWall)).toFixed(3)}`,
);
if (!process.argv[3]) await rm(work, { recursive: true, force: true });
