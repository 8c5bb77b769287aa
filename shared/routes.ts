// The registry routes, defined once as data: matched by both apps and their tests, and built by
// the edge's origin client.
// Only GET and HEAD are served; anything that would write is UNSUPPORTED on this pull-only registry.

import { RegistryError } from "./errors.ts";
import { pathTemplate, type PathParams } from "./path-template.ts";

/**
 * Every registry route, in matching order (an upload path would also read as a blob named
 * `uploads`). Both apps match with these, and the edge builds its requests to the origin with them.
 */
export const registryPaths = {
  base: pathTemplate("/v2/"),
  catalog: pathTemplate("/v2/_catalog"),
  upload: pathTemplate("/v2/:name{.+}/blobs/uploads/*"),
  manifest: pathTemplate("/v2/:name{.+}/manifests/:reference"),
  blob: pathTemplate("/v2/:name{.+}/blobs/:digest"),
  tags: pathTemplate("/v2/:name{.+}/tags/list"),
} as const;

type RegistryPaths = typeof registryPaths;

/** A matched registry route: its kind and its parameters, e.g. {kind: "blob", name, digest}. */
export type Route = {
  [Kind in keyof RegistryPaths]: { kind: Kind } & PathParams<RegistryPaths[Kind]["template"]>;
}[keyof RegistryPaths];

export function matchRoute(pathname: string): Route | null {
  for (const [kind, template] of Object.entries(registryPaths)) {
    const params = template.match(pathname);
    if (params) return { kind, ...params } as Route;
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
