// Opens the configured storage backend and checks it can be read and written, turning a failure
// into the StartupError that names the setting (one line and exit status 2 at start).

import { resolve } from "node:path";
import type { Config } from "../config.ts";
import { describe, StartupError } from "../preflight.ts";
import { FilesystemStorage } from "./filesystem.ts";
import { S3Storage } from "./s3.ts";
import type { Storage } from "./storage.ts";
import { UploadJournal } from "./upload-journal.ts";

export async function openStorage(config: Config): Promise<Storage> {
  const setting = config.storage;
  if (setting.backend === "filesystem") {
    try {
      const storage = await new FilesystemStorage(setting.path).init();
      await storage.check();
      return storage;
    } catch (error) {
      throw new StartupError(
        "STORAGE_PATH",
        setting.path,
        `cannot write there (${describe(error)})`,
      );
    }
  }
  const storage = await new S3Storage({
    endpoint: setting.endpoint,
    bucket: setting.bucket,
    region: setting.region,
    accessKeyId: setting.accessKeyId,
    secretAccessKey: setting.secretAccessKey,
    forcePathStyle: setting.forcePathStyle,
    partSize: setting.partSizeBytes,
    presignRedirects: setting.presignSeconds ? { expiresSeconds: setting.presignSeconds } : null,
    scratchDir: resolve(config.dataDir, "scratch"),
    journal: await new UploadJournal(resolve(config.dataDir, "uploads")).init(),
  }).init();
  await storage.check().catch((error: unknown) => {
    throw new StartupError(
      "S3_BUCKET",
      `${setting.bucket} at S3_ENDPOINT=${setting.endpoint}`,
      `unreachable or refused (${describe(error)})`,
    );
  });
  return storage;
}
