// The keys that sign a private instance's tokens: NIXERY_TOKEN_KEY when set (the edge must
// verify with the same key), otherwise one generated at first start and kept in the data
// directory (mode 0600), so logins survive restarts. The key never reaches Nix or git: it is
// neither in the child environment nor anywhere under the package source.

import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const tokenKeyFile = "token-key";

export async function loadTokenKeys(
  configured: readonly string[] | null,
  dataDir: string,
): Promise<{ keys: string[]; generated: boolean }> {
  if (configured && configured.length > 0) return { keys: [...configured], generated: false };
  const path = join(dataDir, tokenKeyFile);
  try {
    const kept = (await readFile(path, "utf8")).trim();
    if (kept.length >= 32) return { keys: [kept], generated: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const key = randomBytes(32).toString("hex");
  await writeFile(path, `${key}\n`, { mode: 0o600 });
  return { keys: [key], generated: true };
}
