// A real S3-protocol server for tests: s3rver (filesystem-backed) behind a small front server on
// 127.0.0.1 (port 0) that adds what s3rver lacks and R2 has: SigV4 signature checks, payload checks
// (x-amz-content-sha256, x-amz-checksum-sha256), atomic PUTs (the body is spooled and checked
// before s3rver sees it, so a cut upload leaves nothing), AbortMultipartUpload and
// ListMultipartUploads (answered from s3rver's upload directory).

import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import S3rver from "s3rver";
import { verifySigV4 } from "./sigv4-verify.ts";

export interface S3TestServer {
  /** e.g. http://127.0.0.1:40123 (path-style addressing). */
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** s3rver's data directory (objects live under `<directory>/<bucket>/`). */
  directory: string;
  stop(): Promise<void>;
}

/** The origin's environment for storing in this server's bucket. */
export function originS3Env(s3: S3TestServer): Record<string, string> {
  return {
    NIXERY_STORAGE_BACKEND: "s3",
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    S3_FORCE_PATH_STYLE: "true",
  };
}

export interface S3ServerOptions {
  bucket?: string;
  /** Check signatures and payloads and make PUTs atomic (default true); false streams straight through. */
  verify?: boolean;
}

/** s3rver's only credentials. */
const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
const secrets = new Map([[credentials.accessKeyId, credentials.secretAccessKey]]);

export async function startS3Server(options: S3ServerOptions = {}): Promise<S3TestServer> {
  const bucket = options.bucket ?? "nixery-test";
  const verify = options.verify ?? true;
  const directory = await mkdtemp(join(tmpdir(), "s3rver-"));
  const spoolDir = await mkdtemp(join(tmpdir(), "s3rver-spool-"));
  const s3rver = new S3rver({
    directory,
    silent: true,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });
  await s3rver.configureBuckets();
  const inner = await listen(createServer(s3rver.callback()));
  const uploadsDir = join(directory, bucket, "._S3rver_uploads");

  const front = await listen(
    createServer((request, response) => {
      handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) sendXml(response, 500, errorXml("InternalError", String(error)));
        else response.destroy();
      });
    }),
  );

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://localhost");
    const [, urlBucket = "", ...keyParts] = url.pathname.split("/");
    let payloadSha256 = "UNSIGNED-PAYLOAD";
    if (verify) {
      const verdict = verifySigV4(
        { method: request.method ?? "", url: request.url ?? "/", headers: request.headers },
        secrets,
      );
      if (!verdict.ok) {
        // Read the refused body first so the client sees the 403 rather than a reset connection.
        await pipeline(
          request,
          new Writable({ write: (_chunk, _encoding, callback) => callback() }),
        );
        return sendXml(response, 403, errorXml(verdict.code, verdict.message));
      }
      payloadSha256 = verdict.payloadSha256;
    }
    if (urlBucket === bucket && request.method === "DELETE" && url.searchParams.has("uploadId")) {
      return abortUpload(uploadsDir, url.searchParams.get("uploadId") ?? "", response);
    }
    if (
      urlBucket === bucket &&
      keyParts.length === 0 &&
      request.method === "GET" &&
      url.searchParams.has("uploads")
    ) {
      return listUploads(uploadsDir, bucket, response);
    }
    if (!verify || (request.method !== "PUT" && request.method !== "POST")) {
      return forward(request, response, request);
    }
    const spooled = join(spoolDir, `${Math.random().toString(36).slice(2)}.body`);
    try {
      const digest = await spool(request, spooled);
      if (/^[0-9a-f]{64}$/.test(payloadSha256) && digest.toString("hex") !== payloadSha256) {
        return sendXml(
          response,
          400,
          errorXml("XAmzContentSHA256Mismatch", "payload does not match x-amz-content-sha256"),
        );
      }
      const checksum = request.headers["x-amz-checksum-sha256"];
      if (checksum !== undefined && checksum !== digest.toString("base64")) {
        return sendXml(
          response,
          400,
          errorXml("BadDigest", "payload does not match x-amz-checksum-sha256"),
        );
      }
      const size = (await stat(spooled)).size;
      await forward(request, response, createReadStream(spooled), size);
    } finally {
      await rm(spooled, { force: true });
    }
  }

  async function forward(
    request: IncomingMessage,
    response: ServerResponse,
    body: NodeJS.ReadableStream,
    size?: number,
  ): Promise<void> {
    const headers = { ...request.headers };
    if (size !== undefined) {
      delete headers["transfer-encoding"];
      headers["content-length"] = String(size);
    }
    const upstream = httpRequest({
      host: "127.0.0.1",
      port: (inner.address() as AddressInfo).port,
      method: request.method,
      path: request.url,
      headers,
    });
    const answered = new Promise<IncomingMessage>((resolve, reject) => {
      upstream.once("response", resolve).once("error", reject);
    });
    answered.catch(() => {}); // awaited below unless sending the body failed first
    await pipeline(body, upstream);
    const reply = await answered;
    response.writeHead(reply.statusCode ?? 502, reply.headers);
    await pipeline(reply, response);
  }

  return {
    endpoint: `http://127.0.0.1:${(front.address() as AddressInfo).port}`,
    bucket,
    ...credentials,
    directory,
    async stop() {
      await Promise.all([close(front), close(inner)]);
      await Promise.all(
        [directory, spoolDir].map((dir) => rm(dir, { recursive: true, force: true })),
      );
    },
  };
}

/** Writes a request body to `path`, resolving to its sha256; rejects if the client goes away. */
async function spool(request: IncomingMessage, path: string): Promise<Buffer> {
  const hash = createHash("sha256");
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  await pipeline(request, hashing, createWriteStream(path));
  return hash.digest();
}

async function abortUpload(
  uploadsDir: string,
  uploadId: string,
  response: ServerResponse,
): Promise<void> {
  if (!/^[0-9a-f]+$/.test(uploadId))
    return sendXml(response, 400, errorXml("InvalidArgument", uploadId));
  const dir = join(uploadsDir, uploadId);
  if (!(await stat(dir).catch(() => null)))
    return sendXml(response, 404, errorXml("NoSuchUpload", uploadId));
  await rm(dir, { recursive: true, force: true });
  response.writeHead(204).end();
}

async function listUploads(
  uploadsDir: string,
  bucket: string,
  response: ServerResponse,
): Promise<void> {
  const ids = await readdir(uploadsDir).catch(() => [] as string[]);
  const uploads = await Promise.all(
    ids.map(async (id) => {
      const key = await readFile(join(uploadsDir, id, "key"), "utf8").catch(() => "");
      return `<Upload><Key>${escapeXml(key)}</Key><UploadId>${id}</UploadId></Upload>`;
    }),
  );
  sendXml(
    response,
    200,
    `<ListMultipartUploadsResult><Bucket>${escapeXml(bucket)}</Bucket>${uploads.join("")}</ListMultipartUploadsResult>`,
  );
}

function sendXml(response: ServerResponse, status: number, body: string): void {
  response
    .writeHead(status, { "content-type": "application/xml", connection: "close" })
    .end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
}

function errorXml(code: string, message: string): string {
  return `<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

async function listen(
  server: ReturnType<typeof createServer>,
): Promise<ReturnType<typeof createServer>> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return server;
}

async function close(server: ReturnType<typeof createServer>): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
