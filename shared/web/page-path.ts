// Which request paths are pages, and of what. An image's page is the path a user writes after
// `docker pull HOST/`: `/shell/hello` or `/shell/hello:v1`. Registry clients never ask for these
// (they speak /v2/…), the first path segments the apps use for other things are reserved, and only
// a browser's request (Accept: text/html) is a page request, so `curl HOST/hello` or a crawler's
// guess at /favicon.ico never starts a build.

import { assertValidName, assertValidTag } from "../image-name.ts";

/** First path segments that are never image pages. */
const reserved = new Set([
  "v2",
  "_origin",
  "api",
  "-",
  "auth",
  "healthz",
  "livez",
  "metrics",
  "favicon.ico",
  "robots.txt",
]);

export interface ImageRef {
  name: string;
  tag: string;
}

/** Whether the request is a browser's (it asks for HTML). */
export function wantsHtml(request: Request): boolean {
  return (request.headers.get("accept") ?? "").toLowerCase().includes("text/html");
}

/** Whether `pathname` could be an image page (not a route of something else). */
export function isPagePath(pathname: string): boolean {
  const first = pathname.split("/")[1] ?? "";
  return pathname.length > 1 && !reserved.has(first);
}

/**
 * `name[:tag]` as written after HOST/ (percent-decoded), validated: throws the registry's own
 * NAME_INVALID / TAG_INVALID error, with the message a pull of that name would get.
 */
export function parseImageRef(text: string): ImageRef {
  let decoded = text;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    // Left as written; the name check below says what is wrong with it.
  }
  const trimmed = decoded.replace(/^\/+|\/+$/g, "");
  const colon = trimmed.lastIndexOf(":");
  const name = colon < 0 ? trimmed : trimmed.slice(0, colon);
  const tag = colon < 0 ? "latest" : trimmed.slice(colon + 1);
  assertValidName(name);
  assertValidTag(tag);
  return { name, tag };
}

/** The page path of an image: /name, or /name:tag for a tag other than latest. */
export function imagePath(ref: ImageRef): string {
  return `/${ref.name}${ref.tag === "latest" ? "" : `:${ref.tag}`}`;
}
