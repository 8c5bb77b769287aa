// An S3/R2 upload that overlaps packing: a layer's digest is known only once it is packed, so
// its parts go up, while later parts are still being packed, as a multipart upload to a
// temporary key under the staging prefix; once the file is complete and its sha256 checked, the
// staged object is completed, copied server-side (CopyObject) to its final key and deleted.
//
// Parts are equal (the part size) except the last, as R2 requires, each read back from the
// packed file once the packer has written it (nothing held in memory) and signed with its own
// sha256, so S3/R2 verify every byte. Nothing appears under a final key before the copy, which is
// atomic. A failed or aborted upload is aborted and its staging object deleted; a crash leaves
// the upload (and a staged object not yet deleted) in the journal, which the next start cleans
// (S3Storage.cleanUpAfterCrash). The staging prefix lies outside what the collector lists.
//
// Layers that never fill one part are published by putFile (a single PUT) as before, and so are
// layers over 5 GiB, the largest CopyObject: staging stops there and the file is uploaded whole.

import { createHash, randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { stagingPrefix } from "../../shared/storage-keys.ts";
import { S3RequestFailed, xmlText, type S3Client } from "./s3-client.ts";
import {
  abortMultipart,
  completeUpload,
  maxPartSize,
  maxParts,
  uploadFilePart,
} from "./s3-multipart.ts";
import { ContentMismatch, type FileUpload, type PutOptions } from "./storage.ts";
import type { UploadJournal } from "./upload-journal.ts";

export interface StagedUploadOptions {
  client: S3Client;
  path: string;
  partSize: number;
  concurrency: number;
  contentType: string;
  journal?: UploadJournal;
  signal?: AbortSignal;
  /** Publishes the finished file the ordinary way (hash, single PUT or multipart; removes it). */
  putFile(key: string, options: PutOptions): Promise<void>;
  /** Runs `copy` unless `key` already exists, one put of a key at a time (S3Storage's). */
  publish(key: string, copy: () => Promise<void>): Promise<void>;
}

export class StagedUpload implements FileUpload {
  readonly stagingKey = `${stagingPrefix}${randomUUID()}`;
  private readonly controller = new AbortController();
  private readonly signal: AbortSignal;
  private readonly whole = createHash("sha256");
  private part = createHash("sha256");
  private inPart = 0;
  private size = 0;
  private readonly parts: Promise<string>[] = [];
  private created: Promise<string> | null = null;
  private completed = false;
  private stopped = false;
  private discarding: Promise<void> | null = null;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly options: StagedUploadOptions) {
    this.signal = options.signal
      ? AbortSignal.any([options.signal, this.controller.signal])
      : this.controller.signal;
  }

  written(chunk: Uint8Array): void {
    if (this.stopped) return;
    const { partSize } = this.options;
    this.whole.update(chunk);
    for (let offset = 0; offset < chunk.byteLength;) {
      const take = Math.min(partSize - this.inPart, chunk.byteLength - offset);
      this.part.update(chunk.subarray(offset, offset + take));
      offset += take;
      this.inPart += take;
      this.size += take;
      if (this.inPart === partSize) this.endPart();
    }
    if (this.size > maxPartSize || this.parts.length >= maxParts) {
      // Too large for one CopyObject: stop staging; finish uploads the file whole.
      this.stopped = true;
      void this.discard();
    }
  }

  async finish(key: string, options: PutOptions): Promise<void> {
    if (this.stopped || this.parts.length === 0) {
      await this.discard();
      return this.options.putFile(key, options);
    }
    try {
      if (this.inPart > 0) this.endPart();
      this.stopped = true;
      const etags = await Promise.all(this.parts);
      const sha256 = this.whole.digest("hex");
      if (sha256 !== options.sha256) throw new ContentMismatch(key, options.sha256, sha256);
      options.signal?.throwIfAborted();
      const uploadId = await this.created!;
      await this.options.publish(key, async () => {
        await completeUpload(this.options.client, this.stagingKey, uploadId, etags, this.size);
        this.completed = true;
        await this.copyTo(key, options.signal);
      });
    } finally {
      await this.discard();
      await rm(this.options.path, { force: true });
    }
  }

  abort(): Promise<void> {
    return this.discard();
  }

  private endPart(): void {
    const index = this.parts.length;
    const start = index * this.options.partSize;
    const end = start + this.inPart - 1;
    const sha256 = this.part.digest("hex");
    this.part = createHash("sha256");
    this.inPart = 0;
    const uploading = this.limit(() => this.uploadPart(index, start, end, sha256));
    // One failed part stops the others; finish rethrows its error.
    uploading.catch((error: unknown) => this.controller.abort(error));
    this.parts.push(uploading);
  }

  private async uploadPart(index: number, start: number, end: number, sha256: string) {
    this.signal.throwIfAborted();
    const { client, path } = this.options;
    const uploadId = await (this.created ??= this.create());
    return uploadFilePart(client, {
      key: this.stagingKey,
      uploadId,
      index,
      path,
      start,
      end,
      sha256,
      signal: this.signal,
    });
  }

  private async create(): Promise<string> {
    const { client, contentType, journal } = this.options;
    const created = await client.send({
      method: "POST",
      key: this.stagingKey,
      query: { uploads: "" },
      headers: { "content-type": contentType },
      signal: this.signal,
    });
    const uploadId = xmlText(await created.text(), "UploadId");
    if (!uploadId)
      throw new Error(`S3 CreateMultipartUpload for ${this.stagingKey} returned no UploadId`);
    // Journalled until the staged object is gone, so a crash at any point leaves it findable.
    await journal?.add({ key: this.stagingKey, uploadId, startedAt: Date.now() });
    return uploadId;
  }

  /** Server-side copy of the complete staged object to `key`: atomic, nothing partial visible. */
  private async copyTo(key: string, signal?: AbortSignal): Promise<void> {
    const { client } = this.options;
    const source = `/${[client.bucket, ...this.stagingKey.split("/")].map(encodeURIComponent).join("/")}`;
    const response = await client.send({
      method: "PUT",
      key,
      headers: { "x-amz-copy-source": source },
      signal,
    });
    // Like Complete, a copy may answer 200 and report an error in the body.
    const text = await response.text();
    if (text.includes("<Error>")) {
      throw new S3RequestFailed(
        `copy ${this.stagingKey} to ${key}`,
        response.status,
        xmlText(text, "Code") ?? "Error",
        xmlText(text, "Message") ?? "",
      );
    }
  }

  /** Stops the parts, then aborts the upload or deletes the staged object; forgets it if gone. */
  private discard(): Promise<void> {
    this.discarding ??= (async () => {
      this.stopped = true;
      this.controller.abort(new Error("staged upload discarded"));
      await Promise.allSettled(this.parts);
      const uploadId = await this.created?.catch(() => null);
      if (!uploadId) return;
      const { client, journal } = this.options;
      const gone = this.completed
        ? await client
            .send({ method: "DELETE", key: this.stagingKey, accept: [404] })
            .then(async (response) => {
              await response.body?.cancel();
              return true;
            })
            .catch(() => false)
        : await abortMultipart(client, this.stagingKey, uploadId);
      if (gone) await journal?.remove(uploadId).catch(() => undefined);
    })();
    return this.discarding;
  }

  /** Runs `task` when fewer than `concurrency` parts are in flight. */
  private async limit<T>(task: () => Promise<T>): Promise<T> {
    while (this.active >= this.options.concurrency) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
