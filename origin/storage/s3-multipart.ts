// Multipart upload of a local file: the part plan (equal parts except the last, as R2 requires),
// one hashing pass that yields the whole-file and per-part sha256, and the upload itself, which
// aborts the upload on any failure so no parts linger.

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { S3RequestFailed, xmlText, type S3Client } from "./s3-client.ts";
import type { UploadJournal } from "./upload-journal.ts";

const MiB = 1024 * 1024;
export const minPartSize = 5 * MiB;
export const maxPartSize = 5 * 1024 * MiB;
export const maxParts = 10_000;

export interface PartPlan {
  partSize: number;
  count: number;
}

/** Equal parts of `preferredSize`, grown (in whole MiB) when the file would need over 10,000. */
export function planParts(size: number, preferredSize: number): PartPlan {
  let partSize = Math.max(preferredSize, minPartSize);
  if (Math.ceil(size / partSize) > maxParts) partSize = Math.ceil(size / maxParts / MiB) * MiB;
  if (partSize > maxPartSize)
    throw new Error(`an object of ${size} bytes is too large for a multipart upload`);
  return { partSize, count: Math.max(1, Math.ceil(size / partSize)) };
}

export interface FileDigests {
  size: number;
  sha256: string;
  /** sha256 of each part of `partSize` bytes (empty when no part size was given). */
  partSha256s: string[];
}

/** Hashes a file in one pass: the whole content and, given a part size, each part. */
export async function hashFile(path: string, partSize?: number): Promise<FileDigests> {
  const whole = createHash("sha256");
  const partSha256s: string[] = [];
  let part = createHash("sha256");
  let inPart = 0;
  let size = 0;
  for await (const chunk of createReadStream(path, {
    highWaterMark: MiB,
  }) as AsyncIterable<Buffer>) {
    whole.update(chunk);
    size += chunk.length;
    if (!partSize) continue;
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(partSize - inPart, chunk.length - offset);
      part.update(chunk.subarray(offset, offset + take));
      offset += take;
      inPart += take;
      if (inPart === partSize) {
        partSha256s.push(part.digest("hex"));
        part = createHash("sha256");
        inPart = 0;
      }
    }
  }
  if (partSize && (inPart > 0 || size === 0)) partSha256s.push(part.digest("hex"));
  return { size, sha256: whole.digest("hex"), partSha256s };
}

export interface MultipartOptions {
  plan: PartPlan;
  partSha256s: string[];
  size: number;
  contentType: string;
  /** Parts in flight at once. */
  concurrency: number;
  /** Records the upload until it is completed or aborted, so a crash leaves it findable. */
  journal?: UploadJournal;
  signal?: AbortSignal;
}

/**
 * Uploads `path` to `key` in parts, each streamed from its file range and signed with its own
 * sha256. The object appears only when CompleteMultipartUpload succeeds; on any failure the upload
 * is aborted (best effort) and the error rethrown.
 */
export async function uploadMultipart(
  client: S3Client,
  key: string,
  path: string,
  options: MultipartOptions,
): Promise<void> {
  const created = await client.send({
    method: "POST",
    key,
    query: { uploads: "" },
    headers: { "content-type": options.contentType },
    signal: options.signal,
  });
  const uploadId = xmlText(await created.text(), "UploadId");
  if (!uploadId) throw new Error(`S3 CreateMultipartUpload for ${key} returned no UploadId`);
  try {
    await options.journal?.add({ key, uploadId, startedAt: Date.now() });
    const etags = await uploadParts(client, key, path, uploadId, options);
    options.signal?.throwIfAborted();
    await completeUpload(client, key, uploadId, etags, options.size);
  } catch (error) {
    // An upload that could not be aborted now stays in the journal for the next start.
    if (await abortMultipart(client, key, uploadId)) await forget(options.journal, uploadId);
    throw error;
  }
  await forget(options.journal, uploadId);
}

