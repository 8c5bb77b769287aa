// Runs only the packing benchmark of `npm run bench` (one layer, parallel layers, peak RSS).
// Usage: npx tsx test/bench/pack-only.ts [runs]

import { defaultPackBenchOptions, formatPackBench, runPackBench } from "./pack.ts";

const runs = Number(process.argv[2] ?? defaultPackBenchOptions.runs);
console.log(formatPackBench(await runPackBench({ ...defaultPackBenchOptions, runs })));
