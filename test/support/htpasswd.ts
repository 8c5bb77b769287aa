// htpasswd files as operators make them: Apache's own `htpasswd -B` (Debian's apache2-utils).

import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { command } from "./clients.ts";

/** A new htpasswd file holding `users` (bcrypt, htpasswd's default cost); returns its path. */
export async function htpasswdFile(users: Record<string, string>): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), "nixery-htpasswd-")), "htpasswd");
  let create = true;
  for (const [user, password] of Object.entries(users)) {
    const result = await command("htpasswd", [create ? "-cbB" : "-bB", path, user, password]);
    if (result.code !== 0) throw new Error(`htpasswd failed: ${result.stderr}`);
    create = false;
  }
  return path;
}
