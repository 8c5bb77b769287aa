// The registry's pages in headless Chromium, at a desktop (1280 px) and a phone (390 px) width,
// against the local stack (real workerd edge, real origin, real Nix on the offline fixture set
// served from a git repository, so there is a revision): the start page names the source and
// its revision and its skopeo command works as pasted; the search finds a fixture package as
// you type; a built image's page lists packages, layers and sizes; the page of an image nobody
// built shows its build phase by phase and then the image, without a reload. Markup in a
// package's description and build log stays text. No page logs a console error.
// SCREENSHOTS_DIR=docs/screenshots also writes the README's screenshots.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { launchBrowser } from "../support/browser.ts";
import {
  forbidDialogs,
  imageConfig,
  serveIndexIfMissing,
  shoot,
  waitForRunning,
} from "../support/web-pages.ts";
import { localStackEnv, startLocalStack, type LocalStack } from "../support/edge-stack.ts";
import {
  hostileLogLine,
  makeWebPackageSet,
  type WebPackageSet,
} from "../support/web-package-set.ts";

const exec = promisify(execFile);
const widths = [1280, 390] as const;

describe("pages in headless Chromium", { timeout: 600_000 }, () => {
  let set: WebPackageSet;
  let stack: LocalStack;
  let base: string;
  let data: string;

  before(async () => {
    set = await makeWebPackageSet();
    data = await mkdtemp(join(tmpdir(), "nixery-web-"));
    stack = await startLocalStack(await localStackEnv(data, { NIXERY_PKGS_REPO: set.repo }));
    base = `http://${stack.edgeHost}`;
  });
  after(async () => {
    await stack?.stop();
    await rm(data, { recursive: true, force: true });
    await rm(set.repo, { recursive: true, force: true });
  });

  it("start page: names the source and revision; its skopeo command works as pasted", async () => {
    for (const width of widths) {
      const browser = await launchBrowser(width);
      try {
        const { page, errors } = browser;
        await serveIndexIfMissing(page, base);
        await page.goto(`${base}/`);
        assert.match(await page.locator("#source").innerText(), /git repository/);
        assert.equal(await page.locator("#revision").innerText(), set.revision);
        const html = await page.content();
        assert.doesNotMatch(html, /\/tmp\/|nixery-web-pkgs|\/work\//, "no server path on the page");
        const fits = await page.evaluate(
          "document.documentElement.scrollWidth <= window.innerWidth",
        );
        assert.ok(fits, `nothing wider than the ${width} px window`);
        if (width === 1280) {
          const command = await page
            .locator("button[data-copy^='skopeo copy']")
            .first()
            .getAttribute("data-copy");
          assert.ok(command?.includes("--src-tls-verify=false"), command ?? "");
          const cwd = await mkdtemp(join(tmpdir(), "nixery-paste-"));
          try {
            const [program, ...args] = command!.split(" ");
            await exec(program!, args, { cwd, timeout: 300_000 });
            const layout = await stat(join(cwd, "hello", "index.json"));
            assert.ok(layout.isFile());
            // What `docker history` and `docker inspect` show: each layer's packages, OCI labels.
            const config = await imageConfig(join(cwd, "hello"));
            assert.ok(config.history.some((entry) => /hello-2\.12/.test(entry.created_by)));
            assert.ok(config.history.every((entry) => entry.created_by !== "nixery-edge"));
            assert.equal(config.config.Labels["org.opencontainers.image.title"], "hello");
            assert.equal(config.config.Labels["org.opencontainers.image.revision"], set.revision);
            assert.match(
              config.config.Labels["org.opencontainers.image.description"]!,
              /hello-2\.12/,
            );
          } finally {
            await rm(cwd, { recursive: true, force: true });
          }
        }
        await shoot(page, `start-${width}`);
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
      }
    }
  });

  it("search: finds a fixture package as you type, its description as text", async () => {
    for (const width of widths) {
      const browser = await launchBrowser(width);
      try {
        const { page, errors } = browser;
        const dialogs: string[] = [];
        forbidDialogs(page, dialogs);
        await serveIndexIfMissing(page, base);
        await page.goto(`${base}/`);
        await page.locator("#q").pressSequentially("web-de", { delay: 60 });
        const result = page.locator("#results li", { hasText: "web-demo" }).first();
        await result.waitFor({ timeout: 30_000 });
        assert.equal(await result.locator("a.attr").getAttribute("href"), "/web-demo");
        assert.match(await result.innerText(), /2\.5/);
        assert.ok((await result.innerText()).includes("<script>alert('description')</script>"));
        assert.equal(await page.locator("#results script, #results img, #results b").count(), 0);
        assert.ok(
          (await result.locator("button[data-copy]").getAttribute("data-copy"))?.startsWith(
            `docker pull ${stack.edgeHost}/web-demo`,
          ),
        );
        await shoot(page, `search-${width}`);
        assert.deepEqual(dialogs, []);
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
      }
    }
  });

  it("start page data: the pasted pull counts for the most pulled images", async () => {
    const info = (await (await fetch(`${base}/api/instance`)).json()) as {
      recent: { name: string }[];
      popular: { name: string; pulls: number }[];
      source: { revision: string };
    };
    assert.equal(info.source.revision, set.revision);
    assert.ok(info.recent.some((image) => image.name === "hello"));
    assert.ok(info.popular.some((image) => image.name === "hello" && image.pulls >= 1));
  });

  it("image page: a built image's packages, layers and sizes", async () => {
    for (const width of widths) {
      const browser = await launchBrowser(width);
      try {
        const { page, errors } = browser;
        await serveIndexIfMissing(page, base);
        await page.goto(`${base}/hello`);
        const packages = await page.locator("table.packages").innerText();
        assert.match(packages, /hello\s+2\.12/);
        const rows = page.locator("table.layers tbody tr");
        assert.ok((await rows.count()) >= 2);
        assert.match(await page.locator("table.layers").innerText(), /\d+(\.\d)? (B|kB|MB)/);
        assert.match(await page.locator("main").innerText(), /Download: \d/);
        assert.equal(await page.locator("#revision").innerText(), set.revision);
        const fits = await page.evaluate(
          "document.documentElement.scrollWidth <= window.innerWidth",
        );
        assert.ok(fits, `nothing wider than the ${width} px window`);
        await shoot(page, `image-${width}`);
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
      }
    }
  });

  it("an unbuilt image's page shows its build phase by phase, then the image without a reload", async () => {
    for (const width of widths) {
      const name = width === 1280 ? "web-demo" : "web-demo-phone";
      const browser = await launchBrowser(width);
      try {
        const { page, errors } = browser;
        const dialogs: string[] = [];
        forbidDialogs(page, dialogs);
        await serveIndexIfMissing(page, base);
        let navigations = 0;
        page.on("framenavigated", (frame) => {
          if (frame === page.mainFrame()) navigations++;
        });
        // At the phone width a registry client starts the build and the page joins it: a person
        // watches the very build a pull waits for.
        const pull =
          width === 390
            ? exec(
                "skopeo",
                ["inspect", "--tls-verify=false", `docker://${stack.edgeHost}/${name}:latest`],
                { timeout: 300_000 },
              )
            : null;
        if (pull) await waitForRunning(base, name);
        const opened = Date.now();
        await page.goto(`${base}/${name}`);
        // Every phase the page shows, as it shows it.
        await page.evaluate(`(() => {
          window.phases = [];
          const note = () => {
            const phase = document.getElementById("phase")?.dataset.phase;
            if (phase && window.phases.at(-1)?.phase !== phase) window.phases.push({ phase, at: Date.now() });
          };
          note();
          new MutationObserver(note).observe(document.body, { subtree: true, attributes: true, childList: true });
        })()`);
        await page
          .locator("#log")
          .filter({ hasText: "compiling part" })
          .waitFor({ timeout: 60_000 });
        await shoot(page, `build-${width}`);
        // The build's output holds markup and a script: the page shows it as text.
        await page.locator("#log").filter({ hasText: hostileLogLine }).waitFor({ timeout: 60_000 });
        assert.equal(await page.locator("#log *").count(), 0, "no element made of the log");
        await page.locator("table.layers").waitFor({ timeout: 120_000 });
        const phases = (await page.evaluate("window.phases")) as { phase: string; at: number }[];
        const distinct = new Set(phases.map((entry) => entry.phase));
        assert.ok(distinct.size >= 3, `phases shown: ${[...distinct].join(", ")}`);
        assert.ok(distinct.has("realising"), [...distinct].join(", "));
        const first = phases.find((entry) => entry.phase !== phases[0]!.phase);
        process.stdout.write(
          `# ${width} px: phases ${phases.map((e) => e.phase).join(" → ")}; first progress event ${first ? first.at - opened : "?"} ms after opening\n`,
        );
        assert.equal(navigations, 1, "the page became the image page without a reload");
        assert.match(
          await page.locator("table.packages").innerText(),
          new RegExp(`${name}\\s+2\\.5`),
        );
        const finished = (await (
          await fetch(`${base}/api/builds/${name}:latest?after=0`)
        ).json()) as { state: string; progress: { phase: string } };
        assert.equal(finished.state, "done");
        assert.equal(finished.progress.phase, "done");
        const markup = await (
          await fetch(`${base}/${name}`, { headers: { accept: "text/html" } })
        ).text();
        assert.doesNotMatch(markup, /<script>alert/);
        if (pull)
          assert.match((await pull).stdout, new RegExp(`"Name": "${stack.edgeHost}/${name}"`));
        assert.deepEqual(dialogs, []);
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
      }
    }
  });
});
