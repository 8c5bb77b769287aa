// Secrets never reach package-set code: the origin runs Nix and git with an allowlisted
// environment, so `builtins.getEnv` in a package set cannot read storage credentials, the
// origin secret or the token signing key and write them into a store path (world-readable) or
// an image.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { skopeoCopy, umociUnpack } from "../support/clients.ts";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";

const probeSet = fileURLToPath(new URL("../fixtures/envprobe", import.meta.url));

describe("the environment package-set code sees", () => {
  let origin: OriginProcess;
  let work: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "nixery-secrets-"));
    origin = await startOrigin({
      pkgsPath: probeSet,
      env: {
        AWS_SECRET_ACCESS_KEY: "canary-aws-secret",
        AWS_ACCESS_KEY_ID: "canary-aws-key",
        ORIGIN_SECRET: "canary-origin-secret",
        NIXERY_TOKEN_KEY: "canary-token-key-0123456789abcdef0123456789",
        NIXERY_TEST_CANARY: "canary-other",
      },
    });
  });
  after(async () => {
    await origin?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("holds no credential or secret of the origin's, but does hold Nix's own settings", async () => {
    const layout = join(work, "envprobe");
    const copy = await skopeoCopy(`127.0.0.1:${origin.port}`, "envprobe:latest", layout);
    assert.equal(copy.code, 0, copy.stderr);
    const rootfs = await umociUnpack(layout, join(work, "bundle"));
    const store = join(rootfs, "nix", "store");
    const probe = (await readdir(store)).find((name) => name.endsWith("-envprobe-1.0"));
    assert.ok(probe, "the probe is in the image");
    const seen = await readFile(join(store, probe, "share", "env"), "utf8");
    assert.equal(
      seen,
      [
        "AWS_SECRET_ACCESS_KEY=",
        "AWS_ACCESS_KEY_ID=",
        "ORIGIN_SECRET=",
        "NIXERY_TOKEN_KEY=",
        "NIXERY_TEST_CANARY=",
        `NIX_CONF_DIR=${fileURLToPath(new URL("../fixtures/nix", import.meta.url))}`,
        "",
      ].join("\n"),
    );
  });
});
