// Building the generated closure set (closure-set.ts) with the tests' Nix configuration, and the
// figures of what was built: store paths, files, symlinks, NAR bytes and reference depth.

import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { testNixEnv } from "../support/nix-env.ts";
import { writeClosureSet } from "./closure-set.ts";

const run = promisify(execFile);
export const nixEnv = { ...process.env, ...testNixEnv() };

export interface ClosureSetFigures {
  paths: number;
  bytes: number;
  files: number;
  symlinks: number;
  depth: number;
  writeSeconds: number;
  /** nix-build of the whole set (near zero when it was built before). */
  buildSeconds: number;
}

/** Writes the set and builds all of it (kept by one GC root in the set's directory). */
export async function ensureClosureSet(
  dir: string,
): Promise<ClosureSetFigures & { all: string[] }> {
  let started = performance.now();
  await writeClosureSet(dir);
  const writeSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  const options = { env: nixEnv, maxBuffer: 1 << 28 };
  await run("nix-build", [join(dir, "all.nix"), "-o", join(dir, "result-all")], options);
  const buildSeconds = (performance.now() - started) / 1000;
  const all = (await readFile(join(dir, "result-all"), "utf8")).trim().split(/\s+/);
  const info = await pathInfo(all);
  const depth = new Map<string, number>();
  const depthOf = (path: string): number => {
    const known = depth.get(path);
    if (known !== undefined) return known;
    const refs = info.get(path)!.references.filter((ref) => ref !== path);
    const value = 1 + Math.max(0, ...refs.map(depthOf));
    depth.set(path, value);
    return value;
  };
  const count = async (type: string) =>
    Number(
      (await run("sh", ["-c", `find "$@" -type ${type} | wc -l`, "sh", ...info.keys()], options))
        .stdout,
    );
  return {
    all,
    paths: info.size,
    bytes: [...info.values()].reduce((sum, path) => sum + path.narSize, 0),
    files: await count("f"),
    symlinks: await count("l"),
    depth: Math.max(...[...info.keys()].map(depthOf)),
    writeSeconds,
    buildSeconds,
  };
}

/** The closure of `roots` with NAR sizes and references (`nix path-info -r --json`). */
export async function pathInfo(
  roots: string[],
): Promise<Map<string, { narSize: number; references: string[] }>> {
  const { stdout } = await run(
    "nix",
    ["--extra-experimental-features", "nix-command", "path-info", "-r", "--json", ...roots],
    { env: nixEnv, maxBuffer: 1 << 28 },
  );
  const entries = JSON.parse(stdout) as { path: string; narSize: number; references: string[] }[];
  return new Map(entries.map((entry) => [entry.path, entry]));
}
