// The contract every Storage backend passes, run by each backend's test file: reads of missing
// keys, puts and reads (whole and spans), refusal of content that does not match its sha256,
// idempotent and concurrent puts of one key, and a large object streamed back byte for byte.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { blobKey, manifestKey } from "../../shared/storage-keys.ts";
import { digestFromHex } from "../../shared/digest.ts";
import { ContentMismatch, type Storage } from "../../origin/storage/storage.ts";

export interface StorageUnderTest {
  storage: Storage;
  cleanup(): Promise<void>;
}

export function describeStorageContract(
  name: string,
  makeStorage: () => Promise<StorageUnderTest>,
): void {
  describe(`Storage contract: ${name}`, () => {
    let subject: StorageUnderTest;
    let storage: Storage;
    before(async () => {
      subject = await makeStorage();
      storage = subject.storage;
    });
    after(async () => subject.cleanup());

    /** A file with `bytes` in the backend's scratch directory, as the pack step leaves one. */
    async function scratchFile(bytes: Uint8Array): Promise<string> {
      const path = join(storage.scratchDir, `contract-${randomBytes(8).toString("hex")}.tmp`);
      await writeFile(path, bytes);
      return path;
    }

    it("lists what it holds under a prefix, and deletes by key", async () => {
      const objects = [randomBytes(10), randomBytes(20), randomBytes(30)];
      const keys = objects.map((bytes) => blobKey(digestFromHex(sha256(bytes))));
      for (const [index, bytes] of objects.entries()) {
        await storage.putBytes(keys[index]!, toArrayBytes(bytes), { sha256: sha256(bytes) });
      }
      const manifest = randomBytes(5);
      const manifestAt = manifestKey(digestFromHex(sha256(manifest)));
      await storage.putBytes(manifestAt, toArrayBytes(manifest), { sha256: sha256(manifest) });
      const listed = new Map<string, { size: number; modifiedAt: number }>();
      for await (const object of storage.list("blobs/")) listed.set(object.key, object);
      for (const [index, key] of keys.entries()) {
        assert.equal(listed.get(key)?.size, objects[index]!.byteLength, `${key} listed`);
        assert.ok(Math.abs(listed.get(key)!.modifiedAt - Date.now()) < 120_000, "a recent time");
      }
      assert.ok(!listed.has(manifestAt), "only keys under the prefix");
      await storage.delete(keys[0]!);
      await storage.delete(keys[0]!); // deleting what is gone is fine
      assert.equal(await storage.has(keys[0]!), false);
      const after = new Set<string>();
      for await (const object of storage.list("blobs/")) after.add(object.key);
      assert.ok(!after.has(keys[0]!) && after.has(keys[1]!));
    });

    it("answers null for a key that does not exist", async () => {
      const key = blobKey(digestFromHex(sha256(randomBytes(16))));
      assert.equal(await storage.stat(key), null);
      assert.equal(await storage.has(key), false);
      assert.equal(await storage.read(key), null);
      assert.equal(await storage.read(key, { start: 0, end: 0 }), null);
      assert.equal(await storage.readBytes(key), null);
    });

    it("stores bytes and reads them back whole and in spans", async () => {
      const bytes = randomBytes(1000);
      const key = manifestKey(digestFromHex(sha256(bytes)));
      await storage.putBytes(key, toArrayBytes(bytes), {
        sha256: sha256(bytes),
        contentType: "application/vnd.oci.image.manifest.v1+json",
      });
      assert.deepEqual(await storage.stat(key), { size: 1000 });
      assert.equal(await storage.has(key), true);
      assert.deepEqual(Buffer.from((await storage.readBytes(key))!), bytes);
      assert.deepEqual(await readAll(await storage.read(key)), bytes);
      for (const span of [
        { start: 0, end: 0 },
        { start: 10, end: 99 },
        { start: 999, end: 999 },
        { start: 0, end: 999 },
      ]) {
        const got = await readAll(await storage.read(key, span));
        assert.deepEqual(
          got,
          bytes.subarray(span.start, span.end + 1),
          `span ${span.start}-${span.end}`,
        );
      }
    });

    it("publishes a file", async () => {
      const bytes = randomBytes(64 * 1024 + 7);
      const key = blobKey(digestFromHex(sha256(bytes)));
      await storage.putFile(key, await scratchFile(bytes), { sha256: sha256(bytes) });
      assert.deepEqual(await storage.stat(key), { size: bytes.length });
      assert.deepEqual(Buffer.from((await storage.readBytes(key))!), bytes);
    });

    it("refuses bytes that do not match their sha256 and leaves nothing at the key", async () => {
      const bytes = randomBytes(100);
      const claimed = sha256(randomBytes(100));
      const key = blobKey(digestFromHex(claimed));
      await assert.rejects(
        storage.putBytes(key, toArrayBytes(bytes), { sha256: claimed }),
        ContentMismatch,
      );
      assert.equal(await storage.stat(key), null);
      assert.equal(await storage.readBytes(key), null);
    });

    it("refuses a file that does not match its sha256 and leaves nothing at the key", async () => {
      const bytes = randomBytes(300 * 1024);
      const claimed = sha256(randomBytes(10));
      const key = blobKey(digestFromHex(claimed));
      await assert.rejects(
        storage.putFile(key, await scratchFile(bytes), { sha256: claimed }),
        ContentMismatch,
      );
      assert.equal(await storage.stat(key), null);
      assert.equal(await storage.has(key), false);
    });

    it("accepts a second put of identical content", async () => {
      const bytes = randomBytes(5000);
      const digest = sha256(bytes);
      const key = blobKey(digestFromHex(digest));
      await storage.putBytes(key, toArrayBytes(bytes), { sha256: digest });
      await storage.putBytes(key, toArrayBytes(bytes), { sha256: digest });
      await storage.putFile(key, await scratchFile(bytes), { sha256: digest });
      assert.deepEqual(Buffer.from((await storage.readBytes(key))!), bytes);
    });

    it("streams a large object back identically", async () => {
      const bytes = randomBytes(20 * 1024 * 1024 + 13);
      const digest = sha256(bytes);
      const key = blobKey(digestFromHex(digest));
      await storage.putFile(key, await scratchFile(bytes), {
        sha256: digest,
        contentType: "application/octet-stream",
      });
      assert.deepEqual(await storage.stat(key), { size: bytes.length });
      const stream = await storage.read(key);
      assert.ok(stream);
      const hash = createHash("sha256");
      let size = 0;
      for await (const chunk of stream) {
        hash.update(chunk);
        size += chunk.byteLength;
      }
      assert.equal(size, bytes.length);
      assert.equal(hash.digest("hex"), digest);
      const tail = await readAll(
        await storage.read(key, { start: bytes.length - 4096, end: bytes.length - 1 }),
      );
      assert.deepEqual(tail, bytes.subarray(bytes.length - 4096));
    });

    it("survives concurrent puts of the same key", async () => {
      const bytes = randomBytes(2 * 1024 * 1024);
      const digest = sha256(bytes);
      const key = blobKey(digestFromHex(digest));
      const files = await Promise.all([1, 2, 3].map(() => scratchFile(bytes)));
      await Promise.all([
        ...files.map((path) => storage.putFile(key, path, { sha256: digest })),
        storage.putBytes(key, toArrayBytes(bytes), { sha256: digest }),
      ]);
      assert.deepEqual(Buffer.from((await storage.readBytes(key))!), bytes);
    });
  });
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function toArrayBytes(bytes: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes) as Uint8Array<ArrayBuffer>;
}

async function readAll(stream: ReadableStream<Uint8Array> | null): Promise<Buffer> {
  assert.ok(stream, "expected a stream");
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}
