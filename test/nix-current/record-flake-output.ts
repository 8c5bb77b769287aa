// Records what `nix flake metadata --json` prints for the flakes the origin's tests use (a path
// flake, a git flake at a commit and at a tag, a dirty git tree, a flake whose lock file lacks an
// input), as test fixtures: test/fixtures/nix-output/<major.minor>/flake-metadata-<case>.json.
// Temporary paths, times and hashes differ between runs; the JSON's shape is what is kept.
//
//   host (Nix 2.8):   npx tsx test/nix-current/record-flake-output.ts
//   trixie (2.26):    bash test/nix-current/run.sh -- node --import tsx test/nix-current/record-flake-output.ts

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { flakeFeatureArgs } from "../../origin/nix/flake-source.ts";
import { createNixRunner } from "../../origin/nix/runner.ts";
import { parseNixVersion } from "../../origin/nix/version.ts";
import { git } from "../support/git.ts";
import { makeTestFlakes } from "../support/flakes.ts";
import { testNixEnv } from "../support/nix-env.ts";

const fixturesDir = fileURLToPath(new URL("../fixtures/nix-output/", import.meta.url));
const runner = createNixRunner({ env: testNixEnv(), stderrLines: 10_000 });

const version = parseNixVersion((await runner("nix", ["--version"])).stdout);
if (!version) throw new Error("nix --version printed no version");
const outDir = join(fixturesDir, `${version.major}.${version.minor}`);
await mkdir(outDir, { recursive: true });
const work = await mkdtemp(join(tmpdir(), "record-flake-output-"));

async function record(name: string, ref: string): Promise<void> {
  const args = [...flakeFeatureArgs, "flake", "metadata", "--json", "--no-update-lock-file", ref];
  const result = await runner("nix", args, { timeoutMs: 120_000 });
  const sample = {
    nix: version!.text,
    command: ["nix", ...args],
    exitCode: result.exitCode,
    stdout: result.stdout,
    stderr: result.stderrTail,
  };
  await writeFile(
    join(outDir, `flake-metadata-${name}.json`),
    `${JSON.stringify(sample, null, 2)}\n`,
  );
  console.log(`flake-metadata-${name}: exit ${result.exitCode}`);
}

try {
  const flakes = await makeTestFlakes(work);
  await record("path", flakes.pathFlake);
  await record(
    "git-rev",
    `git+file://${flakes.setRepo}?ref=refs/heads/main&rev=${flakes.commits.two}`,
  );
  await record("git-tag", `git+file://${flakes.setRepo}?ref=refs/tags/v1&rev=${flakes.commits.v1}`);
  await writeFile(join(flakes.setRepo, "flake.nix"), "# uncommitted\n", { flag: "a" });
  await record("git-dirty", flakes.setRepo);
  git(flakes.setRepo, "checkout", "-q", "--", "flake.nix");
  const unlocked = join(work, "unlocked");
  await mkdir(unlocked);
  await writeFile(
    join(unlocked, "flake.nix"),
    `{ inputs.base.url = "${flakes.baseUrl}"; outputs = { self, base }: { }; }\n`,
  );
  await record("unlocked-input", unlocked);
} finally {
  await rm(work, { recursive: true, force: true });
}
