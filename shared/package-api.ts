// The package index's JSON API (served by the origin and, forwarded, by the edge):
//   GET /api/packages?q=<words>[&limit=1..50][&tag=<tag>]   → PackageSearchResponse
//   GET /api/packages/<attr>[?tag=<tag>]                    → PackageLookupResponse, or 404
// Errors are registry errors ({"errors":[…]}), like every other answer of both apps.

export const packageApiPrefix = "/api/packages";

export const packageSearchLimit = { default: 20, max: 50 } as const;

export type PackageIndexState = "ready" | "building" | "failed";

export interface PackageResult {
  /** The attribute path in the package set, e.g. "python3Packages.numpy". */
  attr: string;
  /** The image-name component a user types, e.g. "python3packages.numpy". */
  image: string;
  name: string;
  version: string;
  /** meta.description; untrusted text, may be "". */
  description: string;
  /** Short licence ids joined by ", "; may be "". */
  license: string;
  unfree: boolean;
  broken: boolean;
  insecure: boolean;
}

export interface PackageSearchResponse {
  revision: string;
  index: PackageIndexState;
  results: PackageResult[];
}

export interface PackageLookupResponse {
  revision: string;
  index: PackageIndexState;
  /** null only while the index is still being built and has not reached this package. */
  package: PackageResult | null;
}

/** Whether a path is one of the package API's (both apps route it the same way). */
export function isPackageApiPath(pathname: string): boolean {
  return pathname === packageApiPrefix || pathname.startsWith(`${packageApiPrefix}/`);
}
