// Why a build fails: which requested packages failed, through which dependency and what it
// printed, written for a registry user (named as typed; Nix's output stays in `nixOutput` for the
// origin's log). Nothing here knows about HTTP.

import { typedPackageName } from "../../shared/image-name.ts";

/** Whether the origin's binary caches could have supplied what had to be built from source. */
export type BinaryCaches =
  | { state: "none" }
  | { state: "unreachable"; urls: readonly string[] }
  | { state: "configured"; urls: readonly string[] }
  | { state: "unknown" };

export interface BuildFailure {
  /** The requested packages (attribute paths) that the failure kept from building. */
  packages: readonly string[];
  /** The .drv whose builder failed, when Nix named one. */
  derivation: string | null;
  /** Whether `derivation` is one of the requested packages rather than a dependency. */
  requested: boolean;
  exitCode: number | null;
  /** The last lines of the failed derivation's build log (readable text only). */
  logTail: readonly string[];
  /** Set when the failure is a source download: what failed and whether a cache could have helped. */
  download: {
    url: string;
    error: string;
    /** Derivations Nix would have built from source (null: unknown). */
    toBuild: number | null;
    caches: BinaryCaches;
  } | null;
  /** What Nix printed, for the origin's log only. */
  nixOutput: readonly string[];
  /**
   * Each requested package (attribute path) that was not built, and the failure that kept it
   * from building: its own derivation's or a dependency's. When set, the message is made of these.
   */
  perPackage?: readonly PackageBuildFailure[];
}

export interface PackageBuildFailure {
  name: string;
  /** The failed derivation is the package's own (else a dependency's). */
  own: boolean;
  /** The failed derivation's readable name (e.g. "bash-4.4"); null: none worth showing. */
  label: string | null;
  /** null: Nix did not say which failure kept this package from building. */
  exitCode: number | null;
  known: boolean;
  download: { url: string; error: string } | null;
  logTail: readonly string[];
}

/** A derivation's builder failed; the message says which package, which derivation and why. */
export class NixBuildFailed extends Error implements BuildFailure {
  override readonly name = "NixBuildFailed";
  readonly packages: readonly string[];
  readonly derivation: string | null;
  readonly requested: boolean;
  readonly exitCode: number | null;
  readonly logTail: readonly string[];
  readonly download: BuildFailure["download"];
  readonly nixOutput: readonly string[];
  readonly perPackage: readonly PackageBuildFailure[];

  constructor(failure: BuildFailure, detail?: string) {
    super(
      failure.perPackage && failure.perPackage.length > 0
        ? describePackageFailures(failure, failure.perPackage)
        : describeBuildFailure(failure, detail),
    );
    this.perPackage = failure.perPackage ?? [];
    this.packages = failure.packages;
    this.derivation = failure.derivation;
    this.requested = failure.requested;
    this.exitCode = failure.exitCode;
    this.logTail = failure.logTail;
    this.download = failure.download;
    this.nixOutput = failure.nixOutput;
  }
}

const messageLogLines = 10;

function describeBuildFailure(failure: BuildFailure, detail: string | undefined): string {
  const names = failure.packages.map(typedPackageName).join(", ") || "the image";
  const drv = failure.derivation;
  const what =
    drv === null
      ? `Nix failed${detail ? `: ${detail}` : ""}`
      : `${failure.requested ? "" : "its dependency "}${drv} failed${failure.exitCode === null ? "" : ` (builder exit code ${failure.exitCode})`}`;
  const download = failure.download;
  if (download) {
    const count =
      download.toBuild === null
        ? "Packages had to be built from source"
        : `${download.toBuild} ${download.toBuild === 1 ? "derivation" : "derivations"} had to be built from source`;
    return (
      `Could not build ${names}: ${count} and a source download failed: unable to download ` +
      `'${download.url}': ${download.error}${drv ? ` (${drv})` : ""}. ${cacheAdvice(download.caches)}`
    );
  }
  const tail = failure.logTail.slice(-messageLogLines);
  return `Could not build ${names}: ${what}.${tail.length > 0 ? ` Last lines of its build log:\n${tail.join("\n")}` : ""}`;
}

