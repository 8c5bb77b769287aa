// Why a lookup of the requested names fails: names the package set lacks (with close names from
// the package index) and names it has but cannot evaluate or refuses, all reported together by the
// names as typed. Messages are for a registry user; nothing here knows about HTTP.

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
