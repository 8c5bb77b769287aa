// Builds (or finds in the store) the requested packages with nix-build. Their outputs stay GC
// roots (out-links under `rootDir`) until `release()`, so a concurrent garbage collection
// cannot delete paths while an image is packed from them.

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { NixBuildFailed, NixBuildTimedOut, NixEvalFailed, PackagesNotFound } from "./errors.ts";
import { evalErrorDetail, missingFromError, packagesExpression } from "./expression.ts";
import type { ExpressionOptions } from "./expression.ts";
import type { ProcessResult, NixRunner } from "./runner.ts";
import type { ResolvedSource } from "./source.ts";

export interface RealiseOptions extends ExpressionOptions {
  timeoutMs: number;
  /** Directory for the GC-root out-links (one fresh subdirectory per call). */
  rootDir: string;
  signal?: AbortSignal;
}

export interface RealisedPackages {
  /** The store paths of the outputs to install, in the order nix-build printed them. */
  outPaths: string[];
  /** Removes this build's GC roots; safe to call more than once. */
  release(): Promise<void>;
}

const logTailLines = 40;

export async function realisePackages(
  runner: NixRunner,
  source: ResolvedSource,
  names: readonly string[],
  system: string,
  options: RealiseOptions,
): Promise<RealisedPackages> {
  const { file, args } = packagesExpression(source, names, system, options);
  await mkdir(options.rootDir, { recursive: true });
  const rootDir = await mkdtemp(join(options.rootDir, "build-"));
  const release = () => rm(rootDir, { recursive: true, force: true });

  let result: ProcessResult;
  try {
    result = await runner(
      "nix-build",
      [file, "-A", "drvs", ...args, "--out-link", join(rootDir, "result")],
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

  const outPaths = [...new Set(result.stdout.split("\n").filter((line) => line !== ""))];
  return { outPaths, release };
}

/** Turns a failed nix-build into the typed error that says what went wrong. */
async function buildError(runner: NixRunner, result: ProcessResult): Promise<Error> {
  const stderr = result.stderrTail;
  const missing = missingFromError(stderr);
  if (missing) return new PackagesNotFound(missing);

  const failed = stderr
    .map((line) => /builder for '([^']+\.drv)' failed/.exec(line)?.[1])
    .find((drv) => drv !== undefined);
  if (failed) return new NixBuildFailed(failed, await buildLogTail(runner, failed, stderr));

  // Exit code 1 without a failed builder: evaluation went wrong (100/101 are build failures).
  if (result.exitCode === 1) return new NixEvalFailed(evalErrorDetail(stderr));
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

/** Stderr of nix-build without Nix's own progress and error lines. */
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
