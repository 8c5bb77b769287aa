// Runs the storage contract against the filesystem backend in a temp directory.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeStorageContract } from "../../test/support/storage-contract.ts";
import { FilesystemStorage } from "./filesystem.ts";

describeStorageContract("filesystem", async () => {
  const root = await mkdtemp(join(tmpdir(), "storage-fs-"));
  return {
    storage: await new FilesystemStorage(root).init(),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
