// A package set unlike nixpkgs (test/fixtures/private-pkgs): images build without the implicit
// cacert and iana-etc when the set lacks them, a quoted digit-first name is found, and odd outputs
// (a single file, a symlink to another package, deep paths with hard links) pull and run.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mediaTypes } from "../../shared/media-types.ts";
import { runInRootfs, skopeoCopy, umociUnpack } from "../support/clients.ts";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";

const privateSet = fileURLToPath(new URL("../fixtures/private-pkgs", import.meta.url));

describe("a package set without cacert and iana-etc", () => {
  let origin: OriginProcess;
  let work: string;
  let host: string;

  before(async () => {
    origin = await startOrigin({ pkgsPath: privateSet });
    host = `127.0.0.1:${origin.port}`;
    work = await mkdtemp(join(tmpdir(), "nixery-private-"));
  });
  after(async () => {
    await origin?.stop();
    await rm(work, { recursive: true, force: true });
  });

  async function pull(name: string): Promise<{ rootfs: string; config: Record<string, any> }> {
    const layout = join(work, name.replaceAll("/", "_"));
    const copy = await skopeoCopy(host, `${name}:latest`, layout);
    assert.equal(copy.code, 0, copy.stderr);
    const bundle = join(work, `${name.replaceAll("/", "_")}-bundle`);
    const rootfs = await umociUnpack(layout, bundle);
    return { rootfs, config: JSON.parse(await readFile(join(bundle, "config.json"), "utf8")) };
  }

  it("builds images without them, and finds a digit-first name spelled as a quoted attribute", async () => {
    const { rootfs, config } = await pull("7zip");
    const run = await runInRootfs(rootfs, ["/bin/7zip"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "7zip (private fixture)\n");
    assert.ok(!config.process.env.some((v: string) => v.startsWith("SSL_CERT_FILE=")));

    const response = await fetch(`${origin.url}/v2/7zip/manifests/latest`, {
      headers: { Accept: mediaTypes.ociManifest },
    });
    const manifest = (await response.json()) as { config: { digest: string } };
    const imageConfig = (await (
      await fetch(`${origin.url}/v2/7zip/blobs/${manifest.config.digest}`)
    ).json()) as { config: { Labels: Record<string, string> } };
    assert.equal(imageConfig.config.Labels["dev.nixery.packages"], "_7zip");
  });

  it("still reports them missing when the image names them", async () => {
    for (const [name, missing] of [
      ["cacert", ["cacert"]],
      ["7zip/iana-etc/nope", ["iana-etc", "nope"]],
    ] as const) {
      const response = await fetch(`${origin.url}/v2/${name}/manifests/latest`);
      assert.equal(response.status, 404);
      const body = (await response.json()) as {
        errors: { code: string; detail: { missing: string[] } }[];
      };
      assert.equal(body.errors[0]!.code, "MANIFEST_UNKNOWN");
      assert.deepEqual(body.errors[0]!.detail.missing, missing);
    }
  });

  it("says why a package that exists does not evaluate, together with the missing ones", async () => {
    const response = await fetch(`${origin.url}/v2/nope/tools/unfreetool/manifests/latest`);
    assert.equal(response.status, 404);
    const body = (await response.json()) as {
      errors: { code: string; message: string; detail: Record<string, unknown> }[];
    };
    const error = body.errors[0]!;
    assert.equal(error.code, "MANIFEST_UNKNOWN");
    // `tools` is a set, not a package: missing like `nope`.
    assert.deepEqual(error.detail.missing, ["nope", "tools"]);
    // A close name is suggested once the package index (built after the first miss) has one.
    assert.match(
      error.message,
      /^Could not find Nix packages: nope( \(did you mean [^)]+\))?, tools\nNix package unfreetool exists but does not evaluate: .*unfree license/s,
    );
    assert.deepEqual(
      (error.detail.unevaluable as { name: string }[]).map((pkg) => pkg.name),
      ["unfreetool"],
    );
  });

  it("pulls deep paths with hard links from a camelCase nested set, and a symlinked output", async () => {
    for (const name of ["tools.extra.deeptool", "toolalias"]) {
      const { rootfs } = await pull(name);
      const run = await runInRootfs(rootfs, ["/bin/deep"]);
      assert.equal(run.code, 0, `${name}: ${run.stderr}`);
      assert.equal(run.stdout, "data\n");
    }
  });

  it("pulls a package whose output is a single file", async () => {
    const { rootfs } = await pull("note");
    const store = join(rootfs, "nix/store");
    const file = (await readdir(store)).find((entry) => entry.endsWith("-note.txt"));
    assert.ok(file, "the store file is in the image");
    assert.equal(await readFile(join(store, file), "utf8"), "a single file\n");
  });
});
