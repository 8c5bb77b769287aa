// The start page at `/`: what this registry is, how to pull from it (and, when private, that a
// login comes first), and whether a builder stands behind it. It names nothing a user could not
// see anyway: the builder's address is not shown, the origin is meant to stay private.

import { metaPackages, nonrootUser, shellPackages } from "../shared/image-name.ts";

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderStartPage(host: string, hasOrigin: boolean, isPrivate = false): string {
  const h = escapeHtml(host);
  const login = isPrivate
    ? `<p>This registry is private: log in first with a user name and password its operator gave
you (<code>docker login ${h}</code>, <code>podman login ${h}</code>, <code>skopeo login ${h}</code>,
<code>ctr images pull --user NAME</code>).</p>\n`
    : "";
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Nixery edge</title>
<style>body{font-family:system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em;line-height:1.5}code,pre{background:#f3f3f3;padding:.1em .3em}pre{padding:.6em;overflow-x:auto}</style>
</head>
<body>
<h1>Nixery edge</h1>
<p>A container registry that builds images on demand from Nix packages. Each path component of an
image name is a package; the image contains exactly those packages and their dependencies.
This edge serves images it has seen from its own cache and asks the builder only for new ones.</p>
<h2>Pulling</h2>
${login}<pre>docker pull ${h}/shell/git/htop:latest
podman pull ${h}/hello
skopeo copy docker://${h}/shell/hello:latest oci:/tmp/image:latest
ctr images pull ${h}/hello:latest</pre>
<p>Package order does not matter: <code>${h}/git/htop</code> and <code>${h}/htop/git</code> are the same image.</p>
<h2>Meta-packages</h2>
<ul>
<li><code>${metaPackages[0]}</code> adds an interactive shell (${shellPackages.join(", ")}).</li>
<li><code>${metaPackages[1]}</code> builds for aarch64 only.</li>
<li><code>${metaPackages[2]}</code> runs the image as user ${nonrootUser.name} (uid and gid ${nonrootUser.uid}, home
<code>${nonrootUser.home}</code>), which Kubernetes' <code>runAsNonRoot</code> accepts: <code>${h}/nonroot/shell/git</code>.</li>
</ul>
<p>Without <code>${metaPackages[1]}</code>, a name is built for every platform the builder serves: when
that is several, the answer is an image index and each client pulls its own platform
(<code>docker pull --platform linux/arm64 ${h}/hello</code>).</p>
<p>Meta-packages are recognised only at the front of the name, e.g. <code>${h}/shell/arm64/curl</code>.</p>
<h2>Caching</h2>
<p>Manifests by digest and layers are immutable and cached for a year. A tag is re-resolved when
the builder's answer expires; while the builder is unreachable, images pulled before keep working
(marked with <code>X-Nixery-Stale: true</code>).</p>
<p>${hasOrigin ? "New images are built on demand by this edge's builder." : "No builder is configured: only images this edge has cached can be pulled."}</p>
</body>
</html>
`;
}