/**
 * One clause per requested package that was not built, by the name the user typed, saying which
 * failure kept it from building ("git could not be built because its dependency bash-4.4 could
 * not be downloaded"); then the end of each failed build's log, and what could have helped.
 */
function describePackageFailures(
  failure: BuildFailure,
  perPackage: readonly PackageBuildFailure[],
): string {
  const names = perPackage.map((pkg) => typedPackageName(pkg.name)).join(", ");
  // Packages kept from building by the same dependency share one clause.
  const groups = new Map<string, PackageBuildFailure[]>();
  for (const pkg of perPackage) {
    const key =
      pkg.own || !pkg.known
        ? `own:${pkg.name}`
        : `dep:${pkg.label}:${pkg.download?.url ?? ""}:${pkg.exitCode}`;
    groups.set(key, [...(groups.get(key) ?? []), pkg]);
  }
  const clauses = [...groups.values()].map((group) => {
    const pkg = group[0]!;
    const shown = group.map((member) => typedPackageName(member.name)).join(", ");
    const its = group.length > 1 ? "their" : "its";
    if (!pkg.known) return `${shown} was not built (Nix stopped after the failure above)`;
    const exitText =
      pkg.exitCode === null ? "its builder failed" : `builder exit code ${pkg.exitCode}`;
    const download = pkg.download
      ? `unable to download '${pkg.download.url}': ${pkg.download.error}`
      : null;
    if (pkg.own) {
      return download
        ? `${shown} could not be built because its source could not be downloaded (${download})`
        : `${shown} failed to build (${[pkg.label, exitText].filter(Boolean).join(", ")})`;
    }
    if (download) {
      return pkg.label
        ? `${shown} could not be built because ${its} dependency ${pkg.label} could not be downloaded (${download})`
        : `${shown} could not be built because a source ${group.length > 1 ? "they depend" : "it depends"} on could not be downloaded (${download})`;
    }
    return `${shown} could not be built because ${its} dependency ${pkg.label ?? "(unnamed derivation)"} failed to build (${exitText})`;
  });
  const logs: string[] = [];
  const seen = new Set<string>();
  for (const pkg of perPackage) {
    if (!pkg.known || pkg.download || pkg.logTail.length === 0) continue;
    const key = pkg.label ?? pkg.name;
    if (seen.has(key) || seen.size >= 2) continue;
    seen.add(key);
    logs.push(
      `Last lines of the build log of ${pkg.label ?? typedPackageName(pkg.name)}:\n${pkg.logTail.slice(-messageLogLines).join("\n")}`,
    );
  }
  const download = failure.download;
  const advice = download
    ? ` ${download.toBuild === null ? "Packages had" : `${download.toBuild} ${download.toBuild === 1 ? "derivation" : "derivations"} had`} to be built from source. ${cacheAdvice(download.caches)}`
    : "";
  return `Could not build ${names}: ${clauses.join("; ")}.${advice}${logs.length > 0 ? `\n${logs.join("\n")}` : ""}`;
}

function cacheAdvice(caches: BinaryCaches): string {
  switch (caches.state) {
    case "none":
      return "The origin has no binary cache configured (Nix's `substituters` is empty), so it builds everything from source; its operator can configure one that has these packages (e.g. https://cache.nixos.org) or give the origin network access to the sources.";
    case "unreachable":
      return `The origin cannot reach its binary cache (${caches.urls.join(", ")}); its operator can check the origin's network access or its \`substituters\` setting.`;
    case "configured":
      return `The origin's binary caches (${caches.urls.join(", ")}) do not have these packages, so they are built from source, which needs network access to the sources; its operator can check that.`;
    case "unknown":
      return "The origin's operator can configure a binary cache that has these packages, or give the origin network access to the sources.";
  }
}
