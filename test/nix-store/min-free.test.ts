// The Nix store policy on a busy origin: Nix's own min-free/max-free collect the store's garbage
// while it builds whenever free space runs low. The origin roots store paths only while it packs
// them, so that collection may take any path of a published image; a collected layer requested
// later is then built again by Nix and packed to the same digest. (When Nix's auto-GC deletes
// the derivations of the very build it starts, Nix 2.26 aborts that build; the origin reads that
// as a collected derivation and evaluates again: origin/nix/build-output.ts.)
//
// It needs a Nix store of its own (a collection here deletes every path nothing roots), so it
// runs in npm test's Debian 13 chroot (test/nix-current/run.sh), not against the host's store.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { mediaTypes } from "../../shared/media-types.ts";
import { testNixConfDir, testNixEnv } from "../support/nix-env.ts";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";
import { originPaths } from "../../shared/origin-protocol.ts";

const exec = promisify(execFile);
const gcSet = fileURLToPath(new URL("../fixtures/gc-pkgs", import.meta.url));
const secret = "min-free-test";
const ownStore = process.env.NIXERY_TEST_CHROOT !== undefined;

describe(
  "a Nix store bounded by min-free and max-free",
  { skip: ownStore ? false : "needs a Nix store of its own: runs in npm test's Nix 2.26 chroot" },
  () => {
    let confDir: string;
    let origin: OriginProcess;
    const nonce = randomBytes(6).toString("hex");

    before(async () => {
      confDir = await mkdtemp(join(tmpdir(), "nix-min-free-"));
      // Free space is always below min-free here, so every build collects all garbage.
      const conf = await readFile(join(testNixConfDir, "nix.conf"), "utf8");
      await writeFile(
        join(confDir, "nix.conf"),
        `${conf}\nmin-free = 1000000000000000\nmax-free = 2000000000000000\n`,
      );
      origin = await startOrigin({
        pkgsPath: gcSet,
        env: {
          NIX_TEST_NONCE: nonce,
          ORIGIN_SECRET: secret,
          NIXERY_GC_UNUSED_SECONDS: "0",
          NIXERY_GC_GRACE_SECONDS: "0",
          NIXERY_GC_INTERVAL_SECONDS: "0",
        },
      });
    });
    after(async () => {
      await origin?.stop();
      await rm(confDir, { recursive: true, force: true });
    });

    const valid = async (path: string) =>
      exec("nix-store", ["--check-validity", path], {
        env: { ...process.env, ...testNixEnv(), NIX_CONF_DIR: confDir },
      }).then(
        () => true,
        () => false,
      );

    it("lets Nix collect a published image's store paths, and builds them again on request", async () => {
      const response = await fetch(`${origin.url}/v2/fleeting/manifests/latest`, {
        headers: { Accept: mediaTypes.dockerManifest },
      });
      assert.equal(response.status, 200);
      const manifest = (await response.json()) as { layers: { digest: string }[] };
      const { stdout } = await exec("sh", ["-c", `ls -d /nix/store/*-fleeting-${nonce}`]);
      const path = stdout.trim();
      assert.ok(await valid(path));

      // A build under min-free (here another Nix client's, on the same store): Nix collects
      // everything unrooted, the published image's paths included.
      const trigger = `derivation { name = "min-free-trigger-${nonce}"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; }`;
      await exec("nix-build", ["--no-out-link", "-E", trigger], {
        env: { ...process.env, ...testNixEnv(), NIX_CONF_DIR: confDir },
      });
      assert.equal(await valid(path), false, "Nix collected the published image's path");

      // Storage collects the unused image; its layers are then made again from the store paths,
      // which Nix has to build again first.
      const collected = await fetch(`${origin.url}${originPaths.gc.path()}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${secret}` },
      });
      assert.equal(collected.status, 200);
      for (const { digest } of manifest.layers) {
        const blob = await fetch(`${origin.url}/v2/fleeting/blobs/${digest}`);
        const bytes = new Uint8Array(await blob.arrayBuffer());
        assert.equal(blob.status, 200, new TextDecoder().decode(bytes));
        assert.equal(`sha256:${createHash("sha256").update(bytes).digest("hex")}`, digest);
      }
      assert.ok(await valid(path), "built again");
    });
  },
);
