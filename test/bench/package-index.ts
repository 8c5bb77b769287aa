// Measures the package index on a package set given by path (e.g. a nixpkgs checkout): build
// time, peak RSS of the Nix evaluations (each run under GNU time) and of this Node process,
// packages indexed, sub-sets and attributes skipped, and search latency.
//   node --import tsx test/bench/package-index.ts /path/to/nixpkgs [chunkSize]

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../origin/log.ts";
import { createNixRunner, type NixRunner } from "../../origin/nix/runner.ts";
import { IndexStore } from "../../origin/index/index-store.ts";
import { PackageIndex } from "../../origin/index/package-index.ts";

const [path, chunkText] = process.argv.slice(2);
if (!path) throw new Error("usage: package-index.ts PACKAGE_SET_PATH [CHUNK_SIZE]");
const base = createNixRunner({
  env: {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NIX_PATH: "",
    NIX_CONF_DIR: process.env.NIX_CONF_DIR,
  },
});
let nixPeakKb = 0;
const runner: NixRunner = async (command, args, options) => {
  const result = await base("/usr/bin/time", ["-f", "nixery-rss %M", command, ...args], options);
  const line = result.stderrTail.findLast((l) => l.startsWith("nixery-rss "));
  if (line) nixPeakKb = Math.max(nixPeakKb, Number(line.split(" ")[1]));
  return { ...result, stderrTail: result.stderrTail.filter((l) => !l.startsWith("nixery-rss ")) };
};
const store = new IndexStore(join(mkdtempSync(join(tmpdir(), "index-bench-")), "index.sqlite"));
const revision = "bench";
const index = new PackageIndex({
  store,
  runner,
  resolve: async () => ({
    id: "bench",
    revision,
    pinned: true,
    nixArgs: ["--argstr", "srcType", "path", "--argstr", "src", path],
    nixOptions: [],
  }),
  system: "x86_64-linux",
  log: createLogger((line) => process.stderr.write(line)),
  chunkSize: chunkText ? Number(chunkText) : undefined,
});
const started = Date.now();
await index.view("latest");
await index.settled(revision);
const buildMs = Date.now() - started;
const record = index.record(revision)!;
const timings: Record<string, number> = {};
for (const q of ["htop", "python numpy", "git", "xorg xev", "web server", "pyth", "editor"]) {
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    index.search(revision, q, 20);
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  timings[q] = Number(samples[10]!.toFixed(2));
}
const suggestStarted = performance.now();
const suggestion = index.suggest(revision, "htpo");
const suggestMs = performance.now() - suggestStarted;
console.log(
  JSON.stringify(
    {
      buildMs,
      packages: record.packages,
      state: record.state,
      skippedSets: record.skippedSets,
      failedAttrs: record.failedAttrs.length,
      failedExamples: record.failedAttrs.slice(0, 8).map((f) => f.attr),
      nixPeakRssMb: Math.round(nixPeakKb / 1024),
      nodePeakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      searchMedianMs: timings,
      suggestHtpo: suggestion,
      suggestMs: Number(suggestMs.toFixed(1)),
      top: index.search(revision, "python numpy", 3).map((r) => r.attr),
    },
    null,
    1,
  ),
);
store.close();
