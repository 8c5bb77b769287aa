// Builds (or finds in the store) the packages that the lookup evaluated, by their .drv paths with
// `nix-store --realise`: the package set is not evaluated a second time (for nixpkgs that is an
// import of the whole set), and what is built is exactly what was looked up. The outputs stay GC
// roots (under `rootDir`) until `release()`, so a concurrent garbage collection cannot delete
// paths while an image is packed from them.

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  decodeBuildLog,
  downloadFailureInLog,
  parseRealiseFailure,
  type RealiseFailure,
} from "./build-output.ts";
import { NixBuildFailed, type BinaryCaches, type PackageBuildFailure } from "./build-errors.ts";
import { DerivationsGone, NixBuildTimedOut } from "./errors.ts";
import { derivationLabel, packageFailures } from "./failed-packages.ts";
import { evalErrorMessage } from "./eval-error.ts";
import type { FoundPackage } from "./packages.ts";
import type { ProcessResult, NixRunner } from "./runner.ts";

export interface RealiseOptions {
  timeoutMs: number;
  /** Directory for the GC-root links (one fresh subdirectory per call). */
  rootDir: string;
  signal?: AbortSignal;
  /** The Nix configuration's binary caches (from detectNix; null or absent: unknown). */
  substituters?: readonly string[] | null;
  /** Each line Nix writes while realising, as it comes (for a build's progress). */
  onOutput?: (line: string) => void;
  /**
   * Names the image adds without the user asking (cacert, iana-etc): a failure names them only
   * when no package the user asked for failed.
   */
  implicit?: readonly string[];
}

export interface RealisedPackages {
  /** The store paths of the outputs to install, in the order of the packages and outputs. */
  outPaths: string[];
  /** Removes this build's GC roots; safe to call more than once. */
  release(): Promise<void>;
}

type Realisable = Pick<FoundPackage, "name" | "drvPath" | "outputs" | "outPaths">;

const logTailLines = 40;
// A failed build of a large closure names hundreds of dependents after the failures themselves.
const realiseStderrLines = 5000;

export async function realisePackages(
  runner: NixRunner,
  packages: readonly Realisable[],
  options: RealiseOptions,
): Promise<RealisedPackages> {
  await mkdir(options.rootDir, { recursive: true });
  const rootDir = await mkdtemp(join(options.rootDir, "build-"));
  const release = () => rm(rootDir, { recursive: true, force: true });
  const outPaths = [...new Set(packages.flatMap((pkg) => pkg.outPaths))];
  if (packages.length === 0) return { outPaths, release };

  // With two or more packages the user asked for, Nix goes on after a failure, so that each one
  // that cannot be built is named with its own reason. With one it stops at the first failure:
  // on an origin that cannot download sources, going on would wait for every download's retries.
  const implicit = options.implicit ?? [];
  const keepGoing = packages.filter((pkg) => !implicit.includes(pkg.name)).length > 1;
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
        ...(keepGoing ? ["--keep-going"] : []),
      ],
      {
        timeoutMs: options.timeoutMs,
        signal: options.signal,
        stderrLines: realiseStderrLines,
        onStderrLine: options.onOutput,
      },
    );
  } catch (error) {
    await release();
    throw error;
  }

  if (result.timedOut || result.exitCode !== 0) {
    await release();
    if (result.timedOut) {
      const building = affectedPackages(packages, parseRealiseFailure(result.stderrTail));
      throw new NixBuildTimedOut(Math.round(options.timeoutMs / 1000), "build", building);
    }
    throw await buildError(runner, packages, result, options.substituters ?? null, implicit);
  }
  return { outPaths, release };
}

/** Turns a failed nix-store --realise into the typed error that says what went wrong. */
async function buildError(
  runner: NixRunner,
  packages: readonly Realisable[],
  result: ProcessResult,
  substituters: readonly string[] | null,
  implicit: readonly string[],
): Promise<Error> {
  const stderr = result.stderrTail;
  const failure = parseRealiseFailure(stderr);
  // A .drv written by the lookup's evaluation was garbage-collected before the build started.
  if (failure.gone) return new DerivationsGone(failure.gone);

  const affected = withoutImplicit(affectedPackages(packages, failure), implicit);
  if (!failure.failed) {
    return new NixBuildFailed(
      {
        packages: affected,
        derivation: null,
        requested: false,
        exitCode: null,
        logTail: logLines(stderr),
        download: null,
        nixOutput: stderr,
      },
      firstRealError(stderr),
    );
  }
  const drv = failure.failed.drv;
  const logTail = await buildLogTail(runner, drv, stderr);
  const download = failure.download ?? downloadFailureInLog(logTail);
  const perPackage = withoutImplicit(
    await describePackages(runner, packages, failure, stderr, drv, logTail),
    implicit,
  );
  return new NixBuildFailed({
    perPackage,
    packages: affected,
    derivation: drv,
    requested: packages.some((pkg) => pkg.drvPath === drv),
    exitCode: failure.failed.exitCode,
    logTail,
    download: download && {
      ...download,
      toBuild: failure.toBuild.length > 0 ? failure.toBuild.length : null,
      caches: binaryCaches(substituters, failure.unreachableCaches),
    },
    nixOutput: stderr,
  });
}

