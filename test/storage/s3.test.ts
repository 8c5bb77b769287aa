// The S3 backend against a real S3-protocol server (s3rver behind test/support/s3-server.ts): the
// storage contract with single PUTs and with multipart, then S3-specific behaviour — part layout,
// signed payload hashes, uploads cut mid-way, retries of 429/503, presigned redirects, credentials.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { digestFromHex } from "../../shared/digest.ts";
import { blobKey } from "../../shared/storage-keys.ts";
import { describeStorageContract } from "../support/storage-contract.ts";
import { S3Client, S3RequestFailed } from "../../origin/storage/s3-client.ts";
import { S3Storage, type S3StorageOptions } from "../../origin/storage/s3.ts";
import { startFaultProxy } from "../support/fault-proxy.ts";
import { startS3Server, type S3TestServer } from "../support/s3-server.ts";

const MiB = 1024 * 1024;
const emptySha256 = createHash("sha256").digest("hex");
const fastRetry = { attempts: 3, baseDelayMs: 5, maxDelayMs: 50 };

for (const [name, tuning] of [
  ["s3 (single PUT)", {}],
  ["s3 (multipart, 5 MiB parts)", { partSize: 5 * MiB, multipartThreshold: 5 * MiB }],
] as const) {
  describeStorageContract(name, async () => {
    const server = await startS3Server();
    const scratchDir = await mkdtemp(join(tmpdir(), "s3-scratch-"));
    const storage = await new S3Storage({
      ...server,
      scratchDir,
      retry: fastRetry,
      ...tuning,
    }).init();
    return {
      storage,
      async cleanup() {
        await server.stop();
        await rm(scratchDir, { recursive: true, force: true });
      },
    };
  });
}

