// How much work one image with many unevaluable names costs the origin: a real origin serves a
// package set in which 32 names exist but throw, one client asks for an image of all of them, and
// the origin's process tree is sampled every 10 ms (processes below the origin and the sum of
// their RSS), and the time to the answer. Run: `npx tsx test/bench/explain-storm.ts` (prints one JSON line).

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOrigin } from "../support/origin-process.ts";

const names = Array.from({ length: 32 }, (_, index) => `bad${index + 1}`);

/** The processes below `root` (not `root` itself) and their summed RSS, from /proc. */
async function descendants(root: number): Promise<{ count: number; rssKb: number }> {
  let count = 0;
  let rssKb = 0;
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    const children = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
    for (const child of children.split(" ").filter(Boolean).map(Number)) {
      const status = await readFile(`/proc/${child}/status`, "utf8").catch(() => "");
      count++;
      rssKb += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      queue.push(child);
    }
  }
  return { count, rssKb };
}

export async function runExplainStorm() {
  const setDir = await mkdtemp(join(tmpdir(), "explain-storm-"));
  await writeFile(
    join(setDir, "default.nix"),
    // Importing the set costs about 0.4 s and 120 MB per Nix process here (a stand-in for a
    // large package set; importing nixpkgs costs more), so every extra process shows.
    `{ ... }: let heavy = builtins.foldl' (a: b: a + builtins.stringLength b) 0
        (builtins.genList (i: "item-\${toString i}") 400000);
      in builtins.listToAttrs (map (name: {
        inherit name; value = builtins.seq heavy (throw "\${name} is marked as broken in this fixture"); })
      [ ${names.map((name) => JSON.stringify(name)).join(" ")} ])`,
  );
  const origin = await startOrigin({ pkgsPath: setDir });
  try {
    let peak = { count: 0, rssKb: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const now = await descendants(origin.process.pid!);
        peak = { count: Math.max(peak.count, now.count), rssKb: Math.max(peak.rssKb, now.rssKb) };
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const started = Date.now();
    const response = await fetch(`${origin.url}/v2/${names.join("/")}/manifests/latest`);
    const ms = Date.now() - started;
    const body = (await response.json()) as { errors: { message: string }[] };
    sampling = false;
    await sampler;
    return {
      names: names.length,
      status: response.status,
      ms,
      peakChildren: peak.count,
      peakChildRssMB: Math.round(peak.rssKb / 1024),
      messageLines: body.errors[0]?.message.split("\n").length ?? 0,
      message: body.errors[0]?.message.slice(0, 300),
    };
  } finally {
    await origin.stop();
    await rm(setDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await runExplainStorm()));
}
