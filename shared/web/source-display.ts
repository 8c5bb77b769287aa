// How the package source is named on a page: a public forge or channel URL is shown and, for a
// known forge, the revision is linked to its commit; a directory or repository on the origin's
// own disk is named without its path (server paths never reach a page).

import type { PublicSource } from "./web-types.ts";

/** Forges whose commit pages we know how to link: host → path of a commit under the repo. */
const forges: Record<string, (rev: string) => string> = {
  "github.com": (rev) => `/commit/${rev}`,
  "gitlab.com": (rev) => `/-/commit/${rev}`,
  "codeberg.org": (rev) => `/commit/${rev}`,
  "git.sr.ht": (rev) => `/commit/${rev}`,
};

/**
 * `sourceId` is the origin's description of its source ("path:…", "git:URL", "channel:URL",
 * credentials already redacted); `revision` the one `latest` names now.
 */
export function publicSource(sourceId: string, revision: string | null): PublicSource {
  const colon = sourceId.indexOf(":");
  let kind = sourceId.slice(0, colon);
  let location = sourceId.slice(colon + 1);
  if (kind === "flake") {
    // github:OWNER/REPO[/REF] and gitlab:… are forge repositories; git+https:// a git URL; other
    // flake references (path:, git+file:, a local directory) stay unnamed.
    const forge = /^(github|gitlab):([^/]+)\/([^/?]+)/.exec(location);
    if (forge) location = `https://${forge[1]}.com/${forge[2]}/${forge[3]}`;
    else location = location.replace(/^git\+/, "");
    kind = "git";
    if (!/^(https?|ssh):\/\//.test(location) && !/^[\w.-]+@[\w.-]+:/.test(location)) {
      return { label: "a flake of the operator's", url: null, revision, revisionUrl: null };
    }
  }
  if (kind === "git" || kind === "channel") {
    const web = webUrl(location);
    if (web) {
      const { host, repoPath } = web;
      const repoUrl = `https://${host}${repoPath}`;
      const commit = forges[host];
      const linkable = revision !== null && (kind === "channel" || /^[0-9a-f]{40}$/.test(revision));
      return {
        label: `${host}${repoPath}`,
        url: kind === "git" ? repoUrl : `https://${web.host}${web.fullPath}`,
        revision,
        revisionUrl:
          commit && linkable
            ? kind === "git"
              ? `${repoUrl}${commit(revision)}`
              : `${repoUrl}/tree/${encodeURIComponent(revision)}`
            : null,
      };
    }
    return {
      label: sourceId.startsWith("flake:")
        ? "a flake of the operator's"
        : kind === "git"
          ? "a git repository of the operator's"
          : "a channel of the operator's",
      url: null,
      revision,
      revisionUrl: null,
    };
  }
  return { label: "a local package set (not versioned)", url: null, revision, revisionUrl: null };
}

/**
 * The web address of a git or tarball URL on a public host (https, http, ssh, git@host:path),
 * with the repository as its first two path segments; null for local paths, file:// and hosts
 * that are not public names.
 */
function webUrl(location: string): { host: string; repoPath: string; fullPath: string } | null {
  const scp = /^[\w.-]+@([\w.-]+):(.+)$/.exec(location);
  let host: string;
  let path: string;
  if (scp) {
    host = scp[1]!;
    path = `/${scp[2]!}`;
  } else {
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      return null;
    }
    if (!["https:", "http:", "ssh:", "git:"].includes(url.protocol)) return null;
    host = url.hostname;
    path = url.pathname;
  }
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(host) || /^[\d.]+$/.test(host) || /\*/.test(location)) {
    return null;
  }
  if (host === "localhost" || host.endsWith(".local") || host.endsWith(".internal")) return null;
  const segments = path.split("/").filter(Boolean);
  if (segments.length < 2) return null;
  const repoPath = `/${segments[0]}/${segments[1]!.replace(/\.git$/, "")}`;
  return { host: host.toLowerCase(), repoPath, fullPath: path };
}
