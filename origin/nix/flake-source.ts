// A flake as the package source (NIXERY_FLAKE): which kind of reference it is, the reference an
// image tag selects, and the locked reference and revision that `nix flake metadata` gives for
// it. Flakes are experimental in Nix 2.8 (and still in 2.34): every call enables them for itself,
// the host's Nix configuration stays as it is. The flake's flake.lock is honoured and never
// updated or written (`--no-update-lock-file`): a flake whose lock file is missing an input fails
// with Nix's message rather than being locked afresh by the origin.
//
// Tags work as for a git source: for a git flake (`git+file:`, `git+ssh:`, `git+https:`) `latest`
// is the ref the reference names (else the repository's HEAD), any other tag is a git tag or
// branch (resolved with `git ls-remote`, tags first) and a 40-hex tag is that commit; for a forge
// flake (`github:`, `gitlab:`, `sourcehut:`) the tag becomes the reference's ref or rev and Nix
// resolves it; for a path and any other reference the tag selects nothing.

import { resolve } from "node:path";
import { NixEvalFailed, SourceUnavailable, TagNotFound } from "./errors.ts";
import { evalErrorMessage } from "./eval-error.ts";
import type { NixRunner } from "./runner.ts";
import { commitPattern, resolveGitTag } from "./git-tag.ts";

export type FlakeKind = "path" | "git" | "forge" | "other";

/** What enables flakes for one Nix call (nix and nix-instantiate both take it). */
export const flakeFeatureArgs = ["--extra-experimental-features", "nix-command flakes"];

const forgePattern = /^(github|gitlab|sourcehut):/;
const metadataTimeoutMs = 300_000;

/** A reference the origin cannot use, with the reason (config.ts reports it). */
export class InvalidFlakeReference extends Error {
  override readonly name = "InvalidFlakeReference";
}

/**
 * Checks a flake reference as configured and makes a relative path absolute. It is passed to
 * Nix as one argument, never as code; a leading `-` would read as an option, so it is refused.
 */
export function normaliseFlakeReference(text: string): string {
  const ref = text.trim();
  if (ref === "") throw new InvalidFlakeReference("is empty");
  if (/[\s\0]/.test(ref)) throw new InvalidFlakeReference("contains white space");
  if (ref.startsWith("-")) throw new InvalidFlakeReference('starts with "-"');
  if (ref.startsWith("./") || ref.startsWith("../") || ref === "." || ref === "..") {
    return resolve(ref);
  }
  if (ref.startsWith("path:./") || ref.startsWith("path:../")) {
    return `path:${resolve(ref.slice("path:".length))}`;
  }
  return ref;
}

export function flakeKind(ref: string): FlakeKind {
  if (ref.startsWith("/") || ref.startsWith("path:")) return "path";
  if (/^git\+[a-z]+:/.test(ref)) return "git";
  if (forgePattern.test(ref)) return "forge";
  return "other";
}

/** A flake on this machine (a path or `git+file:`): checked at start-up, not by readiness. */
export function isLocalFlake(ref: string): boolean {
  return flakeKind(ref) === "path" || ref.startsWith("git+file:");
}