describe("S3Storage against an S3 server", () => {
  let server: S3TestServer;
  let scratchDir: string;
  before(async () => {
    server = await startS3Server();
    scratchDir = await mkdtemp(join(tmpdir(), "s3-scratch-"));
  });
  after(async () => {
    await server.stop();
    await rm(scratchDir, { recursive: true, force: true });
  });

  function storageWith(options: Partial<S3StorageOptions> = {}): S3Storage {
    return new S3Storage({ ...server, scratchDir, retry: fastRetry, ...options });
  }

  async function blobFile(
    size: number,
  ): Promise<{ path: string; bytes: Buffer; sha256: string; key: string }> {
    const bytes = randomBytes(size);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const path = join(scratchDir, `${sha256}.tmp`);
    await writeFile(path, bytes);
    return { path, bytes, sha256, key: blobKey(digestFromHex(sha256)) };
  }

  /** Multipart uploads the server still holds, through the ListMultipartUploads API. */
  async function pendingUploads(): Promise<string[]> {
    const client = new S3Client(server);
    const text = await (await client.send({ method: "GET", query: { uploads: "" } })).text();
    return [...text.matchAll(/<UploadId>([^<]+)<\/UploadId>/g)].map((match) => match[1]!);
  }

  it("uploads a file above the part size in equal parts with its Content-Type", async () => {
    const requests: { method: string; url: URL; headers: Headers }[] = [];
    const storage = storageWith({
      partSize: 5 * MiB,
      multipartThreshold: 5 * MiB,
      presignRedirects: { expiresSeconds: 60 },
      fetch: (input, init) => {
        requests.push({
          method: init?.method ?? "GET",
          url: new URL(String(input)),
          headers: new Headers(init?.headers),
        });
        return fetch(input, init);
      },
    });
    const blob = await blobFile(12 * MiB + 5);
    const contentType = "application/vnd.oci.image.layer.v1.tar+gzip";
    await storage.putFile(blob.key, blob.path, { sha256: blob.sha256, contentType });

    const parts = requests.filter((request) => request.url.searchParams.has("partNumber"));
    assert.deepEqual(
      parts
        .map((part) => [
          part.url.searchParams.get("partNumber"),
          part.headers.get("content-length"),
        ])
        .sort(),
      [
        ["1", String(5 * MiB)],
        ["2", String(5 * MiB)],
        ["3", String(2 * MiB + 5)],
      ],
    );
    for (const part of parts)
      assert.match(part.headers.get("x-amz-content-sha256") ?? "", /^[0-9a-f]{64}$/);
    assert.equal(requests.filter((request) => request.url.searchParams.has("uploads")).length, 1);
    assert.deepEqual(await pendingUploads(), []);

    const response = await fetch((await storage.redirectUrl(blob.key))!);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), contentType);
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(blob.bytes));
  });

  it("sends a small file in one PUT signed with its sha256 and checksum", async () => {
    const requests: Headers[] = [];
    const storage = storageWith({
      fetch: (input, init) => {
        if (init?.method === "PUT") requests.push(new Headers(init.headers));
        return fetch(input, init);
      },
    });
    const blob = await blobFile(300 * 1024);
    await storage.putFile(blob.key, blob.path, { sha256: blob.sha256 });
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.get("x-amz-content-sha256"), blob.sha256);
    assert.equal(
      requests[0]!.get("x-amz-checksum-sha256"),
      Buffer.from(blob.sha256, "hex").toString("base64"),
    );
    assert.equal(requests[0]!.get("content-length"), String(300 * 1024));
  });

  it("is refused by the server when the payload differs from its signed hash", async () => {
    const storage = storageWith({
      fetch: (input, init) =>
        init?.method === "PUT"
          ? fetch(input, { ...init, body: new Uint8Array(1000) })
          : fetch(input, init),
    });
    const bytes = randomBytes(1000);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const key = blobKey(digestFromHex(sha256));
    await assert.rejects(
      storage.putBytes(key, new Uint8Array(bytes) as Uint8Array<ArrayBuffer>, { sha256 }),
      (error: unknown) =>
        error instanceof S3RequestFailed && error.code === "XAmzContentSHA256Mismatch",
    );
    assert.equal(await storage.stat(key), null);
  });

  for (const [mode, size] of [
    ["multipart", 12 * MiB],
    ["single PUT", 3 * MiB],
  ] as const) {
    it(`leaves nothing behind when the connection dies mid-upload (${mode}), and a retry succeeds`, async () => {
      const proxy = await startFaultProxy(server.endpoint);
      try {
        const options = {
          endpoint: proxy.endpoint,
          partSize: 5 * MiB,
          multipartThreshold: 5 * MiB,
        };
        const storage = storageWith(options);
        const blob = await blobFile(size);
        proxy.cutAfter(MiB);
        await assert.rejects(storage.putFile(blob.key, blob.path, { sha256: blob.sha256 }));
        assert.ok(
          proxy.cuts >= fastRetry.attempts,
          `expected every try to be cut, saw ${proxy.cuts} cuts`,
        );
        proxy.cutAfter(null);
        assert.equal(await storage.stat(blob.key), null);
        assert.deepEqual(await pendingUploads(), []);

        await writeFile(blob.path, blob.bytes);
        await storage.putFile(blob.key, blob.path, { sha256: blob.sha256 });
        assert.ok(Buffer.from((await storageWith().readBytes(blob.key))!).equals(blob.bytes));
      } finally {
        await proxy.stop();
      }
    });
  }

  it("retries 503 and 429 (honouring Retry-After) until the part goes through", async () => {
    const refusals = [
      new Response("<Error><Code>SlowDown</Code></Error>", { status: 503 }),
      new Response("<Error><Code>TooManyRequests</Code></Error>", {
        status: 429,
        headers: { "retry-after": "1" },
      }),
    ];
    let partTries = 0;
    const storage = storageWith({
      partSize: 5 * MiB,
      multipartThreshold: 5 * MiB,
      partConcurrency: 1,
      fetch: async (input, init) => {
        const url = new URL(String(input));
        if (url.searchParams.get("partNumber") === "1" && partTries++ < refusals.length) {
          await (init?.body as ReadableStream | undefined)?.cancel();
          return refusals[partTries - 1]!;
        }
        return fetch(input, init);
      },
    });
    const blob = await blobFile(6 * MiB);
    const started = Date.now();
    await storage.putFile(blob.key, blob.path, { sha256: blob.sha256 });
    assert.equal(partTries, 3);
    assert.ok(Date.now() - started >= 950, "waited for Retry-After");
    assert.deepEqual(await storage.stat(blob.key), { size: 6 * MiB });
  });

  it("gives up after the last retry, aborting the multipart upload", async () => {
    let partTries = 0;
    const storage = storageWith({
      partSize: 5 * MiB,
      multipartThreshold: 5 * MiB,
      fetch: async (input, init) => {
        if (new URL(String(input)).searchParams.has("partNumber")) {
          partTries++;
          await (init?.body as ReadableStream | undefined)?.cancel();
          return new Response("<Error><Code>InternalError</Code></Error>", { status: 500 });
        }
        return fetch(input, init);
      },
    });
    const blob = await blobFile(11 * MiB);
    await assert.rejects(
      storage.putFile(blob.key, blob.path, { sha256: blob.sha256 }),
      (error: unknown) => error instanceof S3RequestFailed && error.status === 500,
    );
    assert.ok(partTries >= fastRetry.attempts && partTries <= 3 * fastRetry.attempts);
    assert.equal(await storage.stat(blob.key), null);
    assert.deepEqual(await pendingUploads(), []);
  });

  it("presigns redirect URLs that a plain client can fetch, whole or in part, until they expire", async () => {
    // Long enough that the fetches below finish inside it on a loaded machine.
    const storage = storageWith({ presignRedirects: { expiresSeconds: 3 } });
    const blob = await blobFile(4096);
    await storage.putFile(blob.key, blob.path, { sha256: blob.sha256 });
    const url = (await storage.redirectUrl(blob.key))!;
    assert.ok(url.includes("X-Amz-Signature="));

    const whole = await fetch(url);
    assert.equal(whole.status, 200);
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(blob.bytes));
    const part = await fetch(url, { headers: { range: "bytes=100-199" } });
    assert.equal(part.status, 206);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(blob.bytes.subarray(100, 200)));

    const tampered = url.replace(
      /X-Amz-Signature=([0-9a-f])/,
      (_, c: string) => `X-Amz-Signature=${c === "0" ? "1" : "0"}`,
    );
    assert.equal((await fetch(tampered)).status, 403);
    await new Promise((resolve) => setTimeout(resolve, 4100));
    assert.equal((await fetch(url)).status, 403);

    assert.equal(await storageWith().redirectUrl(blob.key), null);
  });

  it("fails with the server's error on wrong credentials, and never names the secret", async () => {
    const storage = storageWith({ secretAccessKey: "not-the-secret" });
    assert.equal(storage.description, `s3:${server.endpoint}/${server.bucket}`);
    assert.ok(!storage.description.includes("not-the-secret"));
    await assert.rejects(
      storage.stat(blobKey(digestFromHex("0".repeat(64)))),
      (error: unknown) => error instanceof S3RequestFailed && error.status === 403,
    );
    await assert.rejects(
      storage.putBytes(blobKey(digestFromHex(emptySha256)), new Uint8Array(0), {
        sha256: emptySha256,
      }),
      (error: unknown) => error instanceof S3RequestFailed && error.status === 403,
    );
    const wrongClient = new S3Client({ ...server, secretAccessKey: "not-the-secret" });
    await assert.rejects(
      wrongClient.send({
        method: "PUT",
        key: "x",
        body: () => new Uint8Array(0),
        payloadSha256: emptySha256,
      }),
      (error: unknown) =>
        error instanceof S3RequestFailed && error.code === "SignatureDoesNotMatch",
    );
  });
});
