// What a crash leaves in an S3 bucket, removed when the origin starts again: the multipart uploads
// its journal names (only this origin's own: the data dir is locked), with the staging object of a
// staged upload that was already complete, and staged objects older than a day whatever left them
// (a lost data directory takes its journal with it; nobody stages an upload for so long, so another
// origin sharing the bucket loses nothing).

import { stagingPrefix } from "../../shared/storage-keys.ts";
import { listObjects, type S3Client } from "./s3-client.ts";
import { abortMultipart } from "./s3-multipart.ts";
import type { CrashLeftovers } from "./storage.ts";
import type { UploadJournal } from "./upload-journal.ts";

/** A staged object this old is a crash's leftover: no upload stages for so long. */
const staleStagingMs = 24 * 3600 * 1000;

export async function removeS3Leftovers(
  client: S3Client,
  journal: UploadJournal | undefined,
  now: number,
): Promise<Omit<CrashLeftovers, "scratchFiles">> {
  const remove = async (key: string) => {
    const response = await client.send({ method: "DELETE", key, accept: [404] });
    await response.body?.cancel();
  };
  let abortedUploads = 0;
  for (const entry of (await journal?.list()) ?? []) {
    // A staged upload may already be complete: its staging object goes too.
    const staged = entry.key.startsWith(stagingPrefix);
    if (
      (await abortMultipart(client, entry.key, entry.uploadId)) &&
      (!staged ||
        (await remove(entry.key).then(
          () => true,
          () => false,
        )))
    ) {
      await journal?.remove(entry.uploadId);
      abortedUploads++;
    }
  }
  let staleStaging = 0;
  for await (const object of listObjects(client, stagingPrefix)) {
    if (now - object.modifiedAt < staleStagingMs) continue;
    await remove(object.key);
    staleStaging++;
  }
  return { abortedUploads, staleStaging };
}
