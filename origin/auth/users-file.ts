// The users of a private origin, read from the NIXERY_HTPASSWD file and read again when it
// changes (looked at no more than every two seconds), so adding, removing or re-keying a user
// needs no restart. A changed file that does not parse is logged and the previous users stay.

import { readFile, stat } from "node:fs/promises";
import { HtpasswdInvalid } from "../../shared/htpasswd.ts";
import { UserDirectory, type PasswordHasher } from "../../shared/user-directory.ts";
import type { Logger } from "../log.ts";

const recheckMs = 2_000;

export class UsersFile {
  #directory: UserDirectory;
  #stamp: string;
  #checkedAt: number;
  /** The file as last seen broken, so one broken version is logged once. */
  #brokenStamp: string | null = null;
  #reading: Promise<void> | null = null;

  private constructor(
    readonly path: string,
    directory: UserDirectory,
    stamp: string,
    private readonly hasher: PasswordHasher,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {
    this.#directory = directory;
    this.#stamp = stamp;
    this.#checkedAt = now();
  }

  /** Reads the file once; throws (HtpasswdInvalid or the read error) when it cannot be used. */
  static async open(
    path: string,
    hasher: PasswordHasher,
    log: Logger,
    now: () => number = Date.now,
  ): Promise<UsersFile> {
    const stamp = await stampOf(path);
    const directory = await UserDirectory.fromHtpasswd(await readFile(path, "utf8"), hasher);
    return new UsersFile(path, directory, stamp, hasher, log, now);
  }

  /** The users now (read again first when the file changed since the last look). */
  async current(): Promise<UserDirectory> {
    if (this.now() - this.#checkedAt >= recheckMs) {
      this.#checkedAt = this.now();
      this.#reading ??= this.#reread().finally(() => (this.#reading = null));
    }
    if (this.#reading) await this.#reading;
    return this.#directory;
  }

  async #reread(): Promise<void> {
    let stamp = "";
    try {
      stamp = await stampOf(this.path);
      if (stamp === this.#stamp || stamp === this.#brokenStamp) return;
      const directory = await UserDirectory.fromHtpasswd(
        await readFile(this.path, "utf8"),
        this.hasher,
      );
      this.#directory = directory;
      this.#stamp = stamp;
      this.log.info("users reloaded", { users: directory.size });
    } catch (error) {
      this.#brokenStamp = stamp;
      const reason =
        error instanceof HtpasswdInvalid || error instanceof Error ? error.message : String(error);
      this.log.error("NIXERY_HTPASSWD changed but cannot be read; keeping the previous users", {
        reason,
      });
    }
  }
}

async function stampOf(path: string): Promise<string> {
  const info = await stat(path);
  return `${info.ino}:${info.size}:${info.mtimeMs}`;
}