/** The git URL behind a `git+…` flake reference: `git+ssh://h/r?ref=x` → `ssh://h/r`. */
export function gitUrlOf(ref: string): string {
  return ref.slice("git+".length).replace(/[?#].*$/, "");
}

/** Splits `base?query` into the base and its parameters (flake references are URL-like). */
function splitQuery(ref: string): { base: string; params: URLSearchParams } {
  const hash = ref.indexOf("#");
  const withoutFragment = hash >= 0 ? ref.slice(0, hash) : ref;
  const question = withoutFragment.indexOf("?");
  if (question < 0) return { base: withoutFragment, params: new URLSearchParams() };
  return {
    base: withoutFragment.slice(0, question),
    params: new URLSearchParams(withoutFragment.slice(question + 1)),
  };
}

function joinQuery(base: string, params: URLSearchParams): string {
  const query = params.toString();
  return query ? `${base}?${query}` : base;
}

/**
 * The reference to lock for an image tag, and whether it names an immutable revision. May run
 * `git ls-remote` (git flakes); throws TagNotFound for a tag the repository does not have.
 */
export async function flakeReferenceForTag(
  ref: string,
  tag: string,
  runner: NixRunner,
  signal?: AbortSignal,
  shownRef = ref,
): Promise<{ ref: string; pinned: boolean }> {
  const kind = flakeKind(ref);
  if (kind === "path" || kind === "other") return { ref, pinned: false };
  const { base, params } = splitQuery(ref);
  if (kind === "forge") {
    if (tag === "latest") return { ref, pinned: commitPattern.test(params.get("rev") ?? "") };
    if (tag.startsWith("-") || tag.includes("/")) throw new TagNotFound(tag, `flake ${shownRef}`);
    // `github:owner/repo/REF` carries the ref in the path; the tag replaces it.
    const [scheme, path] = [base.slice(0, base.indexOf(":")), base.slice(base.indexOf(":") + 1)];
    const ownerRepo = path.split("/").slice(0, 2).join("/");
    params.delete("ref");
    params.delete("rev");
    params.set(commitPattern.test(tag) ? "rev" : "ref", tag);
    return { ref: joinQuery(`${scheme}:${ownerRepo}`, params), pinned: commitPattern.test(tag) };
  }
  // A git flake: the configured rev (or ref) is what `latest` means.
  const configuredRev = params.get("rev");
  if (tag === "latest" && configuredRev) return { ref, pinned: true };
  // `?ref=refs/heads/x` and `?ref=x` name the same branch (ls-remote looks a name up as a tag,
  // then as a branch).
  const configuredRef = params.get("ref")?.replace(/^refs\/(heads|tags)\//, "");
  const gitTag = tag === "latest" ? (configuredRef ?? "latest") : tag;
  const { commit, ref: gitRef } = await resolveGitTag(gitUrlOf(ref), gitTag, runner, signal).catch(
    (error: unknown) => {
      // Named by the flake reference as configured, not the git URL inside it.
      if (error instanceof TagNotFound) throw new TagNotFound(tag, `flake ${shownRef}`);
      if (error instanceof SourceUnavailable) {
        throw new SourceUnavailable(`flake ${shownRef}`, error.detail);
      }
      throw error;
    },
  );
  params.delete("ref");
  params.delete("rev");
  if (gitRef && gitRef !== "HEAD") params.set("ref", gitRef);
  params.set("rev", commit);
  return { ref: joinQuery(base, params), pinned: commitPattern.test(tag) };
}

/** What `nix flake metadata --json` says of a flake, in every Nix version (see parse below). */
export interface FlakeMetadata {
  /** The locked reference: evaluating it gives the same outputs every time. */
  lockedRef: string;
  /** The git commit, when the flake has one. */
  rev: string | null;
  /** The hash of the flake's source tree (always there for a fetched flake). */
  narHash: string | null;
}

/** The revision shown and recorded for a flake: its commit, else its source's narHash. */
export function flakeRevision(metadata: FlakeMetadata): string | null {
  return metadata.rev ?? metadata.narHash;
}

/**
 * Reads `nix flake metadata --json`. Nix 2.8, 2.26 and 2.34 all print the locked reference as
 * `url` (2.26 and 2.34 percent-encode the `=` of a narHash), the attributes as `locked` and the
 * commit as `revision`; a `lockedUrl`, should a version print one, is preferred. A dirty git tree
 * has no `rev` (2.26 and 2.34 say `dirtyRevision`, which is no commit) and its `url` is not locked.
 * Samples of each version: test/fixtures/nix-output/<version>/flake-metadata-*.json.
 */
export function parseFlakeMetadata(stdout: string): FlakeMetadata {
  let data: unknown;
  try {
    data = JSON.parse(stdout);
  } catch {
    throw new Error(`nix flake metadata printed no JSON: ${stdout.slice(0, 200)}`);
  }
  const record = (value: unknown): Record<string, unknown> =>
    value && typeof value === "object" ? (value as Record<string, unknown>) : {};
  const top = record(data);
  const locked = record(top.locked);
  const text = (value: unknown): string | null =>
    typeof value === "string" && value !== "" ? value : null;
  const lockedRef = text(top.lockedUrl) ?? text(top.url);
  if (!lockedRef) throw new Error("nix flake metadata printed no locked reference");
  const rev = text(locked.rev) ?? text(top.revision);
  return {
    lockedRef,
    rev: rev && commitPattern.test(rev) ? rev : null,
    narHash: text(locked.narHash),
  };
}

/** Nix's messages for a flake that was fetched but is wrong itself (not a fetch that failed). */
const brokenFlakePattern =
  /requires lock file changes|syntax error|undefined variable|flake.nix' does not exist|is not a flake|has an unsupported attribute/;

/**
 * Locks a flake reference (fetching it if need be) without updating its lock file. Throws
 * NixEvalFailed naming the flake when the flake itself is wrong (flake.nix does not parse, or
 * flake.lock does not pin every input), else SourceUnavailable with Nix's message (without
 * server paths) when it cannot be fetched.
 */
export async function lockFlake(
  runner: NixRunner,
  ref: string,
  shownRef: string,
  signal?: AbortSignal,
): Promise<FlakeMetadata> {
  const result = await runner(
    "nix",
    [...flakeFeatureArgs, "flake", "metadata", "--json", "--no-update-lock-file", "--", ref],
    { timeoutMs: metadataTimeoutMs, signal, env: { GIT_TERMINAL_PROMPT: "0" } },
  );
  if (result.timedOut) {
    throw new SourceUnavailable(`flake ${shownRef}`, "nix flake metadata timed out");
  }
  if (result.exitCode !== 0) {
    const message = evalErrorMessage(result.stderrTail);
    if (!brokenFlakePattern.test(message)) {
      throw new SourceUnavailable(`flake ${shownRef}`, message);
    }
    const advice = /requires lock file changes/.test(message)
      ? " (the origin uses the flake's flake.lock as it is and never updates it: lock the flake with `nix flake lock` and commit flake.lock)"
      : "";
    throw new NixEvalFailed(`${message}${advice}`, result.stderrTail, `The flake ${shownRef}`);
  }
  try {
    return parseFlakeMetadata(result.stdout);
  } catch (error) {
    throw new SourceUnavailable(`flake ${shownRef}`, (error as Error).message);
  }
}
