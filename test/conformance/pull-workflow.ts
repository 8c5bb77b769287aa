// The pull-workflow expectations of the OCI distribution-spec conformance suite
// (opencontainers/distribution-spec, conformance/01_pull_test.go at v1.0.1 and v1.1.1), run the
// way the suite runs against a read-only registry: OCI_TEST_PULL=1 with OCI_NAMESPACE,
// OCI_TAG_NAME, OCI_MANIFEST_DIGEST and OCI_BLOB_DIGEST naming an image the registry serves, so
// the suite's setup (pushes) and teardown (deletes) are skipped. Written from the suite's text,
// not vendored: each entry is one of its `Specify` blocks, with the request it sends (method,
// path, headers, even its GET with a body) sent over real HTTP.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { request } from "node:http";

export type SuiteVersion = "v1.0.1" | "v1.1.1";

export interface PullEnv {
  /** OCI_NAMESPACE */
  name: string;
  /** OCI_TAG_NAME */
  tag: string;
  /** OCI_MANIFEST_DIGEST: the tag's manifest as served for `Accept: <OCI manifest>`. */
  manifestDigest: string;
  /** OCI_BLOB_DIGEST: a blob of that image (its config). */
  blobDigest: string;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTP exchange with exact method, path, headers and body (the suite sends GET bodies). */
export function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: `${url.pathname}${url.search}`,
        headers: {
          "User-Agent": "distribution-spec-conformance-tests",
          ...headers,
          ...(body !== undefined ? { "Content-Length": String(Buffer.byteLength(body)) } : {}),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
        response.on("error", reject);
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

const ociManifest = "application/vnd.oci.image.manifest.v1+json";
/** The suite's dummyDigest: godigest.FromString("hello world"). */
const dummyDigest = `sha256:${createHash("sha256").update("hello world").digest("hex")}`;
const nonexistentManifest = ".INVALID_MANIFEST_NAME";
/** The suite's errorCodes: the codes an error body may carry. */
const specErrorCodes = [
  "BLOB_UNKNOWN",
  "BLOB_UPLOAD_INVALID",
  "BLOB_UPLOAD_UNKNOWN",
  "DIGEST_INVALID",
  "MANIFEST_BLOB_UNKNOWN",
  "MANIFEST_INVALID",
  "MANIFEST_UNKNOWN",
  "MANIFEST_UNVERIFIED",
  "NAME_INVALID",
  "NAME_UNKNOWN",
  "SIZE_INVALID",
  "TAG_INVALID",
  "UNAUTHORIZED",
  "DENIED",
  "UNSUPPORTED",
];

export interface Expectation {
  /** The suite's `Specify` title. */
  title: string;
  suites: SuiteVersion[];
  check(base: string, env: PullEnv): Promise<void>;
}

function digestHeaderMatches(answer: Answer, digest: string): void {
  const header = answer.headers["docker-content-digest"];
  if (header !== undefined) assert.equal(header, digest);
}

function errorCodesConform(answer: Answer): void {
  assert.ok([400, 404].includes(answer.status), `status ${answer.status}`);
  if (answer.status === 400) {
    const body = JSON.parse(answer.body.toString()) as { errors: { code: string }[] };
    assert.ok(body.errors.length > 0);
    assert.ok(specErrorCodes.includes(body.errors[0]!.code), body.errors[0]!.code);
  }
}

const both: SuiteVersion[] = ["v1.0.1", "v1.1.1"];

export const pullExpectations: Expectation[] = [
  {
    title: "Get tag name from environment",
    suites: both,
    async check(_base, env) {
      assert.ok(env.tag !== "");
    },
  },
  {
    title: "HEAD request to nonexistent blob should result in 404 response",
    suites: both,
    async check(base, env) {
      const answer = await send(base, "HEAD", `/v2/${env.name}/blobs/${dummyDigest}`);
      assert.equal(answer.status, 404);
    },
  },
  {
    title: "HEAD request to existing blob should yield 200",
    suites: both,
    async check(base, env) {
      const answer = await send(base, "HEAD", `/v2/${env.name}/blobs/${env.blobDigest}`);
      assert.equal(answer.status, 200);
      digestHeaderMatches(answer, env.blobDigest);
    },
  },
  {
    title: "GET nonexistent blob should result in 404 response",
    suites: both,
    async check(base, env) {
      const answer = await send(base, "GET", `/v2/${env.name}/blobs/${dummyDigest}`);
      assert.equal(answer.status, 404);
    },
  },
  {
    title: "GET request to existing blob URL should yield 200",
    suites: both,
    async check(base, env) {
      const answer = await send(base, "GET", `/v2/${env.name}/blobs/${env.blobDigest}`);
      assert.equal(answer.status, 200);
    },
  },
  {
    title: "HEAD request to nonexistent manifest should return 404",
    suites: both,
    async check(base, env) {
      const path = `/v2/${env.name}/manifests/${nonexistentManifest}`;
      assert.equal((await send(base, "HEAD", path)).status, 404);
    },
  },
  ...[
    ["HEAD request to manifest path (digest) should yield 200 response", ["v1.0.1"]],
    ["HEAD request to manifest[0] path (digest) should yield 200 response", ["v1.1.1"]],
    ["HEAD request to manifest[1] path (digest) should yield 200 response", ["v1.1.1"]],
  ].map(([title, suites]): Expectation => ({
    title: title as string,
    suites: suites as SuiteVersion[],
    async check(base, env) {
      const path = `/v2/${env.name}/manifests/${env.manifestDigest}`;
      const answer = await send(base, "HEAD", path, { Accept: ociManifest });
      assert.equal(answer.status, 200);
      digestHeaderMatches(answer, env.manifestDigest);
    },
  })),
  {
    // v1.0.1 sends a GET under this title, v1.1.1 a HEAD; both are checked.
    title: "HEAD request to manifest path (tag) should yield 200 response",
    suites: both,
    async check(base, env) {
      for (const method of ["GET", "HEAD"]) {
        const path = `/v2/${env.name}/manifests/${env.tag}`;
        const answer = await send(base, method, path, { Accept: ociManifest });
        assert.equal(answer.status, 200, method);
        digestHeaderMatches(answer, env.manifestDigest);
      }
    },
  },
  {
    title: "GET nonexistent manifest should return 404",
    suites: both,
    async check(base, env) {
      const path = `/v2/${env.name}/manifests/${nonexistentManifest}`;
      assert.equal((await send(base, "GET", path)).status, 404);
    },
  },
  ...[
    ["GET request to manifest path (digest) should yield 200 response", ["v1.0.1"]],
    ["GET request to manifest[0] path (digest) should yield 200 response", ["v1.1.1"]],
    ["GET request to manifest[1] path (digest) should yield 200 response", ["v1.1.1"]],
  ].map(([title, suites]): Expectation => ({
    title: title as string,
    suites: suites as SuiteVersion[],
    async check(base, env) {
      const path = `/v2/${env.name}/manifests/${env.manifestDigest}`;
      const answer = await send(base, "GET", path, { Accept: ociManifest });
      assert.equal(answer.status, 200);
    },
  })),
  {
    title: "GET request to manifest path (tag) should yield 200 response",
    suites: both,
    async check(base, env) {
      const path = `/v2/${env.name}/manifests/${env.tag}`;
      const answer = await send(base, "GET", path, { Accept: ociManifest });
      assert.equal(answer.status, 200);
    },
  },
  {
    title: "400 response body should contain OCI-conforming JSON message (GET)",
    suites: ["v1.1.1"],
    async check(base, env) {
      const path = `/v2/${env.name}/manifests/sha256:totallywrong`;
      const headers = { "Content-Type": ociManifest };
      errorCodesConform(await send(base, "GET", path, headers, "blablabla"));
    },
  },
  {
    // v1.0.1 sends this as a PUT. Upstream replaced it with the GET above (distribution-spec
    // #332: "PUT requests should not be used during pull testing"); this pull-only registry
    // answers every write 405 UNSUPPORTED, as distribution's read-only mode does (README).
    title:
      "400 response body should contain OCI-conforming JSON message (v1.0.1's PUT: 405 by decision)",
    suites: ["v1.0.1"],
    async check(base, env) {
      const path = `/v2/${env.name}/manifests/sha256:totallywrong`;
      const headers = { "Content-Type": ociManifest };
      const answer = await send(base, "PUT", path, headers, "blablabla");
      assert.equal(answer.status, 405);
      const body = JSON.parse(answer.body.toString()) as { errors: { code: string }[] };
      assert.equal(body.errors[0]!.code, "UNSUPPORTED");
      assert.equal(answer.headers.allow, "GET, HEAD");
    },
  },
];

/** The suite's read-only variables for an image, found as the suite's user would: by pulling. */
export async function pullEnvFor(base: string, name: string, tag = "latest"): Promise<PullEnv> {
  const answer = await send(base, "GET", `/v2/${name}/manifests/${tag}`, { Accept: ociManifest });
  assert.equal(answer.status, 200, answer.body.toString());
  const manifest = JSON.parse(answer.body.toString()) as { config: { digest: string } };
  return {
    name,
    tag,
    manifestDigest: `sha256:${createHash("sha256").update(answer.body).digest("hex")}`,
    blobDigest: manifest.config.digest,
  };
}
