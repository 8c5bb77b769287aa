// The ways driving Nix can fail besides a lookup (lookup-errors.ts) or a build (build-errors.ts):
// the source, evaluation, a timeout, as typed errors with messages written for a registry user
// (no code frames or server paths; what Nix printed stays in `nixOutput`, for the origin's log).
// The origin maps them to registry errors at the edge of its routes; nothing here knows about HTTP.

import { typedPackageName } from "../../shared/image-name.ts";

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
