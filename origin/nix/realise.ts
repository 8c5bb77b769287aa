// Builds (or finds in the store) the packages that the lookup evaluated, by their .drv paths with
// `nix-store --realise`: the package set is not evaluated a second time (for nixpkgs that is an
// import of the whole set), and what is built is exactly what was looked up. The outputs stay GC
// roots (under `rootDir`) until `release()`, so a concurrent garbage collection cannot delete
// paths while an image is packed from them.

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { DerivationsGone, NixBuildFailed, NixBuildTimedOut } from "./errors.ts";
import { evalErrorDetail } from "./expression.ts";
import type { FoundPackage } from "./packages.ts";
import type { ProcessResult, NixRunner } from "./runner.ts";

export interface RealiseOptions {
  timeoutMs: number;
  /** Directory for the GC-root links (one fresh subdirectory per call). */
  rootDir: string;
  signal?: AbortSignal;
}

export interface RealisedPackages {
  /** The store paths of the outputs to install, in the order of the packages and outputs. */
  outPaths: string[];
  /** Removes this build's GC roots; safe to call more than once. */
  release(): Promise<void>;
}

const logTailLines = 40;

export async function realisePackages(
  runner: NixRunner,
  packages: readonly Pick<FoundPackage, "drvPath" | "outputs" | "outPaths">[],
  options: RealiseOptions,
): Promise<RealisedPackages> {
  await mkdir(options.rootDir, { recursive: true });
  const rootDir = await mkdtemp(join(options.rootDir, "build-"));
  const release = () => rm(rootDir, { recursive: true, force: true });
  const outPaths = [...new Set(packages.flatMap((pkg) => pkg.outPaths))];
  if (packages.length === 0) return { outPaths, release };

  let result: ProcessResult;
  try {
    result = await runner(
      "nix-store",
      [
        "--realise",
        ...packages.map((pkg) => `${pkg.drvPath}!${pkg.outputs.join(",")}`),
        "--add-root",
        join(rootDir, "result"),
        "--indirect",
      ],
      { timeoutMs: options.timeoutMs, signal: options.signal },
    );
  } catch (error) {
    await release();
    throw error;
  }

  if (result.timedOut || result.exitCode !== 0) {
    await release();
    if (result.timedOut) throw new NixBuildTimedOut(Math.round(options.timeoutMs / 1000));
    throw await buildError(runner, result);
  }
  return { outPaths, release };
}

/** Turns a failed nix-store --realise into the typed error that says what went wrong. */
async function buildError(runner: NixRunner, result: ProcessResult): Promise<Error> {
  const stderr = result.stderrTail;
  // A .drv written by the lookup's evaluation was garbage-collected before the build started.
  const gone = stderr
    .map((line) =>
      /cannot build missing derivation '([^']+)'|path '([^']+\.drv)' is not valid/.exec(line),
    )
    .find((match) => match !== null);
  if (gone) return new DerivationsGone(gone[1] ?? gone[2]!);

  const failed = stderr
    .map((line) => /builder for '([^']+\.drv)' failed/.exec(line)?.[1])
    .find((drv) => drv !== undefined);
  if (failed) return new NixBuildFailed(failed, await buildLogTail(runner, failed, stderr));
  return new NixBuildFailed(null, logLines(stderr), evalErrorDetail(stderr));
}

/** The end of the derivation's own log (`nix log`), else the builder lines of stderr. */
async function buildLogTail(
  runner: NixRunner,
  drv: string,
  stderr: readonly string[],
): Promise<string[]> {
  const log = await runner("nix-store", ["--read-log", drv], { timeoutMs: 10_000 }).catch(
    () => null,
  );
  const lines = log?.exitCode === 0 ? printable(log.stdout.split("\n")) : [];
  return lines.length > 0 ? lines.slice(-logTailLines) : logLines(stderr);
}

/** Log lines without colours and control bytes (a builder that cannot start logs binary). */
function printable(lines: readonly string[]): string[] {
  return lines
    .map((line) =>
      line
        .replace(/\x1b\[[0-9;]*[A-Za-z]/g, "")
        .replace(/[\x00-\x08\x0b-\x1f\x7f]+/g, " ")
        .trimEnd(),
    )
    .filter((line) => line.trim() !== "");
}

/** Stderr of the build without Nix's own progress and error lines. */
function logLines(stderr: readonly string[]): string[] {
  return printable(stderr)
    .filter(
      (line) =>
        !/^(these |this )(\d+ )?(derivations?|paths?) will be/.test(line) &&
        !/^ {2}\/nix\/store\//.test(line) &&
        !/^(building|copying path) '/.test(line) &&
        !/^error: /.test(line),
    )
    .slice(-logTailLines);
}