/** Each requested package that was not built, with the failure that kept it from building. */
async function describePackages(
  runner: NixRunner,
  packages: readonly Realisable[],
  failure: RealiseFailure,
  stderr: readonly string[],
  firstDrv: string,
  firstLog: readonly string[],
): Promise<PackageBuildFailure[]> {
  const failures = await packageFailures(runner, packages, failure);
  const logs = new Map<string, readonly string[]>([[firstDrv, firstLog]]);
  const result: PackageBuildFailure[] = [];
  for (const pkg of failures) {
    const cause = pkg.cause;
    if (!cause) {
      result.push({
        name: pkg.name,
        own: false,
        label: null,
        exitCode: null,
        known: false,
        download: null,
        logTail: [],
      });
      continue;
    }
    if (!logs.has(cause.drv) && logs.size < 4)
      logs.set(cause.drv, await buildLogTail(runner, cause.drv, stderr));
    const logTail = logs.get(cause.drv) ?? [];
    result.push({
      name: pkg.name,
      own: pkg.own,
      label: derivationLabel(cause.drv),
      exitCode: cause.exitCode,
      known: true,
      download: cause.download ?? downloadFailureInLog(logTail),
      logTail: logTail.filter((line) => !isNixChatter(line)),
    });
  }
  return result;
}

/** Drops what the user did not ask for, unless nothing else is left. */
function withoutImplicit<T extends string | { name: string }>(
  items: T[],
  implicit: readonly string[],
): T[] {
  const asked = items.filter(
    (item) => !implicit.includes(typeof item === "string" ? item : item.name),
  );
  return asked.length > 0 ? asked : items;
}

/**
 * The first line of Nix's output that says what went wrong, not which derivations waited for it
 * (those can be hundreds of lines): without trace, code frames or server paths.
 */
function firstRealError(stderr: readonly string[]): string {
  const real = stderr.filter(
    (line) => /^error: /.test(line) && !/dependencies of derivation|^error: build of '/.test(line),
  );
  return real.length > 0 ? evalErrorMessage(real.slice(0, 1)) : evalErrorMessage(stderr.slice(-3));
}

/** Nix's own retry and progress lines, which say nothing about why the build failed. */
function isNixChatter(line: string): boolean {
  return (
    /^warning: (error: )?unable to download .*retrying in \d+ ms/.test(line) ||
    (/^(warning|error): /.test(line) && /retrying/.test(line))
  );
}

/**
 * The requested packages the failure kept from building: the failed derivation itself or those
 * Nix names as waiting for it; else the requested ones Nix was about to build; else all.
 */
function affectedPackages(packages: readonly Realisable[], failure: RealiseFailure): string[] {
  const named = new Set([...(failure.failed ? [failure.failed.drv] : []), ...failure.dependents]);
  const toBuild = new Set(failure.toBuild);
  for (const candidates of [named, toBuild]) {
    const found = packages.filter((pkg) => candidates.has(pkg.drvPath)).map((pkg) => pkg.name);
    if (found.length > 0) return [...new Set(found)];
  }
  return packages.map((pkg) => pkg.name);
}

function binaryCaches(
  substituters: readonly string[] | null,
  unreachable: readonly string[],
): BinaryCaches {
  if (unreachable.length > 0) return { state: "unreachable", urls: unreachable };
  if (substituters === null) return { state: "unknown" };
  if (substituters.length === 0) return { state: "none" };
  return { state: "configured", urls: substituters };
}

/** The end of the derivation's own log (`nix-store --read-log`), else the builder lines of stderr. */
async function buildLogTail(
  runner: NixRunner,
  drv: string,
  stderr: readonly string[],
): Promise<string[]> {
  const log = await runner("nix-store", ["--read-log", drv], { timeoutMs: 10_000 }).catch(
    () => null,
  );
  const lines = log?.exitCode === 0 ? decodeBuildLog(log.stdout) : [];
  return lines.length > 0 ? lines.slice(-logTailLines) : logLines(stderr);
}

/** Stderr of the build without Nix's own progress, error and trace lines. */
function logLines(stderr: readonly string[]): string[] {
  return decodeBuildLog(stderr.join("\n"))
    .filter(
      (line) =>
        !/^(these |this )(\d+ )?(derivations?|paths?) will be/.test(line) &&
        !/^ {2}\/nix\/store\//.test(line) &&
        !/^(building|copying path) '/.test(line) &&
        !/^(error|warning): /.test(line) &&
        !/^\s+(… |Reason: |Output paths:|\/nix\/store\/|error: )/.test(line),
    )
    .slice(-logTailLines);
}
