// The multipart uploads this origin has started and not yet completed or aborted, one small file
// each in a directory of its data dir. A crash (kill -9, power loss) leaves their parts stored
// and billed in the bucket; at the next start the origin aborts exactly the uploads in its own
// journal, never another origin's that shares the bucket.

import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface JournalEntry {
  key: string;
  uploadId: string;
  startedAt: number;
}

export class UploadJournal {
  constructor(private readonly dir: string) {}

  async init(): Promise<this> {
    await mkdir(this.dir, { recursive: true });
    return this;
  }

  async add(entry: JournalEntry): Promise<void> {
    await writeFile(this.pathOf(entry.uploadId), JSON.stringify(entry));
  }

  async remove(uploadId: string): Promise<void> {
    await rm(this.pathOf(uploadId), { force: true });
  }

  /** Every upload recorded and not removed; unreadable files (a torn write) are dropped. */
  async list(): Promise<JournalEntry[]> {
    const entries: JournalEntry[] = [];
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      try {
        const entry = JSON.parse(await readFile(path, "utf8")) as Partial<JournalEntry>;
        if (typeof entry.key === "string" && typeof entry.uploadId === "string") {
          entries.push({
            key: entry.key,
            uploadId: entry.uploadId,
            startedAt: entry.startedAt ?? 0,
          });
          continue;
        }
      } catch {
        // a file the crash left half-written: nothing to abort by it
      }
      await rm(path, { force: true });
    }
    return entries;
  }

  private pathOf(uploadId: string): string {
    // Upload ids are opaque; hash them so no id can name a path outside the directory.
    return join(this.dir, `${createHash("sha256").update(uploadId).digest("hex")}.json`);
  }
}
