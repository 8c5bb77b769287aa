// The web face of a registry instance, one web-standard handler mounted by both apps: the start
// page, image pages (which start or join a build), the JSON they are made of (/api/instance,
// /api/images/NAME:TAG, /api/builds/NAME:TAG) and the script and style. Each app supplies the data:
// the origin from its own database and job table, the edge by asking its origin.
// Returns null for every path that is not its own, so the registry routes are untouched.

import { RegistryError, toRegistryError } from "../errors.ts";
import { assetPaths, pageHeaders } from "./html.ts";
import { clientScript, styleSheet } from "./assets.ts";
import { renderBuildPage, renderErrorPage, renderImagePage } from "./image-page.ts";
import { imagePath, isPagePath, parseImageRef, wantsHtml, type ImageRef } from "./page-path.ts";
import { endpointOf } from "./pull-commands.ts";
import { renderStartPage } from "./start-page.ts";
import type { BuildState, ImageDetails, InstanceInfo } from "./web-types.ts";

export interface WebData {
  instance(): Promise<InstanceInfo>;
  /** The image's details; null when it is not built (or its build is still running). */
  image(ref: ImageRef): Promise<ImageDetails | null>;
  /** Starts the image's build, or joins the one running (the job a pull joins too). */
  startBuild(ref: ImageRef): Promise<BuildState>;
  /**
   * The build's state once its progress has moved past `after` (or the build ended), or after a
   * while without change; never starts a build. `signal` aborts when the client goes away.
   */
  buildState(ref: ImageRef, after: number, signal: AbortSignal): Promise<BuildState>;
}

export interface WebOptions {
  role: "edge" | "origin";
  isPrivate: boolean;
}

const imagesPrefix = "/api/images/";
const buildsPrefix = "/api/builds/";
const iconSvg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><path fill="#5277c3" d="M8 1l6 3.5v7L8 15l-6-3.5v-7z"/></svg>`;

/** Paths anyone may fetch on a private instance too (the script, the style, the icon). */
export function isPublicAsset(pathname: string): boolean {
  return pathname.startsWith("/-/") || pathname === "/favicon.ico" || pathname === "/robots.txt";
}

/**
 * Whether handleWebRequest answers this request (so an app checks a private instance's login
 * first, and leaves everything else to its other routes).
 */
export function isWebRequest(request: Request, pathname: string): boolean {
  if (isPublicAsset(pathname) || pathname === "/" || pathname === "/api/instance") return true;
  if (pathname.startsWith(imagesPrefix) || pathname.startsWith(buildsPrefix)) return true;
  const read = request.method === "GET" || request.method === "HEAD";
  return read && isPagePath(pathname) && wantsHtml(request);
}

export async function handleWebRequest(
  request: Request,
  pathname: string,
  data: WebData,
  options: WebOptions,
): Promise<Response | null> {
  const method = request.method;
  const read = method === "GET" || method === "HEAD";
  if (pathname === assetPaths.script && read) return asset(clientScript, "text/javascript");
  if (pathname === assetPaths.style && read) return asset(styleSheet, "text/css");
  if (pathname === "/-/icon.svg" && read) return asset(iconSvg, "image/svg+xml");
  if (pathname === "/favicon.ico" && read) return new Response(null, { status: 204 });
  if (pathname === "/robots.txt" && read)
    return asset("User-agent: *\nDisallow: /api/\n", "text/plain");
  const endpoint = endpointOf(request.url, request.headers.get("x-forwarded-proto"));

  if (pathname === "/" && read) {
    const info = await data.instance();
    return html(renderStartPage({ info, endpoint, ...options }), 200, method);
  }
  if (pathname === "/api/instance" && read) return json(await data.instance(), 200, method);
  if (pathname.startsWith(imagesPrefix) && read) {
    const ref = parseImageRef(pathname.slice(imagesPrefix.length));
    const image = await data.image(ref);
    if (!image) {
      throw new RegistryError(
        "MANIFEST_UNKNOWN",
        `${ref.name}:${ref.tag} is not built yet: open ${imagePath(ref)} in a browser, POST ${buildsPrefix}${ref.name}:${ref.tag} or pull it to build it`,
      );
    }
    return json(image, 200, method);
  }
  if (pathname.startsWith(buildsPrefix)) {
    const ref = parseImageRef(pathname.slice(buildsPrefix.length));
    if (method === "POST") return json(await data.startBuild(ref), 200, method);
    if (!read)
      throw new RegistryError("UNSUPPORTED", `${method} is not supported here; use GET or POST`);
    const after = Number(new URL(request.url, "http://x").searchParams.get("after") ?? 0);
    const state = await data.buildState(
      ref,
      Number.isSafeInteger(after) ? after : 0,
      request.signal,
    );
    return json(state, 200, method);
  }
  if (read && isPagePath(pathname) && wantsHtml(request)) {
    return imagePage(pathname, data, endpoint, method);
  }
  return null;
}

async function imagePage(
  pathname: string,
  data: WebData,
  endpoint: ReturnType<typeof endpointOf>,
  method: string,
): Promise<Response> {
  let ref: ImageRef;
  try {
    ref = parseImageRef(pathname);
  } catch (error) {
    const registryError = toRegistryError(error);
    return html(
      renderErrorPage("Not an image name", registryError.message),
      registryError.status,
      method,
    );
  }
  try {
    const image = await data.image(ref);
    if (image) return html(renderImagePage(image, endpoint), 200, method);
    // Not built: start (or join) its build and show it; the script follows it from here.
    const state = await data.startBuild(ref);
    if (state.state === "done") {
      const built = await data.image(ref);
      if (built) return html(renderImagePage(built, endpoint), 200, method);
    }
    return html(renderBuildPage(state, endpoint), state.state === "failed" ? 404 : 200, method);
  } catch (error) {
    const registryError = toRegistryError(error);
    // Internal errors go to the app's error handler, which logs them and says nothing more.
    if (registryError.code === "INTERNAL") throw error;
    const title = `${ref.name}:${ref.tag}`;
    return html(renderErrorPage(title, registryError.message), registryError.status, method);
  }
}

function html(body: string, status: number, method: string): Response {
  return new Response(method === "HEAD" ? null : body, { status, headers: pageHeaders() });
}

function json(value: unknown, status: number, method: string): Response {
  return new Response(method === "HEAD" ? null : JSON.stringify(value), {
    status,
    headers: {
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    },
  });
}

function asset(text: string, type: string): Response {
  return new Response(text, {
    headers: {
      "Content-Type": `${type}; charset=utf-8`,
      "Cache-Control": "public, max-age=600",
      "X-Content-Type-Options": "nosniff",
    },
  });
}
