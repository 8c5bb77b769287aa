// A data directory belongs to one origin: two origins on one directory would delete each other's
// GC roots and staging files and race on the same SQLite cache. The lock is an exclusive SQLite
// lock (a POSIX record lock underneath), which the kernel releases when the holder exits in any
// way, kill -9 included, so a crash never leaves a stale lock behind.

import Database from "better-sqlite3";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export class DataDirLocked extends Error {
  override readonly name = "DataDirLocked";

  constructor(
    readonly dir: string,
    readonly holder: string,
  ) {
    super(`is in use by another origin${holder ? ` (${holder})` : ""}`);
  }
}

export interface DataDirLock {
  release(): void;
}

const lockFile = "origin.lock";
const holderFile = "origin.pid";

/** Takes the lock on `dir` (which must exist), or throws DataDirLocked. */
export function lockDataDir(dir: string): DataDirLock {
  const db = new Database(join(dir, lockFile), { timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    // In exclusive locking mode the lock a write takes is kept until the connection closes.
    db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER, started_at TEXT)");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("DELETE FROM holder");
    db.prepare("INSERT INTO holder VALUES (?, ?)").run(process.pid, new Date().toISOString());
    db.exec("COMMIT");
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code?.startsWith("SQLITE_BUSY")) {
      throw new DataDirLocked(dir, readHolder(dir));
    }
    throw error;
  }
  // The lock is the SQLite file; this side file only names the holder for the message above.
  writeFileSync(join(dir, holderFile), `pid ${process.pid}, started ${new Date().toISOString()}\n`);
  return { release: () => db.close() };
}

/** Adds the listening URL to the holder file, so `npm run gc` can ask the running origin. */
export function writeHolderUrl(dir: string, url: string): void {
  writeFileSync(
    join(dir, holderFile),
    `pid ${process.pid}, started ${new Date().toISOString()}, listening on ${url}\n`,
  );
}

/** The URL the origin holding `dir` listens on, if it said. */
export function holderUrl(dir: string): string | null {
  return /listening on (\S+)/.exec(readHolder(dir))?.[1] ?? null;
}

function readHolder(dir: string): string {
  try {
    return readFileSync(join(dir, holderFile), "utf8").trim();
  } catch {
    return "";
  }
}
