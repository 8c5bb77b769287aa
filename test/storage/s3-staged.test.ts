// Uploads that overlap packing (origin/storage/s3-staged.ts) against a real S3-protocol server:
// parts go up to a staging key while the file is still being written, the final key appears only
// after finish (by a server-side copy), and abort, a wrong digest or a crash leave nothing behind.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { appendFile, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { digestFromHex } from "../../shared/digest.ts";
import { blobKey, stagingPrefix } from "../../shared/storage-keys.ts";
import { S3Client, xmlText } from "../../origin/storage/s3-client.ts";
import { S3Storage } from "../../origin/storage/s3.ts";
import { ContentMismatch, type FileUpload } from "../../origin/storage/storage.ts";
import { UploadJournal } from "../../origin/storage/upload-journal.ts";
import { startS3Server, type S3TestServer } from "../support/s3-server.ts";
import { waitFor } from "../support/wait-for.ts";

const MiB = 1024 * 1024;
const fastRetry = { attempts: 3, baseDelayMs: 5, maxDelayMs: 50 };

describe("staged S3 uploads (packing and uploading overlap)", () => {
  let server: S3TestServer;
  let dir: string;
  let client: S3Client;
  before(async () => {
    server = await startS3Server();
    dir = await mkdtemp(join(tmpdir(), "s3-staged-"));
    client = new S3Client({ ...server, retry: fastRetry });
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function storageWith(journalName: string): Promise<S3Storage> {
    const journal = await new UploadJournal(join(dir, journalName)).init();
    return new S3Storage({
      ...server,
      scratchDir: join(dir, "scratch"),
      retry: fastRetry,
      partSize: 5 * MiB,
      journal,
    }).init();
  }

  async function pendingUploads(): Promise<string[]> {
    const response = await client.send({ method: "GET", query: { uploads: "" } });
    const xml = await response.text();
    // A part s3rver was still writing when its upload was aborted recreates the upload's
    // directory without a key (S3 too may keep such parts until aborted again): not an upload.
    return (xml.match(/<Upload>[\s\S]*?<\/Upload>/g) ?? [])
      .map((u) => xmlText(u, "Key") ?? "")
      .filter((key) => key !== "");
  }

  async function staged(storage: S3Storage): Promise<string[]> {
    const keys: string[] = [];
    for await (const object of storage.list(stagingPrefix)) keys.push(object.key);
    return keys;
  }

  /** Writes `bytes` to `path` in 1 MiB chunks, telling `upload` after each, as the packer does. */
  async function writeInChunks(path: string, bytes: Buffer, upload: FileUpload): Promise<void> {
    await writeFile(path, "");
    for (let offset = 0; offset < bytes.length; offset += MiB) {
      const chunk = bytes.subarray(offset, offset + MiB);
      await appendFile(path, chunk);
      upload.written(chunk);
    }
  }

  function sha256Of(bytes: Buffer): string {
    return createHash("sha256").update(bytes).digest("hex");
  }

  it("uploads parts while the file is written and publishes only at finish", async () => {
    const storage = await storageWith("journal-1");
    const bytes = randomBytes(12 * MiB + 123);
    const sha256 = sha256Of(bytes);
    const key = blobKey(digestFromHex(sha256));
    const path = join(storage.scratchDir, "layer-1.tar.gz");
    const upload = storage.startFileUpload(path);
    await writeInChunks(path, bytes, upload);
    // Two full parts are under way or done before the file is finished; the final key is absent.
    await waitFor("a staged multipart upload", async () =>
      (await pendingUploads()).some((k) => k.startsWith(stagingPrefix)),
    );
    assert.equal(await storage.has(key), false);
    await upload.finish(key, { sha256 });
    assert.deepEqual(await storage.readBytes(key), new Uint8Array(bytes));
    assert.deepEqual(await staged(storage), []);
    assert.deepEqual(await pendingUploads(), []);
    await assert.rejects(stat(path), { code: "ENOENT" });
    assert.equal((await storage.cleanUpAfterCrash()).abortedUploads, 0, "journal left empty");
  });

  it("falls back to a single PUT for a file smaller than one part", async () => {
    const storage = await storageWith("journal-2");
    const bytes = randomBytes(3 * MiB);
    const sha256 = sha256Of(bytes);
    const path = join(storage.scratchDir, "layer-2.tar.gz");
    const upload = storage.startFileUpload(path);
    await writeInChunks(path, bytes, upload);
    await upload.finish(blobKey(digestFromHex(sha256)), { sha256 });
    assert.deepEqual(
      await storage.readBytes(blobKey(digestFromHex(sha256))),
      new Uint8Array(bytes),
    );
    assert.deepEqual(await pendingUploads(), []);
  });

  it("refuses content that does not match its digest and leaves nothing", async () => {
    const storage = await storageWith("journal-3");
    const bytes = randomBytes(11 * MiB);
    const wrong = sha256Of(Buffer.from("something else"));
    const path = join(storage.scratchDir, "layer-3.tar.gz");
    const upload = storage.startFileUpload(path);
    await writeInChunks(path, bytes, upload);
    await assert.rejects(
      upload.finish(blobKey(digestFromHex(wrong)), { sha256: wrong }),
      ContentMismatch,
    );
    assert.equal(await storage.has(blobKey(digestFromHex(wrong))), false);
    assert.equal(await storage.has(blobKey(digestFromHex(sha256Of(bytes)))), false);
    assert.deepEqual(await staged(storage), []);
    assert.deepEqual(await pendingUploads(), []);
    await assert.rejects(stat(path), { code: "ENOENT" });
  });

  it("abort drops the staged parts", async () => {
    const storage = await storageWith("journal-4");
    const bytes = randomBytes(16 * MiB);
    const path = join(storage.scratchDir, "layer-4.tar.gz");
    const upload = storage.startFileUpload(path);
    await writeInChunks(path, bytes, upload);
    await upload.abort();
    assert.deepEqual(await pendingUploads(), []);
    assert.deepEqual(await staged(storage), []);
    assert.equal(await storage.has(blobKey(digestFromHex(sha256Of(bytes)))), false);
    await rm(path, { force: true });
  });

  it("a crash leaves only staging leftovers, which the next start removes", async () => {
    const storage = await storageWith("journal-5");
    const bytes = randomBytes(11 * MiB);
    const path = join(storage.scratchDir, "layer-5.tar.gz");
    const upload = storage.startFileUpload(path);
    await writeInChunks(path, bytes, upload);
    // Both full parts stored (s3rver writes `<part>.md5` last): the process "dies" with no
    // request in flight.
    const uploads = join(server.directory, server.bucket, "._S3rver_uploads");
    await waitFor("both parts stored", async () => {
      for (const id of await readdir(uploads).catch(() => [] as string[])) {
        const files = await readdir(join(uploads, id)).catch(() => [] as string[]);
        if (files.includes("1.md5") && files.includes("2.md5")) return true;
      }
      return false;
    });
    // A staged object completed but not yet copied and deleted when the process died.
    const leftover = `${stagingPrefix}left-by-a-crash`;
    const leftoverBytes = new Uint8Array(randomBytes(1024));
    await storage.putBytes(leftover, leftoverBytes, {
      sha256: sha256Of(Buffer.from(leftoverBytes)),
    });
    const journal = await new UploadJournal(join(dir, "journal-5")).init();
    await journal.add({ key: leftover, uploadId: "0123abcd", startedAt: Date.now() });
    // The process "dies": a new storage on the same journal cleans up at start.
    await waitFor(
      "the staged upload in the journal",
      async () => (await journal.list()).length === 2,
    );
    // A staged object no journal names (another origin's upload under way, or one whose data
    // directory was lost): kept while young, removed once a day old.
    const orphan = `${stagingPrefix}no-journal-names-it`;
    await storage.putBytes(orphan, leftoverBytes, { sha256: sha256Of(Buffer.from(leftoverBytes)) });
    const restarted = await storageWith("journal-5");
    const cleaned = await restarted.cleanUpAfterCrash();
    assert.equal(cleaned.abortedUploads, 2);
    assert.equal(cleaned.staleStaging, 0);
    assert.deepEqual(await staged(restarted), [orphan]);
    const dayLater = await restarted.cleanUpAfterCrash(Date.now() + 25 * 3600 * 1000);
    assert.deepEqual(dayLater, { scratchFiles: 0, abortedUploads: 0, staleStaging: 1 });
    assert.deepEqual(await staged(restarted), []);
    assert.deepEqual(await pendingUploads(), []);
    assert.equal(await restarted.has(blobKey(digestFromHex(sha256Of(bytes)))), false);
    await upload.abort();
  });
});
