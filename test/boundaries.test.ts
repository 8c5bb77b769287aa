// The architecture's boundaries, checked by a tool rather than by memory: shared/ imports only
// shared/ (no node:*, cloudflare:*, hono or sqlite), and worker/ and origin/ never import each other.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve, dirname } from "node:path";
import { repoRoot } from "./support/origin-process.ts";

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(repoRoot, dir), { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => relative(repoRoot, join(entry.parentPath, entry.name)));
}

function importsOf(text: string): string[] {
  const found: string[] = [];
  const pattern =
    /(?:^|\s)(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm;
  for (const match of text.matchAll(pattern)) found.push((match[1] ?? match[2])!);
  return found;
}

function topFolder(file: string, specifier: string): string | null {
  if (!specifier.startsWith(".")) return null;
  return relative(repoRoot, resolve(repoRoot, dirname(file), specifier)).split("/")[0] ?? null;
}

describe("boundaries", () => {
  it("shared/ imports nothing runtime-specific and nothing outside shared/", async () => {
    for (const file of await sourceFiles("shared")) {
      if (file.endsWith(".test.ts")) continue;
      for (const specifier of importsOf(await readFile(join(repoRoot, file), "utf8"))) {
        // Relative imports only (no package, no node:, cloudflare: or hono), within shared/
        // (shared/web/ may import the vocabulary one folder up).
        assert.ok(specifier.startsWith("."), `${file} imports ${specifier}`);
        assert.equal(topFolder(file, specifier), "shared", `${file} imports ${specifier}`);
      }
    }
  });

  for (const [from, forbidden] of [
    ["worker", "origin"],
    ["origin", "worker"],
  ] as const) {
    it(`${from}/ never imports ${forbidden}/`, async () => {
      for (const file of await sourceFiles(from)) {
        for (const specifier of importsOf(await readFile(join(repoRoot, file), "utf8"))) {
          assert.notEqual(topFolder(file, specifier), forbidden, `${file} imports ${specifier}`);
          if (from === "worker") {
            assert.ok(!specifier.startsWith("node:"), `${file} imports ${specifier}`);
            assert.ok(
              !/better-sqlite3|@hono\/node-server/.test(specifier),
              `${file} imports ${specifier}`,
            );
          }
          if (from === "origin")
            assert.ok(!specifier.startsWith("cloudflare:"), `${file} imports ${specifier}`);
        }
      }
    });
  }
});
