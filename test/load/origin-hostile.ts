// `npm run hostile:origin`: hostile requests straight at an origin (no front before it): the
// edge's hostile cases (test/load/hostile-cases.ts: malformed and odd HTTP, odd Host headers, bad
// names, tags, digests and ranges) mixed with the origin's own storms: concurrent build requests
// for a build that fails and for packages that do not exist, and unknown-package pulls. Counts 5xx
// answers, error answers that are not registry JSON, lost answers, whether the origin survived,
// and the Nix processes it started (through a PATH shim, so it works on any checkout).
//
//   npm run hostile:origin -- [--requests N] [--concurrency C] [--root DIR]
//
// `--root` starts the origin of another checkout (e.g. an older commit) with these same cases.

import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startOrigin } from "../support/origin-process.ts";
import { hostileCases, originSecret, originStormCases, runHostile } from "./hostile-cases.ts";
import { imageFactsOf } from "./image-facts.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "10000" },
    concurrency: { type: "string", default: "16" },
    root: { type: "string" },
  },
});

/** A directory of wrappers that count how often the origin runs each Nix command. */
async function countingShim(dir: string): Promise<(command: string) => Promise<number>> {
  await mkdir(dir, { recursive: true });
  for (const command of ["nix-instantiate", "nix-store", "nix", "nix-build"]) {
    const script = `#!/bin/sh\necho "$0" >> "${dir}/calls"\nexec /usr/bin/${command} "$@"\n`;
    await writeFile(join(dir, command), script);
    await chmod(join(dir, command), 0o755);
  }
  return async (command) => {
    const calls = await readFile(join(dir, "calls"), "utf8").catch(() => "");
    return calls.split("\n").filter((line) => line.endsWith(`/${command}`)).length;
  };
}

const work = await mkdtemp(join(tmpdir(), "nixery-hostile-origin-"));
try {
  const calls = await countingShim(join(work, "shim"));
  const origin = await startOrigin({
    root: values.root,
    env: {
      ORIGIN_SECRET: originSecret,
      PATH: `${join(work, "shim")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    },
  });
  try {
    const facts = await imageFactsOf(origin.url, "hello");
    const cases = [...hostileCases(facts), ...originStormCases()];
    const count = Number(values.requests);
    const evaluationsBefore = await calls("nix-instantiate");
    console.error(`${count} hostile requests (${cases.length} kinds) at ${origin.url}…`);
    const started = Date.now();
    const tally = await runHostile(origin.port, cases, count, Number(values.concurrency), (so) =>
      console.error(
        `${so.requests}: ${so.serverErrors} 5xx, ${so.nonJsonErrors} non-JSON errors, ${so.lost} lost`,
      ),
    );
    const seconds = (Date.now() - started) / 1000;
    const alive = await fetch(`${origin.url}/v2/`).then(
      (response) => response.status === 200,
      () => false,
    );
    const summary = {
      requests: tally.requests,
      serverErrors: tally.serverErrors,
      nonJsonErrors: tally.nonJsonErrors,
      nonJsonHttpErrors: tally.nonJsonHttpErrors,
      lost: tally.lost,
      originAlive: alive && origin.process.exitCode === null,
      nixEvaluations: (await calls("nix-instantiate")) - evaluationsBefore,
      nixBuilds: await calls("nix-store"),
      seconds,
      byStatus: tally.byStatus,
      examples: tally.examples.filter((example) => !example.startsWith("status ")),
    };
    console.log(JSON.stringify(summary, null, 2));
  } finally {
    await origin.stop();
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
