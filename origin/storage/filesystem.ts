// The embedded default backend: objects as files under STORAGE_PATH. Writes go to a staging file
// that is verified, fsynced and then renamed to its key, so a reader sees a whole object or none.

import { createHash, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import {
  copyFile,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { stagingPrefix } from "../../shared/storage-keys.ts";
import { emptyDirectory } from "./empty-directory.ts";
import { FileBody } from "./file-body.ts";
import {
  ContentMismatch,
  type ByteSpan,
  type CrashLeftovers,
  type ObjectStat,
  type PutOptions,
  type Storage,
  type StoredObject,
} from "./storage.ts";

export class FilesystemStorage implements Storage {
  readonly description: string;
  readonly scratchDir: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = `filesystem:${this.root}`;
    this.scratchDir = join(this.root, stagingPrefix);
  }

  async init(): Promise<this> {
    await mkdir(this.scratchDir, { recursive: true });
    return this;
  }

  async check(): Promise<void> {
    const probe = join(this.scratchDir, `${randomUUID()}.probe`);
    try {
      await writeFile(probe, "ok");
    } finally {
      await rm(probe, { force: true });
    }
  }

  async cleanUpAfterCrash(): Promise<CrashLeftovers> {
    const scratchFiles = await emptyDirectory(this.scratchDir);
    return { scratchFiles, abortedUploads: 0, staleStaging: 0 };
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    // Keys are paths under the root; the prefix's directory part is where the walk starts.
    const slash = prefix.lastIndexOf("/");
    const start = join(this.root, prefix.slice(0, slash + 1));
    let entries;
    try {
      entries = await readdir(start, { recursive: true, withFileTypes: true });
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      const key = relative(this.root, path).split(sep).join("/");
      if (!key.startsWith(prefix) || key.startsWith(stagingPrefix)) continue;
      const info = await stat(path).catch(() => null);
      if (info) yield { key, size: info.size, modifiedAt: info.mtimeMs };
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  private pathOf(key: string): string {
    const path = resolve(this.root, key);
    const inside = relative(this.root, path);
    if (inside.startsWith("..") || inside === "" || inside.startsWith(sep)) {
      throw new Error(`storage key escapes the storage root: ${key}`);
    }
    return path;
  }

  async stat(key: string): Promise<ObjectStat | null> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { size: info.size } : null;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async has(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null;
  }

  async read(key: string, span?: ByteSpan): Promise<ReadableStream<Uint8Array> | null> {
    const handle = await open(this.pathOf(key), "r").catch((error: unknown) => {
      if (isNotFound(error)) return null;
      throw error;
    });
    if (!handle) return null;
    try {
      const end = span ? span.end + 1 : (await handle.stat()).size;
      return new FileBody({ handle, start: span?.start ?? 0, end, key });
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  }

  async readBytes(key: string): Promise<Uint8Array<ArrayBuffer> | null> {
    try {
      const buffer = await readFile(this.pathOf(key));
      return new Uint8Array(
        buffer.buffer,
        buffer.byteOffset,
        buffer.byteLength,
      ) as Uint8Array<ArrayBuffer>;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async putFile(key: string, path: string, options: PutOptions): Promise<void> {
    const staged = join(this.scratchDir, `${randomUUID()}.put`);
    try {
      // Rename into staging when on the same filesystem, copy otherwise; verify either way.
      await rename(path, staged).catch(async () => {
        await copyFile(path, staged);
        await rm(path, { force: true });
      });
      const actual = await hashFile(staged);
      if (actual !== options.sha256) throw new ContentMismatch(key, options.sha256, actual);
      options.signal?.throwIfAborted();
      if (!(await this.has(key))) await this.publish(staged, key);
    } finally {
      await rm(staged, { force: true });
    }
  }

  async putBytes(key: string, bytes: Uint8Array<ArrayBuffer>, options: PutOptions): Promise<void> {
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (actual !== options.sha256) throw new ContentMismatch(key, options.sha256, actual);
    if (await this.has(key)) return;
    const staged = join(this.scratchDir, `${randomUUID()}.put`);
    try {
      const handle = await open(staged, "w");
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.publish(staged, key);
    } finally {
      await rm(staged, { force: true });
    }
  }

  private async publish(staged: string, key: string): Promise<void> {
    const target = this.pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    const handle = await open(staged, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(staged, target);
  }
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}
