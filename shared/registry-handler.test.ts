import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sha256Digest, type Digest } from "./digest.ts";
import { errorResponse, RegistryError, toRegistryError } from "./errors.ts";
import { mediaTypes } from "./media-types.ts";
import type { Visibility } from "./cache-policy.ts";
import { handleRegistryRequest, type RegistrySource } from "./registry-handler.ts";

const encoder = new TextEncoder();
const blob = encoder.encode("0123456789abcdefghij");
const manifestBytes = encoder.encode(
  JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.dockerManifest }),
);

async function makeSource(): Promise<{
  source: RegistrySource;
  blobDigest: Digest;
  manifestDigest: Digest;
}> {
  const blobDigest = await sha256Digest(blob);
  const manifestDigest = await sha256Digest(manifestBytes);
  const manifest = {
    digest: manifestDigest,
    mediaType: mediaTypes.dockerManifest,
    bytes: manifestBytes,
  };
  const source: RegistrySource = {
    async manifestForTag(image, tag) {
      if (image.packages.includes("missing"))
        throw new RegistryError("MANIFEST_UNKNOWN", "no such package");
      return { manifest, maxAgeSeconds: tag === "pinned" ? 100 : 0 };
    },
    async manifestByDigest(digest) {
      return digest === manifestDigest ? manifest : null;
    },
    async readBlob(digest, range, method) {
      if (digest !== blobDigest) return null;
      const span = range.resolve(blob.byteLength);
      const bytes = span ? blob.subarray(span.start, span.end + 1) : blob;
      return {
        size: blob.byteLength,
        range: span,
        body: method === "HEAD" ? null : new Response(bytes).body,
      };
    },
  };
  return { source, blobDigest, manifestDigest };
}

async function request(
  source: RegistrySource,
  path: string,
  init?: RequestInit,
  visibility: Visibility = "public",
): Promise<Response> {
  try {
    const response = await handleRegistryRequest(
      new Request(`http://registry${path}`, init),
      source,
      visibility,
    );
    return response ?? errorResponse(new RegistryError("NOT_FOUND"));
  } catch (error) {
    return errorResponse(toRegistryError(error), init?.method);
  }
}

