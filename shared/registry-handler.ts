// The pull-only registry API over a RegistrySource, in web-standard Request/Response only, so the
// origin (Node) and the edge (workerd) answer every route identically from this one piece of code.

import { isDigest, looksLikeDigest, type Digest } from "./digest.ts";
import {
  digestCacheControl,
  tagCacheControl,
  uncachedControl,
  type Visibility,
} from "./cache-policy.ts";
import { RegistryError } from "./errors.ts";
import { assertValidName, isValidTag, parseImageName, type ImageRequest } from "./image-name.ts";
import { negotiateManifest, type ManifestWanted } from "./media-types.ts";
import { contentRange, rangeRequest, type ByteRange, type RangeRequest } from "./range.ts";
import { requestTarget } from "./request-target.ts";
import { assertReadMethod, matchRoute } from "./routes.ts";

export type { RangeRequest } from "./range.ts";

export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  bytes: Uint8Array<ArrayBuffer>;
}

export interface TagAnswer {
  manifest: StoredManifest;
  /** How long a cache may keep this tag → manifest answer. */
  maxAgeSeconds: number;
  /** The package set's revision the image was built from, sent as `Nixery-Source-Revision`. */
  revision?: string | null;
  /** Extra response headers (e.g. a stale-answer marker). */
  headers?: Record<string, string>;
}

export interface BlobRead {
  size: number;
  /** When set, the client is redirected (307) here instead of being sent the body. */
  redirect?: string;
  range: ByteRange | null;
  /** Null for HEAD. */
  body: ReadableStream<Uint8Array> | null;
}

export interface RegistrySource {
  manifestForTag(
    image: ImageRequest,
    tag: string,
    /** What the client's Accept takes: a manifest flavour, and an index flavour or none. */
    wanted: ManifestWanted,
    method: "GET" | "HEAD",
  ): Promise<TagAnswer>;
  manifestByDigest(digest: Digest): Promise<StoredManifest | null>;
  readBlob(digest: Digest, range: RangeRequest, method: "GET" | "HEAD"): Promise<BlobRead | null>;
  listTags?(image: ImageRequest): Promise<string[]>;
}

/** Tells users which revision of the package set an image came from. */
export const revisionHeader = "Nixery-Source-Revision";

/** A conditional request only needs to know that the blob exists. */
const headRange = rangeRequest(null);

const baseHeaders = { "Docker-Distribution-API-Version": "registry/2.0" };

/** The spec's tag list pagination: sorted, `last` excludes up to and including it, `n` limits. */
function paginateTags(
  tags: readonly string[],
  query: URLSearchParams,
): { tags: string[]; next: { n: number; last: string } | null } {
  const sorted = [...tags].sort();
  const last = query.get("last");
  const after = last === null ? sorted : sorted.filter((tag) => tag > last);
  const rawN = query.get("n");
  if (rawN === null || rawN === "") return { tags: after, next: null };
  if (!/^\d+$/.test(rawN)) {
    throw new RegistryError("BAD_REQUEST", `n must be a whole number, got "${rawN.slice(0, 20)}"`);
  }
  const n = Number(rawN);
  const pageTags = after.slice(0, n);
  const more = after.length > n && pageTags.length > 0;
  return { tags: pageTags, next: more ? { n, last: pageTags[pageTags.length - 1]! } : null };
}

function parseDigestParam(value: string): Digest {
  if (!isDigest(value)) {
    throw new RegistryError(
      "DIGEST_INVALID",
      `invalid digest "${value.slice(0, 100)}": expected sha256: followed by 64 lowercase hex digits`,
    );
  }
  return value;
}

/** Answers one registry request; returns null when the path is not a registry route. */
export async function handleRegistryRequest(
  request: Request,
  source: RegistrySource,
  /** "private" for an instance that needs a login: its answers are never marked public. */
  visibility: Visibility,
): Promise<Response | null> {
  const url = requestTarget(request.url);
  const route = matchRoute(url.pathname);
  if (!route) return null;
  assertReadMethod(request.method, route);
  const method = request.method === "HEAD" ? "HEAD" : "GET";
  switch (route.kind) {
    case "base":
      return new Response(method === "HEAD" ? null : "{}", {
        headers: { ...baseHeaders, "Content-Type": "application/json" },
      });
    case "upload":
      throw new RegistryError("UNSUPPORTED");
    case "catalog":
      throw new RegistryError(
        "NOT_FOUND",
        "this registry has no catalog: every combination of Nix packages is a repository name (e.g. shell/git/htop), built on first pull",
      );
    case "tags": {
      const image = parseImageName(route.name);
      const all = source.listTags ? await source.listTags(image) : ["latest"];
      const page = paginateTags(all, url.searchParams);
      const body = JSON.stringify({ name: route.name, tags: page.tags });
      const headers: Record<string, string> = {
        ...baseHeaders,
        "Content-Type": "application/json",
        "Cache-Control": uncachedControl,
      };
      if (page.next) {
        const next = new URLSearchParams({ n: String(page.next.n), last: page.next.last });
        headers.Link = `<${url.pathname}?${next}>; rel="next"`;
      }
      return new Response(method === "HEAD" ? null : body, { headers });
    }
    case "manifest":
      return serveManifest(request, route.name, route.reference, method, source, visibility);
    case "blob":
      return serveBlob(request, route.name, route.digest, method, source, visibility);
  }
}

