// Runs the storage contract against the filesystem backend in a temp directory, and what only this
// backend does: a file its writer hashed as it wrote it is renamed into place without a second
// read, while one that must be copied from another filesystem is checked all the same.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { describeStorageContract } from "../../test/support/storage-contract.ts";
import { FilesystemStorage } from "./filesystem.ts";
import { ContentMismatch } from "./storage.ts";

describeStorageContract("filesystem", async () => {
  const root = await mkdtemp(join(tmpdir(), "storage-fs-"));
  return {
    storage: await new FilesystemStorage(root).init(),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

it("publishes a file hashed as written, and still checks one copied from elsewhere", async () => {
  const root = await mkdtemp(join(tmpdir(), "storage-fs-"));
  // tmpfs where there is one: a file there is copied into the store, not renamed.
  const otherFs = existsSync("/dev/shm") ? await mkdtemp("/dev/shm/storage-fs-") : null;
  try {
    const storage = await new FilesystemStorage(root).init();
    const bytes = new TextEncoder().encode("a packed layer");
    const packed = join(storage.scratchDir, "packed.tar.gz");
    await writeFile(packed, bytes);
    await storage.putFile("blobs/sha256/packed", packed, {
      sha256: sha256(bytes),
      hashedAsWritten: true,
    });
    assert.deepEqual(new Uint8Array(await readFile(join(root, "blobs/sha256/packed"))), bytes);
    if (otherFs) {
      const elsewhere = join(otherFs, "copied.tar.gz");
      await writeFile(elsewhere, bytes);
      await assert.rejects(
        storage.putFile("blobs/sha256/copied", elsewhere, {
          sha256: sha256(new TextEncoder().encode("something else")),
          hashedAsWritten: true,
        }),
        ContentMismatch,
      );
      assert.equal(await storage.has("blobs/sha256/copied"), false);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
    if (otherFs) await rm(otherFs, { recursive: true, force: true });
  }
});
