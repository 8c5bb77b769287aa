// The registry routes, defined once as data and matched by both apps and their tests.
// Only GET and HEAD are served; anything that would write is UNSUPPORTED on this pull-only registry.

import { RegistryError } from "./errors.ts";

export type Route =
  | { kind: "base" }
  | { kind: "catalog" }
  | { kind: "manifest"; name: string; reference: string }
  | { kind: "blob"; name: string; digest: string }
  | { kind: "tags"; name: string }
  | { kind: "upload"; name: string };

interface RouteSpec {
  kind: Route["kind"];
  pattern: RegExp;
}

export const routeSpecs: readonly RouteSpec[] = [
  { kind: "base", pattern: /^\/v2\/?$/ },
  { kind: "catalog", pattern: /^\/v2\/_catalog$/ },
  { kind: "upload", pattern: /^\/v2\/(.+)\/blobs\/uploads(?:\/.*)?$/ },
  { kind: "manifest", pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/ },
  { kind: "blob", pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/ },
  { kind: "tags", pattern: /^\/v2\/(.+)\/tags\/list$/ },
];

export function matchRoute(pathname: string): Route | null {
  for (const spec of routeSpecs) {
    const match = spec.pattern.exec(pathname);
    if (!match) continue;
    const name = safeDecode(match[1] ?? "");
    switch (spec.kind) {
      case "base":
        return { kind: "base" };
      case "catalog":
        return { kind: "catalog" };
      case "upload":
        return { kind: "upload", name };
      case "manifest":
        return { kind: "manifest", name, reference: safeDecode(match[2]!) };
      case "blob":
        return { kind: "blob", name, digest: safeDecode(match[2]!) };
      case "tags":
        return { kind: "tags", name };
    }
  }
  return null;
}

/** Pull-only: GET and HEAD read; writes on registry routes are UNSUPPORTED (405). */
export function assertReadMethod(method: string, route: Route): void {
  if (method === "GET" || method === "HEAD") {
    if (route.kind === "upload") {
      throw new RegistryError(
        "UNSUPPORTED",
        "this registry is pull-only: uploads are not accepted",
      );
    }
    return;
  }
  throw new RegistryError(
    "UNSUPPORTED",
    `this registry is pull-only: ${method} is not supported on ${route.kind} routes`,
    undefined,
    { headers: { Allow: "GET, HEAD" } },
  );
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
