// Where the package set comes from (a local path, a git repository, or a nixpkgs channel
// tarball) and how an image tag selects a version of it: for git the tag is a ref or a commit,
// for paths and channels the tag does not matter (as in Nixery).

import { resolve } from "node:path";
import { isValidTag } from "../../shared/image-name.ts";
import { SourceUnavailable, TagNotFound } from "./errors.ts";
import type { NixRunner } from "./runner.ts";

export type SourceConfig =
  | { kind: "path"; path: string }
  | { kind: "git"; url: string }
  /** `urlTemplate` has `{channel}` where the channel goes, e.g.
   * "https://github.com/NixOS/nixpkgs/archive/{channel}.tar.gz" (file:// works too). */
  | { kind: "channel"; channel: string; urlTemplate: string };

export interface ResolvedSource {
  /** Stable text naming the source (not the version), e.g. "git:<url>". */
  id: string;
  /** The version used: a git commit, a channel name, or null for a local path. */
  revision: string | null;
  /** True when the same tag always yields the same package set (a 40-hex commit or channel). */
  pinned: boolean;
  /** The --argstr pairs for packages.nix: srcType, src, rev, ref. */
  nixArgs: string[];
}

const commitPattern = /^[0-9a-f]{40}$/;
const gitTimeoutMs = 60_000;

export async function resolveSource(
  config: SourceConfig,
  tag: string,
  runner: NixRunner,
  options: { signal?: AbortSignal } = {},
): Promise<ResolvedSource> {
  switch (config.kind) {
    case "path": {
      // A local path can change under the same tag, so it is never pinned.
      const path = resolve(config.path);
      return {
        id: describeSource({ kind: "path", path }),
        revision: null,
        pinned: false,
        nixArgs: args("path", path),
      };
    }
    case "channel": {
      const url = channelUrl(config);
      return {
        id: describeSource(config),
        revision: config.channel,
        pinned: commitPattern.test(config.channel),
        nixArgs: args("channel", url),
      };
    }
    case "git": {
      const { commit, ref } = await resolveGitTag(config.url, tag, runner, options.signal);
      return {
        id: describeSource(config),
        revision: commit,
        // Only a commit is immutable; tags and branches can be moved.
        pinned: commitPattern.test(tag),
        nixArgs: args("git", config.url, commit, ref),
      };
    }
  }
}

/** Stable text naming a source (not its version), safe to show: credentials in URLs are hidden. */
export function describeSource(config: SourceConfig): string {
  switch (config.kind) {
    case "path":
      return `path:${resolve(config.path)}`;
    case "git":
      return `git:${redactCredentials(config.url)}`;
    case "channel":
      return `channel:${redactCredentials(channelUrl(config))}`;
  }
}

/** Hides user:password in URLs (a git source may carry a token) before text leaves the origin. */
export function redactCredentials(text: string): string {
  return text.replace(/\/\/[^/@\s]+@/g, "//***@");
}

function channelUrl(config: { channel: string; urlTemplate: string }): string {
  return config.urlTemplate.replaceAll("{channel}", encodeURIComponent(config.channel));
}

function args(srcType: string, src: string, rev = "", ref = ""): string[] {
  return [
    ...["--argstr", "srcType", srcType],
    ...["--argstr", "src", src],
    ...["--argstr", "rev", rev],
    ...["--argstr", "ref", ref],
  ];
}

/**
 * The commit a tag names and the ref that holds it (so Nix fetches only that ref). `latest` is
 * the repository's HEAD; a 40-hex tag is a commit (ref unknown: Nix then fetches all refs);
 * otherwise git tags win over branches, and annotated tags are peeled to their commit.
 */
async function resolveGitTag(
  url: string,
  tag: string,
  runner: NixRunner,
  signal: AbortSignal | undefined,
): Promise<{ commit: string; ref: string }> {
  if (commitPattern.test(tag)) {
    await assertLocalCommit(url, tag, runner, signal);
    return { commit: tag, ref: "" };
  }
  if (tag.startsWith("-") || tag.includes("\0")) throw new TagNotFound(tag, url);

  const patterns =
    tag === "latest" ? ["HEAD"] : [`refs/tags/${tag}`, `refs/tags/${tag}^{}`, `refs/heads/${tag}`];
  const lsRemote = ["ls-remote", ...(tag === "latest" ? ["--symref"] : []), url, ...patterns];
  const result = await runner("git", lsRemote, {
    timeoutMs: gitTimeoutMs,
    signal,
    env: { GIT_TERMINAL_PROMPT: "0" },
  });
  if (result.exitCode !== 0) {
    const detail = result.timedOut ? "git ls-remote timed out" : result.stderrTail.join("\n");
    throw new SourceUnavailable(url, detail.trim() || `git ls-remote exited ${result.exitCode}`);
  }

  const refs = new Map<string, string>();
  let headTarget = "";
  for (const line of result.stdout.split("\n")) {
    const symref = /^ref: (\S+)\tHEAD$/.exec(line);
    if (symref) headTarget = symref[1]!;
    const entry = /^([0-9a-f]{40})\t(\S+)$/.exec(line);
    if (entry) refs.set(entry[2]!, entry[1]!);
  }

  if (tag === "latest") {
    const commit = refs.get("HEAD");
    if (!commit) throw new TagNotFound(tag, url);
    return { commit, ref: headTarget };
  }
  for (const ref of [`refs/tags/${tag}`, `refs/heads/${tag}`]) {
    const commit = refs.get(`${ref}^{}`) ?? refs.get(ref);
    if (commit) return { commit, ref };
  }
  throw new TagNotFound(tag, url);
}

/** For a repository on this machine, checking that a commit exists is cheap; do it. */
async function assertLocalCommit(
  url: string,
  commit: string,
  runner: NixRunner,
  signal: AbortSignal | undefined,
): Promise<void> {
  const directory = url.startsWith("file://")
    ? decodeURIComponent(new URL(url).pathname)
    : url.startsWith("/")
      ? url
      : null;
  if (directory === null) return;
  const result = await runner("git", ["-C", directory, "cat-file", "-e", `${commit}^{commit}`], {
    timeoutMs: gitTimeoutMs,
    signal,
  });
  if (result.exitCode !== 0) throw new TagNotFound(commit, url);
}

/**
 * The tags a client can pull: `latest`, plus every git tag and branch whose name is a valid
 * registry tag (for paths and channels the tag does not select anything, so only `latest`).
 */
export async function listSourceTags(config: SourceConfig, runner: NixRunner): Promise<string[]> {
  if (config.kind !== "git") return ["latest"];
  const result = await runner("git", ["ls-remote", "--tags", "--heads", config.url], {
    timeoutMs: gitTimeoutMs,
    env: { GIT_TERMINAL_PROMPT: "0" },
  });
  if (result.exitCode !== 0) {
    throw new SourceUnavailable(config.url, result.stderrTail.join("\n").trim());
  }
  const names = new Set(["latest"]);
  for (const line of result.stdout.split("\n")) {
    const ref = /^[0-9a-f]{40}\trefs\/(?:tags|heads)\/([^^\s]+)$/.exec(line)?.[1];
    if (ref && isValidTag(ref)) names.add(ref);
  }
  return [...names].sort();
}
