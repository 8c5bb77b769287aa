// The S3 backend: objects in a bucket of Cloudflare R2 or any S3-compatible store, where the Worker
// reads the same keys through its R2 binding.
//
// The pipeline packs layers to a file in scratchDir. With startFileUpload, parts go up while the
// layer is still being packed, to a staging key copied to the final key at the end (s3-staged.ts).
// putFile uploads a finished file, whose digest is then known before the upload starts: it is
// verified locally (one read pass that also hashes each part) and sent as the signed
// x-amz-content-sha256 of a single PUT (plus x-amz-checksum-sha256), so R2 and S3 verify the
// payload too. PutObject, CompleteMultipartUpload and CopyObject are atomic: an object is visible
// at its key only once complete. A failed multipart upload is aborted.
//
// Part size: 64 MiB by default. R2 needs equal parts (except the last) of 5 MiB–5 GiB, at most
// 10,000 of them: 64 MiB parts cover objects up to 625 GiB, beyond which the part size grows
// automatically. 64 MiB keeps requests few (a 1 GiB layer is 16 parts) while a failed part costs
// at most 64 MiB to resend; parts stream from file ranges, so 4 in flight hold no part in memory.

import { createReadStream } from "node:fs";
import { mkdir, rm, stat } from "node:fs/promises";
import { emptyDirectory } from "./empty-directory.ts";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { StagedUpload } from "./s3-staged.ts";
import {
  ContentMismatch,
  type ByteSpan,
  type CrashLeftovers,
  type FileUpload,
  type ObjectStat,
  type PutOptions,
  type Storage,
  type StoredObject,
} from "./storage.ts";
import { listObjects, S3Client, type RequestBody, type S3ClientOptions } from "./s3-client.ts";
import { removeS3Leftovers } from "./s3-leftovers.ts";
import { bodyStart, sliceToSpan } from "./span-stream.ts";
import { hashFile, maxPartSize, minPartSize, planParts, uploadMultipart } from "./s3-multipart.ts";
import type { UploadJournal } from "./upload-journal.ts";

/**
 * Parts of a staged upload: what is left to upload once packing ends is the last part, so small
 * parts keep that short (measured, 256 MiB layer to the local S3 server: the wait for parts after
 * packing 460 ms with 64 MiB parts, 20-30 ms with 8 MiB). 8 MiB is above S3's and R2's 5 MiB
 * minimum, and 640 parts reach the 5 GiB where staging stops.
 */
const stagedPartSize = 8 * 1024 * 1024;
export interface S3StorageOptions extends S3ClientOptions {
  /** Local directory for temporary pack output. */
  scratchDir: string;
  /** Preferred multipart part size in bytes (default 64 MiB, at least 5 MiB). */
  partSize?: number;
  /** Files larger than this go up in parts (default: the part size; at most 5 GiB). */
  multipartThreshold?: number;
  /** Parts uploaded at once (default 4). */
  partConcurrency?: number;
  /** Redirect blob reads to presigned GET URLs valid this long; null or absent: stream them. */
  presignRedirects?: { expiresSeconds: number } | null;
  /** Where this origin records its unfinished multipart uploads (see upload-journal.ts). */
  journal?: UploadJournal;
}

const defaultContentType = "application/octet-stream";

export class S3Storage implements Storage {
  readonly description: string;
  readonly scratchDir: string;
  private readonly client: S3Client;
  private readonly partSize: number;
  private readonly multipartThreshold: number;
  private readonly partConcurrency: number;
  private readonly presignRedirects: { expiresSeconds: number } | null;
  private readonly journal: UploadJournal | undefined;
  /** Puts in progress per key, so concurrent puts of one key in this process write it once. */
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(options: S3StorageOptions) {
    this.client = new S3Client(options);
    this.description = `s3:${this.client.description}`;
    this.scratchDir = options.scratchDir;
    this.partSize = options.partSize ?? 64 * 1024 * 1024;
    this.multipartThreshold = options.multipartThreshold ?? this.partSize;
    this.partConcurrency = options.partConcurrency ?? 4;
    this.presignRedirects = options.presignRedirects ?? null;
    this.journal = options.journal;
    if (this.partSize < minPartSize || this.partSize > maxPartSize) {
      throw new Error(`S3 part size must be between ${minPartSize} and ${maxPartSize} bytes`);
    }
    if (this.multipartThreshold > maxPartSize) {
      throw new Error(
        `S3 multipart threshold must be at most ${maxPartSize} bytes (the largest single PUT)`,
      );
    }
  }

  async init(): Promise<this> {
    await mkdir(this.scratchDir, { recursive: true });
    return this;
  }

  /**
   * Checks that the bucket answers and accepts the credentials: one HEAD of a key that need not
   * exist (404 is fine; 403 means refused credentials or no access). Throws with S3's reason.
   */
  async check(): Promise<void> {
    const response = await this.client.send({
      method: "HEAD",
      key: "_nixery/ready",
      accept: [404],
      // A dead endpoint should fail a check in seconds, not after a minute of retries.
      signal: AbortSignal.timeout(15_000),
    });
    await response.body?.cancel();
  }

