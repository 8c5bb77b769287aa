// Records what the Nix on PATH prints for each command the origin runs, in the cases the origin
// must tell apart, as test fixtures: test/fixtures/nix-output/<major.minor>/<case>.json holds the
// command, its exit code, stdout and every stderr line. The parsers' table tests read them.
//
//   host (Nix 2.8):        npx tsx test/nix-current/record-nix-output.ts
//   trixie (2.26), sid (2.34):
//     [NIX_CURRENT=sid] bash test/nix-current/run.sh -- node --import tsx test/nix-current/record-nix-output.ts

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { packagesExpression } from "../../origin/nix/expression.ts";
import { lookupPackages } from "../../origin/nix/packages.ts";
import { createNixRunner, type RunOptions } from "../../origin/nix/runner.ts";
import { resolveSource, type ResolvedSource } from "../../origin/nix/source.ts";
import { configShowArgs, parseNixVersion, pathInfoFormatArgs } from "../../origin/nix/version.ts";
import { fixturePackageSet, testNixEnv } from "../support/nix-env.ts";

const fixturesDir = fileURLToPath(new URL("../fixtures/nix-output/", import.meta.url));
const runner = createNixRunner({ env: testNixEnv(), stderrLines: 10_000 });
const system = "x86_64-linux";
const nixCommand = ["--extra-experimental-features", "nix-command"];
const absent = "/nix/store/00000000000000000000000000000000-absent-1.0";
const collectedDrv = "/nix/store/00000000000000000000000000000000-collected-1.0.drv";

const version = parseNixVersion((await runner("nix", ["--version"])).stdout);
if (!version) throw new Error("nix --version printed no version");
const outDir = join(fixturesDir, `${version.major}.${version.minor}`);
await mkdir(outDir, { recursive: true });
const work = await mkdtemp(join(tmpdir(), "record-nix-output-"));

async function record(
  name: string,
  command: string,
  args: string[],
  options: RunOptions = {},
): Promise<void> {
  const result = await runner(command, args, { timeoutMs: 120_000, ...options });
  const sample = {
    nix: version!.text,
    command: [command, ...args],
    ...(options.env ? { env: options.env } : {}),
    exitCode: result.exitCode,
    stdout: result.stdout,
    stderr: result.stderrTail,
  };
  await writeFile(join(outDir, `${name}.json`), `${JSON.stringify(sample, null, 2)}\n`);
  console.log(`${name}: exit ${result.exitCode}`);
}

function realiseArgs(drv: string): string[] {
  return ["--realise", `${drv}!out`, "--add-root", join(work, `root-${Date.now()}`), "--indirect"];
}

async function drvOf(source: ResolvedSource, name: string): Promise<string> {
  const lookup = await lookupPackages(runner, source, [name], system);
  const found = lookup.found[0];
  if (!found) throw new Error(`${name} did not evaluate`);
  return found.drvPath;
}

function evalArgs(source: ResolvedSource, attribute: string, names: string[]): string[] {
  const { file, args } = packagesExpression(source, names, system);
  return ["--eval", "--strict", "--json", file, "-A", attribute, ...args];
}

try {
  const source = await resolveSource({ kind: "path", path: fixturePackageSet }, "latest", runner);

  await record("version", "nix", ["--version"]);
  await record("config-show", "nix", [...nixCommand, ...configShowArgs(version)]);

  const hello = (await lookupPackages(runner, source, ["hello"], system)).found[0]!;
  const built = await runner("nix-store", realiseArgs(hello.drvPath));
  if (built.exitCode !== 0) throw new Error(`hello did not build: ${built.stderrTail.join("\n")}`);
  const helloOut = hello.outPaths[0]!;
  const pathInfo = [...nixCommand, "path-info", "--json", "--recursive"];
  await record("path-info", "nix", [...pathInfo, helloOut]);
  await record("path-info-format-1", "nix", [...pathInfo, "--json-format", "1", helloOut]);
  await record("path-info-invalid", "nix", [...pathInfo, ...pathInfoFormatArgs(version), absent]);
  await record("path-info-mixed", "nix", [
    ...pathInfo,
    ...pathInfoFormatArgs(version),
    helloOut,
    absent,
  ]);

  const broken = await drvOf(source, "broken");
  await record("realise-failed", "nix-store", realiseArgs(broken));
  await record("read-log-failed", "nix-store", ["--read-log", broken]);
  await record("realise-gone", "nix-store", realiseArgs(collectedDrv));

  const fromsource = await drvOf(source, "fromsource");
  await record("realise-download", "nix-store", realiseArgs(fromsource));
  const references = await runner("nix-store", ["--query", "--references", fromsource]);
  const tarball = references.stdout.split("\n").find((line) => line.endsWith(".tar.gz.drv"))!;
  await record("read-log-download", "nix-store", ["--read-log", tarball]);
  await record("realise-download-unreachable-cache", "nix-store", realiseArgs(fromsource), {
    env: { NIX_CONFIG: "substituters = http://127.0.0.1:1" },
  });

  // Several requested packages at once, built with --keep-going as the origin does: one fails
  // for its dependency's download, one for its own builder, one builds.
  const indexSet = await resolveSource(
    { kind: "path", path: fileURLToPath(new URL("../fixtures/index-pkgs", import.meta.url)) },
    "latest",
    runner,
  );
  const several = await Promise.all(
    ["needs-download", "git", "broken"].map((name) => drvOf(indexSet, name)),
  );
  await record("realise-keep-going", "nix-store", [
    "--realise",
    "--keep-going",
    ...several.map((drv) => `${drv}!out`),
    "--add-root",
    join(work, `root-${Date.now()}`),
    "--indirect",
  ]);

  await record("eval-unfree", "nix-instantiate", evalArgs(source, "explain", ["unfree-tool"]));
  await record("eval-throw", "nix-instantiate", evalArgs(source, "explain", ["removed-tool"]));
  const missingSet = await resolveSource(
    { kind: "path", path: "/nonexistent/set" },
    "latest",
    runner,
  );
  await record("eval-missing-set", "nix-instantiate", evalArgs(missingSet, "report", ["hello"]));
  const syntaxDir = join(work, "syntax-error-set");
  await mkdir(syntaxDir);
  await writeFile(join(syntaxDir, "default.nix"), "{ ... }: { hello = ; }\n");
  const syntaxSet = await resolveSource({ kind: "path", path: syntaxDir }, "latest", runner);
  await record("eval-syntax-error", "nix-instantiate", evalArgs(syntaxSet, "report", ["hello"]));
} finally {
  await rm(work, { recursive: true, force: true });
}
