// Removes everything inside a directory (not the directory itself): the scratch and staging
// directories, whose contents a crashed origin leaves behind.

import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";

/** Empties `dir` (creating it if absent) and returns how many entries were removed. */
export async function emptyDirectory(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  const names = await readdir(dir);
  await Promise.all(names.map((name) => rm(join(dir, name), { recursive: true, force: true })));
  return names.length;
}