describe("handleRegistryRequest", () => {
  it("answers /v2/ with the API version header", async () => {
    const { source } = await makeSource();
    const response = await request(source, "/v2/");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("docker-distribution-api-version"), "registry/2.0");
  });

  it("says that there is no catalog, and why", async () => {
    const { source } = await makeSource();
    const response = await request(source, "/v2/_catalog");
    assert.equal(response.status, 404);
    const body = (await response.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]!.code, "NOT_FOUND");
    assert.match(body.errors[0]!.message, /no catalog: every combination of Nix packages/);
  });

  it("serves a tag with exact type, digest, length, Vary and its max-age", async () => {
    const { source, manifestDigest } = await makeSource();
    const response = await request(source, "/v2/hello/manifests/pinned");
    assert.equal(response.headers.get("content-type"), mediaTypes.dockerManifest);
    assert.equal(response.headers.get("docker-content-digest"), manifestDigest);
    assert.equal(response.headers.get("content-length"), String(manifestBytes.byteLength));
    assert.equal(response.headers.get("cache-control"), "public, max-age=100");
    assert.equal(response.headers.get("vary"), "Accept");
    const moving = await request(source, "/v2/hello/manifests/latest");
    assert.equal(moving.headers.get("cache-control"), "no-cache");
  });

  it("marks a private instance's tags, manifests and blobs private, never public", async () => {
    const { source, manifestDigest, blobDigest } = await makeSource();
    for (const path of [
      "/v2/hello/manifests/pinned",
      `/v2/hello/manifests/${manifestDigest}`,
      `/v2/hello/blobs/${blobDigest}`,
      `/v2/hello/blobs/${manifestDigest}`,
    ]) {
      const response = await request(source, path, undefined, "private");
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get("cache-control")!, /^private, max-age=\d+/, path);
    }
  });

  it("answers If-None-Match with 304", async () => {
    const { source, manifestDigest } = await makeSource();
    const response = await request(source, `/v2/hello/manifests/${manifestDigest}`, {
      headers: { "If-None-Match": `"${manifestDigest}"` },
    });
    assert.equal(response.status, 304);
  });

  it("serves ranges of blobs and manifests under /blobs/", async () => {
    const { source, blobDigest, manifestDigest } = await makeSource();
    const part = await request(source, `/v2/x/blobs/${blobDigest}`, {
      headers: { Range: "bytes=-5" },
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), "bytes 15-19/20");
    assert.equal(await part.text(), "fghij");
    const manifest = await request(source, `/v2/x/blobs/${manifestDigest}`);
    assert.equal(manifest.headers.get("content-type"), mediaTypes.dockerManifest);
    assert.equal(await manifest.text(), new TextDecoder().decode(manifestBytes));
    const head = await request(source, `/v2/x/blobs/${blobDigest}`, { method: "HEAD" });
    assert.equal(head.headers.get("content-length"), "20");
    assert.equal(await head.text(), "");
  });

  it("lists tags sorted, paginated with n and last and a Link to the next page", async () => {
    const { source } = await makeSource();
    source.listTags = async () => ["v2", "latest", "v1", "main"];
    const all = await request(source, "/v2/x/tags/list");
    assert.deepEqual(await all.json(), { name: "x", tags: ["latest", "main", "v1", "v2"] });
    const first = await request(source, "/v2/x/tags/list?n=2");
    assert.deepEqual(((await first.json()) as { tags: string[] }).tags, ["latest", "main"]);
    assert.equal(first.headers.get("link"), '</v2/x/tags/list?n=2&last=main>; rel="next"');
    const second = await request(source, "/v2/x/tags/list?n=2&last=main");
    assert.deepEqual(((await second.json()) as { tags: string[] }).tags, ["v1", "v2"]);
    assert.equal(second.headers.get("link"), null);
    const bad = await request(source, "/v2/x/tags/list?n=many");
    assert.equal(bad.status, 400);
  });

  it("writes errors as JSON", async () => {
    const { source } = await makeSource();
    for (const [path, status, code] of [
      ["/v2/missing/manifests/latest", 404, "MANIFEST_UNKNOWN"],
      [`/v2/x/blobs/sha256:${"1".repeat(64)}`, 404, "BLOB_UNKNOWN"],
      ["/v2/x/blobs/sha256:zz", 400, "DIGEST_INVALID"],
      ["/v2/UPPER/manifests/latest", 400, "NAME_INVALID"],
    ] as const) {
      const response = await request(source, path);
      assert.equal(response.status, status, path);
      assert.equal(response.headers.get("content-type"), "application/json");
      const body = (await response.json()) as { errors: { code: string }[] };
      assert.equal(body.errors[0]!.code, code);
    }
  });

  it("finds no manifest for a reference that can be no tag (404, not TAG_INVALID)", async () => {
    const { source } = await makeSource();
    for (const method of ["GET", "HEAD"]) {
      const response = await request(source, "/v2/hello/manifests/.INVALID_MANIFEST_NAME", {
        method,
      });
      assert.equal(response.status, 404, method);
      assert.equal(response.headers.get("content-type"), "application/json");
    }
    const body = (await (await request(source, "/v2/hello/manifests/-x")).json()) as {
      errors: { code: string; message: string }[];
    };
    assert.equal(body.errors[0]!.code, "MANIFEST_UNKNOWN");
    assert.match(body.errors[0]!.message, /hello:-x/);
  });

  it("answers If-None-Match with 304 only for blobs that exist", async () => {
    const { source, blobDigest, manifestDigest } = await makeSource();
    const known = await request(source, `/v2/x/blobs/${blobDigest}`, {
      headers: { "If-None-Match": `"${blobDigest}"` },
    });
    assert.equal(known.status, 304);
    const manifestAsBlob = await request(source, `/v2/x/blobs/${manifestDigest}`, {
      headers: { "If-None-Match": `"${manifestDigest}"` },
    });
    assert.equal(manifestAsBlob.status, 304);
    const unknown = `sha256:${"2".repeat(64)}`;
    const missing = await request(source, `/v2/x/blobs/${unknown}`, {
      headers: { "If-None-Match": `"${unknown}"` },
    });
    assert.equal(missing.status, 404);
  });

  it("routes by path whatever the Host: URLs that a URL parser refuses still work", async () => {
    const { source } = await makeSource();
    for (const host of ["a.1", "999.1.1.1", "1.2.3.4.5", "09.1"]) {
      // What @hono/node-server hands over: the URL as text, built from the Host header.
      const raw = new Request("http://placeholder/v2/x/tags/list?n=1");
      Object.defineProperty(raw, "url", { value: `http://${host}/v2/x/tags/list?n=1` });
      const response = await handleRegistryRequest(raw, source, "public");
      assert.equal(response?.status, 200, host);
    }
  });

  it("hands the source what the client's Accept takes, and serves an index as its own type", async () => {
    const { source } = await makeSource();
    const seen: unknown[] = [];
    const indexBytes = encoder.encode(
      JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests: [] }),
    );
    const index = {
      digest: await sha256Digest(indexBytes),
      mediaType: mediaTypes.ociIndex,
      bytes: indexBytes,
    };
    const indexing: RegistrySource = {
      ...source,
      async manifestForTag(image, tag, wanted, method) {
        seen.push(wanted);
        if (wanted.index) return { manifest: index, maxAgeSeconds: 10 };
        return source.manifestForTag(image, tag, wanted, method);
      },
    };
    const response = await request(indexing, "/v2/hello/manifests/latest", {
      headers: { Accept: `${mediaTypes.ociManifest}, ${mediaTypes.ociIndex}` },
    });
    assert.equal(response.headers.get("content-type"), mediaTypes.ociIndex);
    assert.equal(response.headers.get("docker-content-digest"), index.digest);
    assert.equal(response.headers.get("vary"), "Accept");
    const plain = await request(indexing, "/v2/hello/manifests/latest", {
      headers: { Accept: "*/*" },
    });
    assert.equal(plain.headers.get("content-type"), mediaTypes.dockerManifest);
    assert.deepEqual(seen, [
      { flavour: "oci", index: "oci" },
      { flavour: "docker", index: null },
    ]);
  });
});
