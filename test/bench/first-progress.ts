// How soon a page sees a cold build move: through the local stack's edge, starts the build of an
// image nobody built (POST /api/builds/NAME:latest, as opening its page does) and long-polls
// /api/builds until the first progress after the starting state, the first Nix phase (realising),
// and the end of the build.
// Prints each run and the medians. Usage: npx tsx test/bench/first-progress.ts [runs, default 5]

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localStackEnv, startLocalStack } from "../support/edge-stack.ts";
import { makeWebPackageSet } from "../support/web-package-set.ts";

interface State {
  state: string;
  progress: { seq: number; phase: string } | null;
}

const runs = Number(process.argv[2] ?? 5);
const names = Array.from({ length: runs }, (_, i) => `cold-${i}`);
const set = await makeWebPackageSet(names);
const data = await mkdtemp(join(tmpdir(), "nixery-first-progress-"));
const stack = await startLocalStack(await localStackEnv(data, { NIXERY_PKGS_REPO: set.repo }));
const base = `http://${stack.edgeHost}`;
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const firsts: number[] = [];
const realising: number[] = [];
const totals: number[] = [];
try {
  for (const name of names) {
    const started = performance.now();
    const start = (await (
      await fetch(`${base}/api/builds/${name}:latest`, { method: "POST" })
    ).json()) as State;
    let seq = start.progress?.seq ?? 0;
    let first = 0;
    let nix = 0;
    for (;;) {
      const state = (await (
        await fetch(`${base}/api/builds/${name}:latest?after=${seq}`)
      ).json()) as State;
      if (state.progress && state.progress.seq > seq && first === 0)
        first = performance.now() - started;
      if (state.progress?.phase === "realising" && nix === 0) nix = performance.now() - started;
      seq = state.progress?.seq ?? seq;
      if (state.state === "done" || state.state === "failed") break;
    }
    const total = performance.now() - started;
    firsts.push(first);
    realising.push(nix);
    totals.push(total);
    console.log(
      `${name}: first progress after ${first.toFixed(0)} ms, realising after ${nix.toFixed(0)} ms, done after ${total.toFixed(0)} ms`,
    );
  }
  console.log(
    `median of ${runs}: first progress ${median(firsts).toFixed(0)} ms, realising ${median(realising).toFixed(0)} ms, build ${median(totals).toFixed(0)} ms`,
  );
} finally {
  await stack.stop();
  await rm(data, { recursive: true, force: true });
  await rm(set.repo, { recursive: true, force: true });
}
