// The start page at `/`, the same on the edge and on an origin serving alone: what this instance
// is, a package search, how to pull with each client (for this host and scheme), the
// meta-packages, the package source and revision it serves, its platforms, the recently built and
// most pulled images, and a short FAQ.

import { nonrootUser, shellPackages } from "../image-name.ts";
import { commandBlock, escapeHtml, renderPage } from "./html.ts";
import { imagePath } from "./page-path.ts";
import { pullCommands, type Endpoint } from "./pull-commands.ts";
import type { ImageSummary, InstanceInfo, PublicSource } from "./web-types.ts";

export interface StartPageInput {
  info: InstanceInfo;
  endpoint: Endpoint;
  /** "edge": a CDN edge in front of a builder; "origin": the builder serving alone. */
  role: "edge" | "origin";
  isPrivate: boolean;
}

/** The image the examples use: one this instance has built, else a package every set has. */
export function exampleImage(info: InstanceInfo): string {
  return info.recent[0]?.name ?? info.popular[0]?.name ?? "hello";
}

export function renderStartPage(input: StartPageInput): string {
  const { info, endpoint } = input;
  const host = escapeHtml(endpoint.host);
  const example = exampleImage(info);
  const pull = pullCommands(endpoint, example);
  const pullList = pull
    .map(
      (entry) =>
        `<h3>${escapeHtml(entry.client)}</h3>${commandBlock(entry.command)}${entry.note ? `<p class="note">${escapeHtml(entry.note)}</p>` : ""}`,
    )
    .join("\n");
  const login = input.isPrivate
    ? `<p>This registry is private: registry clients log in first (<code>docker login ${host}</code>, <code>podman login ${host}</code>, <code>skopeo login ${host}</code>, <code>ctr images pull --user NAME</code>).</p>`
    : "";
  const body = `<h1>Container images from Nix packages</h1>
<p>${host} serves container images built on demand from Nix packages: every path component of an
image name is a package, and the image holds exactly those packages and their dependencies, in
layers shared between images. ${input.role === "edge" ? "This edge serves the images it has seen from its own caches and asks its builder for new ones." : "This is the builder (origin) itself, serving the registry API directly."}</p>

<p class="facts">${sourceText(info.source)} Built for ${info.platforms.map((platform) => `<code>${escapeHtml(platform)}</code>`).join(", ")}.</p>

<section id="search" aria-label="Package search">
<h2>Find a package</h2>
<form class="search" role="search" action="/" method="get"><label for="q">Package</label>
<input type="search" id="q" name="q" autocomplete="off" spellcheck="false" placeholder="e.g. hello, or words of a description" data-pull-host="${host}"></form>
<p id="search-status" class="note" aria-live="polite"></p>
<ol id="results"></ol>
<noscript><p class="note">The search needs JavaScript; the JSON API is <a href="/api/packages?q=hello">/api/packages?q=…</a>.</p></noscript>
</section>

<h2>Pull an image</h2>
${login}<p>For example <a href="${escapeHtml(imagePath({ name: example, tag: "latest" }))}">${escapeHtml(example)}</a>; open <code>${host}/NAME</code> in a browser to see what an image holds, or to watch it build.</p>
${pullList}

<h2>Image names</h2>
<ul>
<li><code>${host}/git/htop</code> and <code>${host}/htop/git</code> are the same image: package order does not matter.</li>
<li><code>shell</code> (at the front) adds an interactive shell: ${shellPackages.map((name) => `<code>${name}</code>`).join(", ")}, e.g. <code>${host}/shell/${escapeHtml(example)}</code>.</li>
<li><code>arm64</code> (at the front) builds for aarch64-linux only, e.g. <code>${host}/arm64/${escapeHtml(example)}</code>.</li>
<li><code>nonroot</code> (at the front): the image runs as user <code>${nonrootUser.name}</code> (uid and gid ${nonrootUser.uid}, home <code>${nonrootUser.home}</code>), so Kubernetes' <code>runAsNonRoot</code> accepts it, e.g. <code>${host}/nonroot/shell/${escapeHtml(example)}</code>.</li>
<li><code>cacert</code> and <code>iana-etc</code> are always added when the package set has them.</li>
<li><code>a.b</code> reaches nested sets; lowercase names find camelCase attributes (<code>haskellpackages.pandoc</code>).</li>
<li>The tag picks the package set's revision: <code>latest</code> is the default branch; a git tag, branch or 40-hex commit picks that one.</li>
</ul>


<h2>Platforms</h2>
${platformsText(info.platforms, info.hostPlatform)}

<h2>Recently built</h2>
${imageList(info.recent, "builtAt")}
<h2>Most pulled</h2>
${imageList(info.popular, "pulls")}
<p class="note">Builds running now: ${info.builds.running}, waiting: ${info.builds.queued}.</p>

<h2>Questions</h2>
<dl class="faq">
<dt>Which nixpkgs is this?</dt><dd>The package source above, at the revision shown; a tag picks another revision.</dd>
<dt>How are layers shared?</dt><dd>Store paths that many images use get layers of their own (Nixery's popularity layering), so images that share dependencies share layers and a client downloads each layer once. An image's page says how many other images hold each of its layers.</dd>
<dt>How long does a new image take?</dt><dd>An image built before answers at once. A new one is built when it is first asked for: seconds when its packages are in a binary cache or the store, longer when Nix must build from source. Open its page to watch the build as it happens; a <code>docker pull</code> of the same name waits for the same build.</dd>
<dt>Why did my pull fail?</dt><dd>The error message says which packages were not found or did not build; the image's page shows the same message.</dd>
<dt>What is this software?</dt><dd>nixery-edge, a TypeScript successor of <a href="https://nixery.dev">Nixery</a>: a builder with Nix and a registry at the edge of a CDN.</dd>
</dl>`;
  return renderPage({ title: `Nix container images at ${endpoint.host}`, body });
}

function sourceText(source: PublicSource): string {
  const label = source.url
    ? `<a href="${escapeHtml(source.url)}">${escapeHtml(source.label)}</a>`
    : escapeHtml(source.label);
  const revision = source.revision
    ? source.revisionUrl
      ? `<a href="${escapeHtml(source.revisionUrl)}"><code>${escapeHtml(source.revision)}</code></a>`
      : `<code>${escapeHtml(source.revision)}</code>`
    : "none (a directory has none)";
  return `<span id="source">Packages from ${label}</span>, <code>latest</code> at revision <span id="revision">${revision}</span>.`;
}

function platformsText(platforms: readonly string[], host: string): string {
  const list = platforms.map((platform) => `<code>${escapeHtml(platform)}</code>`).join(", ");
  if (platforms.length < 2) return `<p>Images are built for ${list}.</p>`;
  return `<p>A name is built for ${list}: clients get an image index and pull their own platform
(<code>docker pull --platform linux/arm64 …</code>); clients that take no index get the
${escapeHtml(host)} image.</p>`;
}

function imageList(images: readonly ImageSummary[], by: "builtAt" | "pulls"): string {
  if (images.length === 0) return `<p class="note">None yet.</p>`;
  const items = images.map((image) => {
    const when =
      by === "pulls"
        ? `${image.pulls} pull${image.pulls === 1 ? "" : "s"}`
        : `<time datetime="${new Date(image.builtAt).toISOString()}">${new Date(image.builtAt).toISOString().slice(0, 16).replace("T", " ")} UTC</time>`;
    return `<li><a href="${escapeHtml(imagePath({ name: image.name, tag: "latest" }))}">${escapeHtml(image.name)}</a> <span class="note">${when}</span></li>`;
  });
  return `<ul class="images">${items.join("")}</ul>`;
}
