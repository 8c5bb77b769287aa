// Helpers of the page tests (test/web/pages.test.ts): the package API's stand-in until issue 17's
// index is merged, an OCI layout's image config, screenshots, and waits.

import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { hostileDescription } from "./web-package-set.ts";

const screenshots = process.env.SCREENSHOTS_DIR ?? null;

/**
 * Until the package index (issue 17) is merged, /api/packages does not exist; the browser is then
 * answered, in the index's documented shape, from this fixture's real packages.
 */
export async function serveIndexIfMissing(page: Page, base: string): Promise<boolean> {
  const probe = await fetch(`${base}/api/packages?q=hello`, {
    headers: { accept: "application/json" },
  });
  await probe.arrayBuffer();
  if (probe.status !== 404) {
    // The real index: wait until it has this revision's packages (it is built in the background).
    const deadline = Date.now() + 300_000;
    for (;;) {
      const answer = (await (await fetch(`${base}/api/packages?q=web-demo`)).json()) as {
        index: string;
      };
      if (answer.index !== "building") return false;
      if (Date.now() > deadline) throw new Error("the package index was not built in 300 s");
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  await page.route(/\/api\/packages\?/, async (route) => {
    const q = new URL(route.request().url()).searchParams.get("q") ?? "";
    const all = [
      { attr: "hello", version: "2.12", description: "A program that greets (fixture)" },
      { attr: "web-demo", version: "2.5", description: hostileDescription },
      { attr: "web-demo-phone", version: "2.5", description: hostileDescription },
    ];
    const words = q.toLowerCase().split(/\s+/).filter(Boolean);
    const results = all
      .filter((pkg) => words.length > 0 && words.every((w) => pkg.attr.includes(w)))
      .map((pkg) => ({
        ...pkg,
        image: pkg.attr,
        name: pkg.attr,
        license: "",
        unfree: false,
        broken: false,
        insecure: false,
      }));
    await route.fulfill({ json: { revision: "", index: "ready", results } });
  });
  return true;
}

/** The image config of the one image in an OCI layout directory. */
export async function imageConfig(layout: string): Promise<{
  history: { created_by: string; comment?: string }[];
  config: { Labels: Record<string, string> };
}> {
  const blob = async (digest: string) =>
    JSON.parse(await readFile(join(layout, "blobs", "sha256", digest.slice(7)), "utf8"));
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8"));
  const manifest = await blob(index.manifests[0].digest);
  return blob(manifest.config.digest);
}

export async function shoot(page: Page, name: string): Promise<void> {
  if (!screenshots) return;
  const path = join(screenshots, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  assert.ok((await stat(path)).size < 150_000, `${path} is under 150 KB`);
}

/** Fails the test if the page ran a script of the package set's (an alert). */
export function forbidDialogs(page: Page, seen: string[]): void {
  page.on("dialog", (dialog) => {
    seen.push(dialog.message());
    void dialog.dismiss();
  });
}

/** Waits until the origin runs a build of `name` (started by someone else). */
export async function waitForRunning(base: string, name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const state = (await (await fetch(`${base}/api/builds/${name}:latest?after=0`)).json()) as {
      state: string;
    };
    if (state.state === "running") return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no build of ${name} started`);
}
