// Where the package set comes from (a local path, a git repository, a nixpkgs channel tarball,
// or a flake) and how an image tag selects a version of it: for git the tag is a ref or a commit,
// for paths and channels the tag does not matter (as in Nixery); flakes: flake-source.ts.
//
// Every source resolves to the same thing, a ResolvedSource: the --argstr arguments (and Nix
// options) with which nix/packages.nix imports that version of the set. packages.nix turns it
// into `roots`, the attribute sets names are looked up in (for a flake: packages.<system>, then
// legacyPackages.<system>), so whatever evaluates attributes of the source (the lookup, the
// start-up check, an index of the set) calls packagesExpression() and never cares which kind
// of source it is.

import { resolve } from "node:path";
import { isValidTag } from "../../shared/image-name.ts";
import { SourceUnavailable } from "./errors.ts";
import {
  flakeFeatureArgs,
  flakeKind,
  flakeReferenceForTag,
  flakeRevision,
  gitUrlOf,
  lockFlake,
} from "./flake-source.ts";
import { commitPattern, gitTimeoutMs, resolveGitTag } from "./git-tag.ts";
import type { NixRunner } from "./runner.ts";

export type SourceConfig =
  | { kind: "path"; path: string }
  | { kind: "git"; url: string }
  /** `urlTemplate` has `{channel}` where the channel goes, e.g.
   * "https://github.com/NixOS/nixpkgs/archive/{channel}.tar.gz" (file:// works too). */
  | { kind: "channel"; channel: string; urlTemplate: string }
  /** `ref` is a flake reference as Nix reads it (a path, git+file:, git+ssh:, github:, …). */
  | { kind: "flake"; ref: string };

export interface ResolvedSource {
  /** Stable text naming the source (not the version), e.g. "git:<url>". */
  id: string;
  /** The version used: a git commit, a channel name, or null for a local path. */
  revision: string | null;
  /** True when the same tag always yields the same package set (a 40-hex commit or channel). */
  pinned: boolean;
  /** The --argstr pairs for packages.nix: srcType, src, rev, ref. */
  nixArgs: string[];
  /** Options every Nix evaluation of this source needs (a flake: enabling flakes for the call). */
  nixOptions: string[];
  /** For a flake: the locked reference evaluated (shown in messages, credentials hidden). */
  flake?: { lockedRef: string };
}

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
        nixOptions: [],
      };
    }
    case "channel": {
      const url = channelUrl(config);
      return {
        id: describeSource(config),
        revision: config.channel,
        pinned: commitPattern.test(config.channel),
        nixArgs: args("channel", url),
        nixOptions: [],
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
        nixOptions: [],
      };
    }
    case "flake": {
      const shown = redactCredentials(config.ref);
      const selected = await flakeReferenceForTag(config.ref, tag, runner, options.signal, shown);
      const metadata = await lockFlake(runner, selected.ref, shown, options.signal);
      return {
        id: describeSource(config),
        revision: flakeRevision(metadata),
        pinned: selected.pinned,
        // builtins.getFlake of the locked reference: what was locked here is what is evaluated.
        nixArgs: args("flake", metadata.lockedRef),
        nixOptions: flakeFeatureArgs,
        flake: { lockedRef: redactCredentials(metadata.lockedRef) },
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
    case "flake":
      return `flake:${redactCredentials(config.ref)}`;
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
 * The tags a client can pull: `latest`, plus every git tag and branch whose name is a valid
 * registry tag (of a git source or git flake; for paths, channels and other flakes the tag does
 * not select anything, or the forge is not asked, so only `latest`).
 */
export async function listSourceTags(config: SourceConfig, runner: NixRunner): Promise<string[]> {
  const url =
    config.kind === "git"
      ? config.url
      : config.kind === "flake" && flakeKind(config.ref) === "git"
        ? gitUrlOf(config.ref)
        : null;
  if (url === null) return ["latest"];
  const result = await runner("git", ["ls-remote", "--tags", "--heads", url], {
    timeoutMs: gitTimeoutMs,
    env: { GIT_TERMINAL_PROMPT: "0" },
  });
  if (result.exitCode !== 0) {
    throw new SourceUnavailable(url, result.stderrTail.join("\n").trim());
  }
  const names = new Set(["latest"]);
  for (const line of result.stdout.split("\n")) {
    const ref = /^[0-9a-f]{40}\trefs\/(?:tags|heads)\/([^^\s]+)$/.exec(line)?.[1];
    if (ref && isValidTag(ref)) names.add(ref);
  }
  return [...names].sort();
}
