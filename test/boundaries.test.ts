// The architecture's boundaries, checked by a tool rather than by memory: shared/ imports only
// shared/ and a short named list of runtime-neutral packages (no node:*, cloudflare:*, hono or
// sqlite), and worker/ and origin/ never import each other.

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

/**
 * The packages shared/ may import: pure JavaScript on web-standard APIs alone, so the same code
 * runs on Node and in workerd (jose signs tokens with Web Crypto; bcryptjs checks passwords).
 */
const sharedPackages: readonly string[] = ["jose", "bcryptjs"];

/** Why `specifier` may not be imported by a shared/ file, or null when it may. */
function sharedImportRefused(file: string, specifier: string): string | null {
  if (specifier.startsWith(".")) {
    return topFolder(file, specifier) === "shared" ? null : "a file outside shared/";
  }
  return sharedPackages.includes(specifier) ? null : "a package not on the shared/ allow-list";
}

describe("boundaries", () => {
  it("shared/ imports nothing runtime-specific: only shared/ and its named packages", async () => {
    const packagesUsed = new Set<string>();
    for (const file of await sourceFiles("shared")) {
      if (file.endsWith(".test.ts")) continue;
      for (const specifier of importsOf(await readFile(join(repoRoot, file), "utf8"))) {
        const refused = sharedImportRefused(file, specifier);
        assert.equal(refused, null, `${file} imports ${specifier}: ${refused}`);
        if (!specifier.startsWith(".")) packagesUsed.add(specifier);
      }
    }
    // The check reads real imports: the allowed packages are in use, so it would see others.
    assert.deepEqual([...packagesUsed].sort(), [...sharedPackages].sort());
  });

  it("the shared/ allow-list refuses everything else", () => {
    const file = "shared/example.ts";
    for (const specifier of ["node:crypto", "cloudflare:workers", "hono", "better-sqlite3"]) {
      assert.notEqual(sharedImportRefused(file, specifier), null, specifier);
    }
    for (const specifier of [
      "jose/jwt/sign",
      "bcryptjs-fork",
      "../origin/app.ts",
      "../worker/app.ts",
    ]) {
      assert.notEqual(sharedImportRefused(file, specifier), null, specifier);
    }
    assert.equal(sharedImportRefused(file, "./errors.ts"), null);
    assert.equal(sharedImportRefused(file, "jose"), null);
  });

  for (const [from, forbidden] of [
    ["worker", "origin"],
    ["origin", "worker"],
  ] as const) {
    it(`${from}/ never imports ${forbidden}/`, async () => {
      for (const file of await sourceFiles(from)) {
        for (const specifier of importsOf(await readFile(join(repoRoot, file), "utf8"))) {
          assert.notEqual(topFolder(file, specifier), forbidden, `${file} imports ${specifier}`);
          // worker/*.test.ts run in Node and start workerd; the code they test runs in workerd.
          if (from === "worker" && !file.endsWith(".test.ts")) {
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

  it("the test Workers (test/workerd/) import what runs in workerd: no node:*, no origin/", async () => {
    const files = await sourceFiles("test/workerd");
    assert.ok(files.length > 0);
    for (const file of files) {
      for (const specifier of importsOf(await readFile(join(repoRoot, file), "utf8"))) {
        assert.ok(!specifier.startsWith("node:"), `${file} imports ${specifier}`);
        assert.notEqual(topFolder(file, specifier), "origin", `${file} imports ${specifier}`);
      }
    }
  });
});
