// The start page at `/`: what this instance is, how to pull from it, the meta-packages, which
// package source and revision it serves, and the most recent build errors.

import type { BuildRecord } from "./cache/build-records.ts";

export interface StartPageInfo {
  host: string;
  source: string;
  revision: string | null;
  storage: string;
  recentErrors: BuildRecord[];
  builds: { running: number; queued: number };
  /** Platforms a name without `arm64/` is built for (NIXERY_PLATFORMS). */
  platforms: string[];
  /** What clients that take no index get. */
  hostPlatform: string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

export function renderStartPage(info: StartPageInfo): string {
  const host = escapeHtml(info.host);
  const errors = info.recentErrors.length
    ? `<table><tr><th>when</th><th>image</th><th>tag</th><th>outcome</th><th>error</th></tr>${info.recentErrors
        .map(
          (build) =>
            `<tr><td>${new Date(build.finishedAt).toISOString()}</td><td>${escapeHtml(build.image)}</td><td>${escapeHtml(build.tag)}</td><td>${build.outcome}</td><td><pre>${escapeHtml((build.error ?? "").slice(0, 2000))}</pre></td></tr>`,
        )
        .join("")}</table>`
    : "<p>No failed builds.</p>";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Nixery origin at ${host}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code,pre{background:#f3f3f3;padding:.1rem .3rem}pre{white-space:pre-wrap;margin:0}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .4rem;vertical-align:top;text-align:left}</style>
</head><body>
<h1>Nixery origin</h1>
<p>Container images built on demand from Nix packages. Every path component of an image name is a
package; the image holds exactly those packages and their dependencies, in layers shared between images.</p>
<h2>Pull</h2>
<pre>docker pull ${host}/shell/git/htop
podman pull ${host}/hello
skopeo copy docker://${host}/shell/hello:latest oci:image:latest</pre>
<h2>Meta-packages</h2>
<ul><li><code>shell</code> (at the front): adds bashInteractive, coreutils, moreutils and nano.</li>
<li><code>arm64</code> (at the front): builds for aarch64-linux only.</li>
<li><code>nonroot</code> (at the front): the image runs as user <code>nonroot</code> (uid and gid 65532, home
<code>/home/nonroot</code>), so Kubernetes' <code>runAsNonRoot</code> accepts it, e.g. <code>${host}/nonroot/shell/git</code>.</li></ul>
<h2>Platforms</h2>
${platformsText(info.platforms, info.hostPlatform)}
<p><code>cacert</code> and <code>iana-etc</code> are always included. Package order does not matter;
<code>a.b</code> reaches nested sets; lowercase names find their camelCase packages.</p>
<h2>Source</h2>
<p>Packages from <code>${escapeHtml(info.source)}</code>${info.revision ? `, revision <code>${escapeHtml(info.revision)}</code>` : ""}.
The image tag selects the revision: <code>latest</code> is the default branch; a git tag, branch or 40-hex commit selects that one.</p>
<p>Storage: <code>${escapeHtml(info.storage)}</code>. Builds running: ${info.builds.running}, queued: ${info.builds.queued}.</p>
<h2>Recent build errors</h2>
${errors}
</body></html>`;
}

function platformsText(platforms: readonly string[], host: string): string {
  const list = platforms.map((platform) => `<code>${escapeHtml(platform)}</code>`).join(", ");
  if (platforms.length < 2) return `<p>Images are built for ${list}.</p>`;
  return `<p>A name is built for ${list}: clients get an image index (an OCI index or a Docker
manifest list) and pull their own platform, e.g. <code>docker pull --platform linux/arm64</code>;
clients that take no index get the ${escapeHtml(host)} image. An index is served only
when every platform built.</p>`;
}