async function forget(journal: UploadJournal | undefined, uploadId: string): Promise<void> {
  await journal?.remove(uploadId).catch(() => undefined);
}

/** Aborts an unfinished multipart upload (best effort: an upload already gone is fine). */
export async function abortMultipart(
  client: S3Client,
  key: string,
  uploadId: string,
): Promise<boolean> {
  return client
    .send({ method: "DELETE", key, query: { uploadId }, accept: [404] })
    .then(async (response) => {
      await response.body?.cancel();
      return true;
    })
    .catch(() => false);
}

/** Part `index` (0-based) of an upload: bytes `start`..`end` (inclusive) of `path`, signed with
 * their sha256; resolves to the part's ETag. */
export async function uploadFilePart(
  client: S3Client,
  part: {
    key: string;
    uploadId: string;
    index: number;
    path: string;
    start: number;
    end: number;
    sha256: string | undefined;
    signal: AbortSignal | undefined;
  },
): Promise<string> {
  const { key, uploadId, index, path, start, end, sha256, signal } = part;
  const response = await client.send({
    method: "PUT",
    key,
    query: { partNumber: String(index + 1), uploadId },
    headers: { "content-length": String(end - start + 1) },
    body: () =>
      Readable.toWeb(createReadStream(path, { start, end, highWaterMark: MiB })) as ReadableStream,
    payloadSha256: sha256,
    signal,
  });
  await response.body?.cancel();
  const etag = response.headers.get("etag");
  if (!etag) throw new Error(`S3 UploadPart ${index + 1} of ${key} returned no ETag`);
  return etag;
}

async function uploadParts(
  client: S3Client,
  key: string,
  path: string,
  uploadId: string,
  { plan, partSha256s, size, concurrency, signal }: MultipartOptions,
): Promise<string[]> {
  const etags: string[] = new Array<string>(plan.count);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && !signal?.aborted && next < plan.count) {
      const index = next++;
      const start = index * plan.partSize;
      const end = Math.min(size, start + plan.partSize) - 1;
      try {
        etags[index] = await uploadFilePart(client, {
          key,
          uploadId,
          index,
          path,
          start,
          end,
          sha256: partSha256s[index],
          signal,
        });
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  // Every worker stops before this returns, so an abort never races a part still in flight.
  await Promise.all(Array.from({ length: Math.min(concurrency, plan.count) }, worker));
  if (failure) throw failure.error;
  return etags;
}

/** Completes a multipart upload from its parts' ETags; the object appears at `key` whole. */
export async function completeUpload(
  client: S3Client,
  key: string,
  uploadId: string,
  etags: string[],
  size: number,
): Promise<void> {
  const xml =
    "<CompleteMultipartUpload>" +
    etags
      .map(
        (etag, index) => `<Part><PartNumber>${index + 1}</PartNumber><ETag>${etag}</ETag></Part>`,
      )
      .join("") +
    "</CompleteMultipartUpload>";
  const body = new TextEncoder().encode(xml);
  try {
    const response = await client.send({
      method: "POST",
      key,
      query: { uploadId },
      headers: { "content-type": "application/xml", "content-length": String(body.byteLength) },
      body: () => body,
      payloadSha256: createHash("sha256").update(body).digest("hex"),
    });
    // S3 may answer 200 and still report an error in the body.
    const text = await response.text();
    if (text.includes("<Error>")) {
      throw new S3RequestFailed(
        `complete ${key}`,
        response.status,
        xmlText(text, "Code") ?? "Error",
        xmlText(text, "Message") ?? "",
      );
    }
  } catch (error) {
    // A retried Complete whose first try succeeded finds the upload gone: check the object.
    if (error instanceof S3RequestFailed && error.code === "NoSuchUpload") {
      const head = await client.send({ method: "HEAD", key, accept: [404] });
      if (head.ok && Number(head.headers.get("content-length")) === size) return;
    }
    throw error;
  }
}