  /**
   * Removes what a crash of this origin left: files in its scratch directory, the multipart
   * uploads in its journal, and staged objects too old to be anyone's upload (s3-leftovers.ts).
   */
  async cleanUpAfterCrash(now = Date.now()): Promise<CrashLeftovers> {
    const scratchFiles = await emptyDirectory(this.scratchDir);
    return { scratchFiles, ...(await removeS3Leftovers(this.client, this.journal, now)) };
  }

  async stat(key: string): Promise<ObjectStat | null> {
    const response = await this.client.send({ method: "HEAD", key, accept: [404] });
    if (response.status === 404) return null;
    return { size: Number(response.headers.get("content-length")) };
  }

  list(prefix: string): AsyncIterable<StoredObject> {
    return listObjects(this.client, prefix);
  }

  async delete(key: string): Promise<void> {
    const response = await this.client.send({ method: "DELETE", key, accept: [404] });
    await response.body?.cancel();
  }

  async has(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null;
  }

  async read(key: string, span?: ByteSpan): Promise<ReadableStream<Uint8Array> | null> {
    const headers: Record<string, string> = span
      ? { range: `bytes=${span.start}-${span.end}` }
      : {};
    const response = await this.client.send({ method: "GET", key, headers, accept: [404] });
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    const body = response.body ?? new Blob([]).stream();
    if (!span) return body;
    return sliceToSpan(
      body,
      bodyStart(response.status, response.headers.get("content-range")),
      span,
    );
  }

  async readBytes(key: string): Promise<Uint8Array<ArrayBuffer> | null> {
    const response = await this.client.send({ method: "GET", key, accept: [404] });
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    return new Uint8Array(await response.arrayBuffer());
  }

  async redirectUrl(key: string): Promise<string | null> {
    if (!this.presignRedirects) return null;
    return this.client.presignGet(key, this.presignRedirects.expiresSeconds);
  }

  async putFile(key: string, path: string, options: PutOptions): Promise<void> {
    try {
      await this.singleFlight(key, () => this.uploadFile(key, path, options));
    } finally {
      await rm(path, { force: true });
    }
  }

  /**
   * Uploads parts of a layer to a staging key while it is packed (see s3-staged.ts), in parts of
   * at most stagedPartSize.
   */
  startFileUpload(path: string, signal?: AbortSignal): FileUpload {
    return new StagedUpload({
      client: this.client,
      path,
      partSize: Math.min(this.partSize, stagedPartSize),
      concurrency: this.partConcurrency,
      contentType: defaultContentType,
      journal: this.journal,
      signal,
      putFile: (key, options) => this.putFile(key, path, options),
      publish: (key, copy) =>
        this.singleFlight(key, async () => {
          if (!(await this.has(key))) await copy();
        }),
    });
  }

  /** Verifies the file against its sha256, then uploads it unless the key already exists. */
  private async uploadFile(key: string, path: string, options: PutOptions): Promise<void> {
    const { signal } = options;
    const { size } = await stat(path);
    const plan = size > this.multipartThreshold ? planParts(size, this.partSize) : null;
    const digests = await hashFile(path, plan?.partSize);
    if (digests.sha256 !== options.sha256)
      throw new ContentMismatch(key, options.sha256, digests.sha256);
    signal?.throwIfAborted();
    if (await this.has(key)) return;
    const contentType = options.contentType ?? defaultContentType;
    if (!plan) {
      const body = () =>
        Readable.toWeb(createReadStream(path, { highWaterMark: 1024 * 1024 })) as ReadableStream;
      return this.putObject(key, size, options.sha256, contentType, body, signal);
    }
    await uploadMultipart(this.client, key, path, {
      plan,
      partSha256s: digests.partSha256s,
      size,
      contentType,
      concurrency: this.partConcurrency,
      journal: this.journal,
      signal,
    });
  }

  async putBytes(key: string, bytes: Uint8Array<ArrayBuffer>, options: PutOptions): Promise<void> {
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (actual !== options.sha256) throw new ContentMismatch(key, options.sha256, actual);
    await this.singleFlight(key, async () => {
      if (await this.has(key)) return;
      await this.putObject(
        key,
        bytes.byteLength,
        actual,
        options.contentType ?? defaultContentType,
        () => bytes,
        options.signal,
      );
    });
  }

  private async putObject(
    key: string,
    size: number,
    sha256: string,
    contentType: string,
    body: () => RequestBody,
    signal?: AbortSignal,
  ): Promise<void> {
    const response = await this.client.send({
      method: "PUT",
      key,
      headers: {
        "content-type": contentType,
        "content-length": String(size),
        "x-amz-checksum-sha256": Buffer.from(sha256, "hex").toString("base64"),
      },
      body,
      payloadSha256: sha256,
      signal,
    });
    await response.body?.cancel();
  }

  /** Runs `put` for `key` after any put of the same key in progress here has settled. */
  private async singleFlight(key: string, put: () => Promise<void>): Promise<void> {
    const previous = this.inflight.get(key);
    const current = (previous ?? Promise.resolve()).catch(() => undefined).then(put);
    this.inflight.set(key, current);
    try {
      await current;
    } finally {
      if (this.inflight.get(key) === current) this.inflight.delete(key);
    }
  }
}
