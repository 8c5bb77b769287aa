// What a user reads when an image cannot be built from the nixpkgs-shaped fixture set
// (test/fixtures/index-pkgs), from a real origin with real Nix: close names for a typo, the
// lowercase form of an uppercase name, a name in a sub-set that does not evaluate reported on its
// own with the other names still resolved, every refusal of a package at once, and a failed
// dependency named as the dependency of the package the user asked for; and, once the index the
// origin starts at start-up is ready, an image page that describes its packages by itself.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { exitedEarly, startOrigin, type OriginProcess } from "../support/origin-process.ts";
import { waitFor } from "../support/wait-for.ts";

const pkgsPath = fileURLToPath(new URL("../fixtures/index-pkgs", import.meta.url));

interface ErrorEntry {
  code: string;
  message: string;
  detail?: Record<string, unknown>;
}

async function errorOf(response: Response, status: number, code: string): Promise<ErrorEntry> {
  assert.equal(response.status, status, `status for ${response.url}`);
  const body = (await response.json()) as { errors: ErrorEntry[] };
  assert.equal(body.errors[0]?.code, code);
  return body.errors[0]!;
}

describe("messages that name what the user asked for (nixpkgs-shaped set)", () => {
  let origin: OriginProcess;
  const pull = (name: string) => fetch(`${origin.url}/v2/${name}/manifests/latest`);

  before(async () => {
    origin = await startOrigin({ pkgsPath });
    // The origin starts indexing its package set by itself: no /api/packages request is made here,
    // so the first typo below is the first thing that asks for the index.
    await waitFor(
      "the package index built at start",
      () => origin.logs.some((line) => line.event === "package index ready"),
      { timeoutMs: 180_000, failIf: () => exitedEarly(origin) },
    );
  });
  after(async () => {
    await origin?.stop();
  });

  it("suggests the closest names for a fresh origin's first typo", async () => {
    const entry = await errorOf(await pull("htpo"), 404, "MANIFEST_UNKNOWN");
    assert.equal(entry.message, "Could not find Nix packages: htpo (did you mean htop?)");
    assert.deepEqual(entry.detail?.suggestions, { htpo: ["htop"] });
  });

  it("gives the lowercase form of an uppercase name", async () => {
    const entry = await errorOf(await pull("generated.gen-Alpha-7"), 400, "NAME_INVALID");
    assert.match(entry.message, /registry names are lowercase; use "generated\.gen-alpha-7"/);
  });

  // Nix 2.8 says "getting status of '…': No such file or directory", 2.26 "path '…' does not exist".
  it("reports a name whose sub-set does not evaluate on its own, and still resolves the others", async () => {
    const entry = await errorOf(await pull("haskellpackages.pandoc/git"), 404, "MANIFEST_UNKNOWN");
    assert.match(
      entry.message,
      /^Nix package haskellpackages\.pandoc cannot be looked up: its package set haskellpackages does not evaluate in this package set \((getting status of '…\/missing-hackage-packages\.nix': No such file or directory|path '…\/missing-hackage-packages\.nix' does not exist)\)\nFound: git \(/,
    );
    assert.doesNotMatch(entry.message, /The package set does not evaluate|\/work\//);
  });

  it("says every check that refuses a package at once", async () => {
    const entry = await errorOf(await pull("twice-refused"), 404, "MANIFEST_UNKNOWN");
    assert.match(
      entry.message,
      /^Nix package twice-refused \(unfree-tool-1\.0\) has an unfree license and is marked as broken in this package set, and this origin builds none of these\. Its operator can allow it with NIXERY_ALLOW_UNFREE=true and NIXERY_ALLOW_BROKEN=true together\.$/,
    );
  });

  it("blames a failed dependency on the package that was asked for", async () => {
    const entry = await errorOf(await pull("needs-download/htop"), 404, "MANIFEST_UNKNOWN");
    assert.match(
      entry.message,
      /^Could not build needs-download: needs-download could not be built because its dependency fromsource-1\.0\.tar\.gz could not be downloaded \(unable to download 'http:\/\/127\.0\.0\.1:1\/fromsource-1\.0\.tar\.gz': /,
    );
    assert.doesNotMatch(entry.message, /retrying|iana-etc|cacert|\/nix\/store\//);
    assert.deepEqual(entry.detail?.packages, ["needs-download"]);
  });

  it("describes an image's packages from the index on its page, without the page's search", async () => {
    const pulled = await pull("htop");
    assert.equal(pulled.status, 200, await pulled.clone().text());
    await pulled.arrayBuffer();
    const details = (await (await fetch(`${origin.url}/api/images/htop:latest`)).json()) as {
      packages: { attr: string; description?: string }[];
    };
    assert.equal(
      details.packages.find((pkg) => pkg.attr === "htop")?.description,
      "An interactive process viewer",
    );
    const page = await fetch(`${origin.url}/htop`, { headers: { Accept: "text/html" } });
    assert.match(await page.text(), /<td class="desc">An interactive process viewer<\/td>/);
  });
});