async function serveManifest(
  request: Request,
  name: string,
  reference: string,
  method: "GET" | "HEAD",
  source: RegistrySource,
  visibility: Visibility,
): Promise<Response> {
  if (looksLikeDigest(reference) || reference.startsWith("sha256:")) {
    assertValidName(name);
    const digest = parseDigestParam(reference);
    const manifest = await source.manifestByDigest(digest);
    if (!manifest) throw new RegistryError("MANIFEST_UNKNOWN", `manifest ${digest} is not known`);
    return manifestResponse(request, manifest, method, digestCacheControl(visibility), {});
  }
  const image = parseImageName(name);
  if (!isValidTag(reference)) {
    // A reference that can be no tag names no manifest: 404, as the spec has it for a manifest
    // that cannot be found (TAG_INVALID is an upload error).
    throw new RegistryError(
      "MANIFEST_UNKNOWN",
      `no manifest ${name}:${reference.slice(0, 80)}: a tag is 1-128 characters of [A-Za-z0-9_.-] and does not start with "." or "-", a digest is sha256: and 64 hex digits`,
    );
  }
  const wanted = negotiateManifest(request.headers.get("accept"));
  const answer = await source.manifestForTag(image, reference, wanted, method);
  const cacheControl = tagCacheControl(answer.maxAgeSeconds, visibility);
  return manifestResponse(request, answer.manifest, method, cacheControl, {
    Vary: "Accept",
    ...(answer.revision ? { [revisionHeader]: answer.revision } : {}),
    ...answer.headers,
  });
}

function manifestResponse(
  request: Request,
  manifest: StoredManifest,
  method: "GET" | "HEAD",
  cacheControl: string,
  extra: Record<string, string>,
): Response {
  const headers: Record<string, string> = {
    ...baseHeaders,
    ...extra,
    "Content-Type": manifest.mediaType,
    "Content-Length": String(manifest.bytes.byteLength),
    "Docker-Content-Digest": manifest.digest,
    ETag: `"${manifest.digest}"`,
    "Cache-Control": cacheControl,
  };
  if (matchesETag(request, manifest.digest)) return new Response(null, { status: 304, headers });
  return new Response(method === "HEAD" ? null : manifest.bytes, { headers });
}

async function serveBlob(
  request: Request,
  name: string,
  digestParam: string,
  method: "GET" | "HEAD",
  source: RegistrySource,
  visibility: Visibility,
): Promise<Response> {
  assertValidName(name);
  const digest = parseDigestParam(digestParam);
  const range = rangeRequest(request.headers.get("range"));
  const headers: Record<string, string> = {
    ...baseHeaders,
    "Docker-Content-Digest": digest,
    ETag: `"${digest}"`,
    "Accept-Ranges": "bytes",
    "Cache-Control": digestCacheControl(visibility),
  };
  // Conditional answers only for blobs that exist: a 304 for an unknown digest would tell a cache
  // that something is there.
  const conditional = matchesETag(request, digest);
  const blob = await source.readBlob(
    digest,
    conditional ? headRange : range,
    conditional ? "HEAD" : method,
  );
  if (blob && conditional) return new Response(null, { status: 304, headers });
  if (blob?.redirect) {
    return new Response(null, { status: 307, headers: { ...headers, Location: blob.redirect } });
  }
  if (blob) {
    headers["Content-Type"] = "application/octet-stream";
    return rangedResponse(blob.size, blob.range, blob.body, headers);
  }
  // Manifests are blobs too: clients may fetch them from /blobs/<digest>.
  const manifest = await source.manifestByDigest(digest);
  if (!manifest) throw new RegistryError("BLOB_UNKNOWN", `blob ${digest} is not known`);
  headers["Content-Type"] = manifest.mediaType;
  if (conditional) return new Response(null, { status: 304, headers });
  const span = range.resolve(manifest.bytes.byteLength);
  const bytes = span ? manifest.bytes.subarray(span.start, span.end + 1) : manifest.bytes;
  return rangedResponse(manifest.bytes.byteLength, span, method === "HEAD" ? null : bytes, headers);
}

function rangedResponse(
  size: number,
  range: ByteRange | null,
  body: ReadableStream<Uint8Array> | Uint8Array<ArrayBuffer> | null,
  headers: Record<string, string>,
): Response {
  if (range) {
    headers["Content-Range"] = contentRange(range, size);
    headers["Content-Length"] = String(range.end - range.start + 1);
    return new Response(body, { status: 206, headers });
  }
  headers["Content-Length"] = String(size);
  return new Response(body, { status: 200, headers });
}

function matchesETag(request: Request, digest: Digest): boolean {
  const header = request.headers.get("if-none-match");
  if (!header) return false;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === `"${digest}"`);
}
