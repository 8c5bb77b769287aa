// The ways driving Nix can fail, as typed errors with the facts a client needs. The origin maps
// them to registry errors at the edge of its routes; nothing here knows about HTTP.

/** A package that exists in the set but fails to evaluate, with Nix's message. */
export interface UnevaluablePackage {
  name: string;
  error: string;
}

/**
 * Requested names that the package set does not have, and those it has but cannot evaluate
 * (unfree, broken or insecure in nixpkgs): all of them, reported together.
 */
export class PackagesNotFound extends Error {
  override readonly name = "PackagesNotFound";
  readonly missing: readonly string[];
  readonly unevaluable: readonly UnevaluablePackage[];

  constructor(missing: readonly string[], unevaluable: readonly UnevaluablePackage[] = []) {
    const lines = missing.length > 0 ? [`Could not find Nix packages: ${missing.join(", ")}`] : [];
    for (const pkg of unevaluable) {
      lines.push(`Nix package ${pkg.name} exists but does not evaluate: ${pkg.error}`);
    }
    super(lines.join("\n"));
    this.missing = missing;
    this.unevaluable = unevaluable;
  }
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

/** Nix could not evaluate the package set (syntax error, failed fetch, throw, …). */
export class NixEvalFailed extends Error {
  override readonly name = "NixEvalFailed";
  readonly detail: string;

  constructor(detail: string) {
    super(`Nix evaluation failed: ${detail}`);
    this.detail = detail;
  }
}

/** A derivation's builder failed; `logTail` holds the last lines of its build log. */
export class NixBuildFailed extends Error {
  override readonly name = "NixBuildFailed";
  /** The .drv whose builder failed, when Nix named one. */
  readonly derivation: string | null;
  readonly logTail: readonly string[];

  constructor(derivation: string | null, logTail: readonly string[], detail?: string) {
    super(
      derivation === null
        ? `Nix build failed${detail ? `: ${detail}` : ""}`
        : `Nix build failed: builder for ${derivation} failed`,
    );
    this.derivation = derivation;
    this.logTail = logTail;
  }
}

/** Evaluation or build took longer than the configured limit and was stopped. */
export class NixBuildTimedOut extends Error {
  override readonly name = "NixBuildTimedOut";
  readonly seconds: number;
  readonly phase: "evaluate" | "build";

  constructor(seconds: number, phase: "evaluate" | "build" = "build") {
    super(`Nix ${phase === "build" ? "build" : "evaluation"} timed out after ${seconds} s`);
    this.seconds = seconds;
    this.phase = phase;
  }
}
