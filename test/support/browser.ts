// Headless Chromium for page tests: Debian's /usr/bin/chromium driven by playwright-core (never a
// downloaded browser), a new empty profile per launch, nothing that talks to the network on its
// own. Console errors and page errors are collected for the test to assert on.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const chromiumPath = "/usr/bin/chromium";

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors, in order. */
  errors: string[];
  close(): Promise<void>;
}

/** A browser whose window is `width` CSS pixels wide (a phone: 390). */
export async function launchBrowser(
  width: number,
  options: { httpCredentials?: { username: string; password: string } } = {},
): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), "nixery-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width, height: width < 600 ? 844 : 900 },
    ...(options.httpCredentials ? { httpCredentials: options.httpCredentials } : {}),
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  return {
    context,
    page,
    errors,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
