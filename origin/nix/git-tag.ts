// Which commit an image tag names in a git repository (`git ls-remote`, no clone): used by git
// sources and git flakes alike.

import { SourceUnavailable, TagNotFound } from "./errors.ts";
import type { NixRunner } from "./runner.ts";

/** A full commit id, as a tag or a flake's `rev`. */
export const commitPattern = /^[0-9a-f]{40}$/;
/** How long one `git ls-remote` may take. */
export const gitTimeoutMs = 60_000;

/**
 * The commit a tag names and the ref that holds it (so Nix fetches only that ref). `latest` is
 * the repository's HEAD; a 40-hex tag is a commit (ref unknown: Nix then fetches all refs);
 * otherwise git tags win over branches, and annotated tags are peeled to their commit.
 */
export async function resolveGitTag(
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
