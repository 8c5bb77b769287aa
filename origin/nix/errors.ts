// The ways driving Nix can fail, as typed errors with the facts a client needs and messages
// written for a registry user (named by the packages as typed, no code frames or server paths;
// what Nix printed stays in `nixOutput`, for the origin's log). The origin maps them to registry
// errors at the edge of its routes; nothing here knows about HTTP.

import { typedPackageName } from "../../shared/image-name.ts";
import type { Refusal } from "./eval-error.ts";

/**
 * A requested package that exists in the set but does not evaluate, and why: the package set's
 * config refuses it (nixpkgs: unfree, insecure, broken, or not for this platform), Nix's error
 * (`error`), or not examined (`unexplained`: the origin explains only the first few).
 */
export interface UnevaluablePackage {
  /** The attribute path as looked up, e.g. "_1password". */
  name: string;
  reason: Refusal | "error" | "unexplained";
  /** Further checks that refuse it too (e.g. broken, when `reason` is unfree). */
  otherReasons?: readonly Refusal[];
  /** The refused derivation's name, e.g. "vscode-1.90"; a dependency's when `dependency`. */
  drvName?: string | null;
  /** True when the refusal is of a package this one depends on. */
  dependency?: boolean;
  /** For `insecure`: the package set's list of known vulnerabilities. */
  vulnerabilities?: readonly string[];
  /** For `error`: Nix's message (without trace, code frames or server paths). */
  error?: string;
  /** For `error`: the sub-set of the name (its first part) that does not evaluate at all. */
  subSet?: string;
  /** For a flake source: where the name was found, e.g. "legacyPackages.x86_64-linux.x of flake F". */
  where?: string;
}

/** How the origin's operator lifts each refusal (nixpkgs config, set by the origin). */
export const refusalSwitches: Record<Exclude<Refusal, "unsupported">, string> = {
  unfree: "NIXERY_ALLOW_UNFREE=true",
  insecure: "NIXERY_ALLOW_INSECURE=true",
  broken: "NIXERY_ALLOW_BROKEN=true",
};

/**
 * Requested names that the package set does not have, and those it has but cannot evaluate
 * (unfree, broken or insecure in nixpkgs): all of them, reported together, by the names the user
 * typed (`1password`, not the attribute `_1password`).
 */
export class PackagesNotFound extends Error {
  override readonly name = "PackagesNotFound";
  readonly missing: readonly string[];
  readonly unevaluable: readonly UnevaluablePackage[];

  /** Close names the package index knows, per missing name. */
  readonly suggestions: Readonly<Record<string, readonly string[]>>;
  /** The package index was still being built, so close names may be missing (ask again later). */
  readonly indexBuilding: boolean;

  constructor(
    missing: readonly string[],
    unevaluable: readonly UnevaluablePackage[] = [],
    context: {
      /** The requested names that were found (said, so that the user knows where they stand). */
      found?: readonly string[];
      suggestions?: Readonly<Record<string, readonly string[]>>;
      indexBuilding?: boolean;
    } = {},
  ) {
    const suggestions = context.suggestions ?? {};
    const withHint = (name: string) => {
      const close = suggestions[name] ?? [];
      return close.length > 0
        ? `${typedPackageName(name)} (did you mean ${close.join(" or ")}?)`
        : typedPackageName(name);
    };
    const lines =
      missing.length > 0
        ? [`Could not find Nix packages: ${missing.map(withHint).join(", ")}`]
        : [];
    for (const pkg of unevaluable) {
      if (pkg.reason !== "unexplained") lines.push(describeUnevaluable(pkg));
    }
    const unexplained = unevaluable.filter((pkg) => pkg.reason === "unexplained");
    if (unexplained.length > 0) {
      lines.push(
        `${unexplained.length === 1 ? "Nix package" : "Nix packages"} ${unexplained.map((pkg) => typedPackageName(pkg.name)).join(", ")} ` +
          `${unexplained.length === 1 ? "exists but does" : "exist but do"} not evaluate either (not examined further: the origin explains the first few names only)`,
      );
    }
    const found = context.found ?? [];
    if (found.length > 0 && lines.length > 0) {
      lines.push(
        `Found: ${found.map(typedPackageName).join(", ")} (an image is built only when every package it names can be)`,
      );
    }
    // Said last, so that what was found or refused keeps its place right after the missing names.
    if (missing.length > 0 && context.indexBuilding) {
      lines.push(
        "The package index is still being built: close names are suggested once it is ready (meanwhile, search with /api/packages)",
      );
    }
    super(lines.join("\n"));
    this.missing = missing;
    this.unevaluable = unevaluable;
    this.suggestions = suggestions;
    this.indexBuilding = (context.indexBuilding ?? false) && missing.length > 0;
  }
}

