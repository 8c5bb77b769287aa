// An image's page (`/NAME[:TAG]`): what the image holds (packages with versions, the
// meta-packages' expansion, each platform's manifest digests, every layer with its size, store
// paths and how many other images share it, the config) and how to pull it; or, while it builds,
// the build's progress, which the page's script follows until it can show the image.

import { metaPackages, nonrootUser, shellPackages } from "../image-name.ts";
import { commandBlock, escapeHtml, formatBytes, renderPage } from "./html.ts";
import { imagePath, type ImageRef } from "./page-path.ts";
import { pullCommands, type Endpoint } from "./pull-commands.ts";
import type {
  BuildState,
  ImageDetails,
  LayerInfo,
  PackageInfo,
  PlatformImage,
} from "./web-types.ts";

export const phaseLabels: Record<string, string> = {
  queued: "Waiting for a build slot",
  resolving: "Resolving the tag",
  evaluating: "Evaluating the packages",
  realising: "Building and fetching with Nix",
  grouping: "Grouping the closure into layers",
  packing: "Packing and storing layers",
  uploading: "Storing the config and manifests",
  publishing: "Recording the image",
  done: "Done",
  failed: "Failed",
};

function refText(ref: ImageRef): string {
  return `${ref.name}:${ref.tag}`;
}

function pullSection(endpoint: Endpoint, ref: ImageRef): string {
  const [docker, ...others] = pullCommands(endpoint, ref.name, ref.tag);
  const rest = others
    .map(
      (entry) =>
        `<h3>${escapeHtml(entry.client)}</h3>${commandBlock(entry.command)}${entry.note ? `<p class="note">${escapeHtml(entry.note)}</p>` : ""}`,
    )
    .join("");
  return `${commandBlock(docker!.command)}${docker!.note ? `<p class="note">${escapeHtml(docker!.note)}</p>` : ""}
<details><summary>podman, skopeo, containerd, Kubernetes</summary>${rest}</details>`;
}

export function renderImagePage(image: ImageDetails, endpoint: Endpoint): string {
  const ref = { name: image.name, tag: image.tag };
  return renderPage({
    title: `${refText(ref)} · ${endpoint.host}`,
    body: imageBody(image, endpoint),
    data: { ref: refText(ref) },
  });
}

/** The page's <main> content for a built image (also what the script swaps in after a build). */
export function imageBody(image: ImageDetails, endpoint: Endpoint): string {
  const ref = { name: image.name, tag: image.tag };
  const source = image.source;
  const revision = image.revision
    ? source.revisionUrl && source.revision === image.revision
      ? `<a href="${escapeHtml(source.revisionUrl)}"><code>${escapeHtml(image.revision)}</code></a>`
      : `<code>${escapeHtml(image.revision)}</code>`
    : "none (a directory has no revision)";
  const packages = image.packages
    .map(
      (pkg) =>
        `<tr><td><code>${escapeHtml(pkg.attr)}</code></td><td>${escapeHtml(pkg.version ?? "")}</td>${descriptionCell(pkg)}<td>${pkg.via === "named" ? "named" : pkg.via === "shell" ? "<code>shell</code>" : "always added"}</td></tr>`,
    )
    .join("");
  const metas = image.components.filter((c) => (metaPackages as readonly string[]).includes(c));
  const expansion = metas.length
    ? `<ul>${metas
        .map((meta) =>
          meta === "shell"
            ? `<li><code>shell</code> → ${shellPackages.map((p) => `<code>${p}</code>`).join(", ")}</li>`
            : meta === "nonroot"
              ? `<li><code>nonroot</code> → runs as user <code>${nonrootUser.name}</code> (${nonrootUser.uid}:${nonrootUser.gid}, home <code>${nonrootUser.home}</code>)</li>`
              : `<li><code>arm64</code> → built for <code>linux/arm64</code> only</li>`,
        )
        .join("")}</ul>`
    : "";
  const index = image.index
    ? `<p>Image index over ${image.platforms.length} platforms: <code class="digest">${escapeHtml(image.index.oci)}</code> (OCI), <code class="digest">${escapeHtml(image.index.docker)}</code> (Docker).</p>`
    : "";
  return `<h1><span class="name">${escapeHtml(image.name)}</span><span class="tag">:${escapeHtml(image.tag)}</span></h1>
${pullSection(endpoint, ref)}
<p>Source: ${source.url ? `<a href="${escapeHtml(source.url)}">${escapeHtml(source.label)}</a>` : escapeHtml(source.label)}, revision <span id="revision">${revision}</span>. As JSON: <a href="/api/images/${escapeHtml(refText(ref))}">/api/images/${escapeHtml(refText(ref))}</a>.</p>
<h2>Packages</h2>
${expansion}
<div class="scroll"><table class="packages"><thead><tr><th>Attribute</th><th>Version</th><th>Description</th><th>Why</th></tr></thead><tbody>${packages}</tbody></table></div>
${index}
${image.platforms.map((platform) => platformSection(platform)).join("\n")}`;
}

