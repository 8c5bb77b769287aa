// The pages' HTML vocabulary: one escaping function that every piece of text passes through
// (package names, descriptions and build logs come from the package set and are untrusted), the
// page shell, and the Content-Security-Policy that lets only the same-origin script and style in.

/** Escapes text for an HTML text node or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Where the one script and the one style sheet are served (the same on every instance). */
export const assetPaths = { script: "/-/web.js", style: "/-/web.css" } as const;

/**
 * No inline script or style, nothing from elsewhere: a description or log line that carries
 * markup cannot run even if an escaping bug let it into the page.
 */
export const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers of every page: the policy, no sniffing, no referrer to other sites. */
export function pageHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": contentSecurityPolicy,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    ...extra,
  };
}

export interface PageShell {
  title: string;
  /** The page's body, already escaped. */
  body: string;
  /** data-* attributes of <body> for the script, unescaped values. */
  data?: Record<string, string>;
}

export function renderPage(shell: PageShell): string {
  const data = Object.entries(shell.data ?? {})
    .map(([key, value]) => ` data-${key}="${escapeHtml(value)}"`)
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(shell.title)}</title>
<link rel="icon" href="/-/icon.svg">
<link rel="stylesheet" href="${assetPaths.style}">
<script src="${assetPaths.script}" defer></script>
</head><body${data}>
<header><a href="/" class="home">nixery-edge</a></header>
<main>
${shell.body}
</main>
</body></html>
`;
}

/** A command line shown with a copy button (the script copies the button's data-copy). */
export function commandBlock(command: string): string {
  const text = escapeHtml(command);
  return `<div class="cmd"><pre><code>${text}</code></pre><button type="button" data-copy="${text}">Copy</button></div>`;
}

/** Bytes as a person reads them: 1.2 MB (powers of 1000, as registries show sizes). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = -1;
  do {
    value /= 1000;
    unit++;
  } while (value >= 1000 && unit < units.length - 1);
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