function describeUnevaluable(pkg: UnevaluablePackage): string {
  const shown = typedPackageName(pkg.name);
  if (pkg.reason === "error" && pkg.subSet) {
    return `Nix package ${shown} cannot be looked up: its package set ${typedPackageName(pkg.subSet)} does not evaluate in this package set (${pkg.error ?? "no error output"})`;
  }
  if (pkg.reason === "error" || pkg.reason === "unexplained") {
    const where = pkg.where ? ` (${pkg.where})` : "";
    return `Nix package ${shown}${where} exists but does not evaluate: ${pkg.error ?? "no error output"}`;
  }
  const drv = pkg.drvName ? ` (${pkg.drvName})` : "";
  const subject = pkg.dependency
    ? `Nix package ${shown} depends on ${pkg.drvName ?? "a package"}, which`
    : `Nix package ${shown}${drv}`;
  if (pkg.otherReasons && pkg.otherReasons.length > 0) {
    return describeRefusals(subject, [pkg.reason, ...pkg.otherReasons]);
  }
  switch (pkg.reason) {
    case "unfree":
      return `${subject} has an unfree license in this package set, and this origin does not build unfree packages; its operator can allow them with ${refusalSwitches.unfree}.`;
    case "insecure": {
      const known = (pkg.vulnerabilities ?? []).slice(0, 3).join("; ");
      return `${subject} is marked as insecure in this package set${known ? ` (${known})` : ""}, and this origin does not build insecure packages; its operator can allow them with ${refusalSwitches.insecure}.`;
    }
    case "broken":
      return `${subject} is marked as broken in this package set, and this origin does not build broken packages; its operator can allow them with ${refusalSwitches.broken} (the build may still fail).`;
    case "unsupported":
      return `${subject} is not available for this image's platform in this package set.`;
  }
}

const refusalWords: Record<Refusal, string> = {
  unfree: "has an unfree license",
  broken: "is marked as broken",
  insecure: "is marked as insecure",
  unsupported: "is not available for this image's platform",
};

/** Every check that refuses a package, said at once (so lifting one does not reveal the next). */
function describeRefusals(subject: string, reasons: readonly Refusal[]): string {
  const facts = reasons.map((reason) => refusalWords[reason]);
  const listed =
    facts.length === 1 ? facts[0]! : `${facts.slice(0, -1).join(", ")} and ${facts.at(-1)!}`;
  const switches = reasons
    .filter((reason): reason is Exclude<Refusal, "unsupported"> => reason !== "unsupported")
    .map((reason) => refusalSwitches[reason]);
  const lift = reasons.includes("unsupported")
    ? " It cannot be built for this platform whatever the origin allows."
    : ` Its operator can allow it with ${switches.join(" and ")} together.`;
  return `${subject} ${listed} in this package set, and this origin builds none of these.${lift}`;
}

/** An image tag that names no git ref (or no commit) of the package source. */
export class TagNotFound extends Error {
  override readonly name = "TagNotFound";
  readonly tag: string;
  readonly source: string;

  constructor(tag: string, source: string) {
    super(`tag "${tag}" names no ref or commit of ${source}`);
    this.tag = tag;
    this.source = source;
  }
}

/** The package source could not be reached (e.g. `git ls-remote` failed). */
export class SourceUnavailable extends Error {
  override readonly name = "SourceUnavailable";
  readonly source: string;
  readonly detail: string;

  constructor(source: string, detail: string) {
    super(`package source ${source} is unavailable: ${detail}`);
    this.source = source;
    this.detail = detail;
  }
}

/**
 * A derivation that the lookup evaluated was garbage-collected before it was built (the .drv
 * files an evaluation writes are not GC roots). Evaluating again writes it again.
 */
export class DerivationsGone extends Error {
  override readonly name = "DerivationsGone";
  readonly derivation: string;

  constructor(derivation: string) {
    super(`${derivation} was garbage-collected between evaluation and build`);
    this.derivation = derivation;
  }
}

/**
 * Nix could not evaluate the package set (syntax error, failed fetch, throw, …). `subject` names
 * what failed: the package set, or for a flake the flake and, when known, the attribute.
 */
export class NixEvalFailed extends Error {
  override readonly name = "NixEvalFailed";
  /** Nix's message without trace, code frames or server paths. */
  readonly detail: string;
  /** What Nix printed, for the origin's log only. */
  readonly nixOutput: readonly string[];

  constructor(detail: string, nixOutput: readonly string[] = [], subject = "The package set") {
    super(`${subject} does not evaluate: ${detail}`);
    this.detail = detail;
    this.nixOutput = nixOutput;
  }
}

/** A Nix command that should not fail did (e.g. reading the closure of built paths). */
export class NixCommandFailed extends Error {
  override readonly name = "NixCommandFailed";
  readonly nixOutput: readonly string[];

  constructor(what: string, detail: string, nixOutput: readonly string[] = []) {
    super(`${what} failed: ${detail}`);
    this.nixOutput = nixOutput;
  }
}

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

/** Evaluation or build took longer than the configured limit and was stopped. */
export class NixBuildTimedOut extends Error {
  override readonly name = "NixBuildTimedOut";
  readonly seconds: number;
  readonly phase: "evaluate" | "build";
  /** The requested packages being built (attribute paths); empty for an evaluation. */
  readonly packages: readonly string[];

  constructor(
    seconds: number,
    phase: "evaluate" | "build" = "build",
    packages: readonly string[] = [],
  ) {
    super(
      phase === "build"
        ? `Building ${packages.map(typedPackageName).join(", ") || "the image"} timed out after ${seconds} s (the origin's limit) and was stopped; try again later, or ask the origin's operator to raise NIX_TIMEOUT if this image needs longer.`
        : `Evaluating the package set timed out after ${seconds} s and was stopped; try again later.`,
    );
    this.seconds = seconds;
    this.phase = phase;
    this.packages = packages;
  }
}

/** What Nix printed for an error that carries it, as a log field (never sent to clients). */
export function nixOutputOf(error: unknown): { nixOutput?: string } {
  const output = (error as { nixOutput?: unknown } | null)?.nixOutput;
  return Array.isArray(output) && output.length > 0 ? { nixOutput: output.join("\n") } : {};
}