function platformSection(platform: PlatformImage): string {
  const { config } = platform;
  const layers = platform.layers.map((layer, i) => layerRow(layer, i)).join("");
  return `<section class="platform"><h2>${escapeHtml(platform.platform)}</h2>
<p>Manifest <code class="digest">${escapeHtml(platform.manifests.oci)}</code> (OCI), <code class="digest">${escapeHtml(platform.manifests.docker)}</code> (Docker). Download: <strong>${formatBytes(platform.download)}</strong> in ${platform.layers.length} layers.</p>
<h3>Layers</h3>
<div class="scroll"><table class="layers"><thead><tr><th>#</th><th>Size</th><th>Shared with</th><th>Contents</th></tr></thead><tbody>${layers}</tbody></table></div>
<h3>Config</h3>
<dl class="config"><dt>Env</dt><dd>${config.env.map((line) => `<code>${escapeHtml(line)}</code>`).join("<br>") || "none"}</dd>
<dt>Cmd</dt><dd>${config.cmd ? `<code>${escapeHtml(JSON.stringify(config.cmd))}</code>` : "none (give a command to run)"}</dd>
<dt>User</dt><dd>${config.user ? `<code>${escapeHtml(config.user)}</code>` : "root (none set)"}</dd>
${Object.entries(config.labels)
  .map(([key, value]) => `<dt>${escapeHtml(key)}</dt><dd>${escapeHtml(value)}</dd>`)
  .join("")}</dl></section>`;
}

function layerRow(layer: LayerInfo, index: number): string {
  const names = layer.paths.map((path) => path.replace(/^\/nix\/store\/[0-9a-z]{32}-/, ""));
  const summary =
    layer.kind === "symlink"
      ? "symlinks into /bin, /etc, … and /tmp, /etc/passwd"
      : names.slice(0, 3).join(", ") + (names.length > 3 ? ` and ${names.length - 3} more` : "");
  const shared =
    layer.sharedWith === 0
      ? "no other image"
      : `${layer.sharedWith} other image${layer.sharedWith === 1 ? "" : "s"}`;
  return `<tr><td>${index + 1}</td><td class="size">${formatBytes(layer.size)}</td><td>${shared}</td><td><details><summary>${escapeHtml(summary || "(empty)")}</summary><ul class="paths">${layer.paths.map((path) => `<li><code>${escapeHtml(path)}</code></li>`).join("")}</ul><code class="digest">${escapeHtml(layer.digest)}</code></details></td></tr>`;
}

/** The page of an image that is building (or failed): the script follows the build. */
export function renderBuildPage(state: BuildState, endpoint: Endpoint): string {
  const ref = { name: state.name, tag: state.tag };
  return renderPage({
    title: `${refText(ref)} · building · ${endpoint.host}`,
    body: buildBody(state),
    data: {
      ref: refText(ref),
      follow: state.state === "running" || state.state === "unbuilt" ? "1" : "0",
    },
  });
}

function buildBody(state: BuildState): string {
  const ref = { name: state.name, tag: state.tag };
  const phase = state.state === "failed" ? "failed" : (state.progress?.phase ?? "queued");
  const error = state.error
    ? `<div class="error" role="alert"><p>The build failed, and a pull gets the same answer:</p><pre id="error">${escapeHtml(state.error.message)}</pre><p><a href="${escapeHtml(imagePath(ref))}">Try again</a> (a failed build is remembered for a while).</p></div>`
    : "";
  return `<h1><span class="name">${escapeHtml(state.name)}</span><span class="tag">:${escapeHtml(state.tag)}</span></h1>
<section id="build" aria-live="polite">
<p>${state.state === "failed" ? "" : "This image is being built now; a pull of the same name waits for this very build."}</p>
<p class="phase" id="phase" data-phase="${escapeHtml(phase)}">${escapeHtml(phaseLabels[phase] ?? phase)}</p>
<ol class="phases" id="phases"></ol>
<p id="detail" class="note"></p>
<pre id="log" class="log" hidden></pre>
${error}
<noscript><p>Reload the page to see how far the build is.</p></noscript>
</section>`;
}

/** A page that says what is wrong with the request (an invalid name, a refused login, …). */
export function renderErrorPage(title: string, message: string): string {
  return renderPage({
    title,
    body: `<h1>${escapeHtml(title)}</h1><pre class="error-text">${escapeHtml(message)}</pre><p><a href="/">Start page</a></p>`,
  });
}

/** A package's description, as text; without one, a cell the script fills from the search. */
function descriptionCell(pkg: PackageInfo): string {
  return pkg.description !== undefined
    ? `<td class="desc">${escapeHtml(pkg.description)}</td>`
    : `<td class="desc" data-describe="${escapeHtml(pkg.attr)}"></td>`;
}
