// The origin's container image: deploy/container/build.sh builds it without pulling a base image
// (a Debian 13 root file system from debootstrap), podman runs it, and skopeo pulls a fixture
// image from it. The offline fixture set and the test Nix settings are bound in, with the host's
// busybox that the fixture set's builders run; the image itself holds nothing of the tests.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { privatePodman, type Podman } from "../support/clients.ts";
import { freePort } from "../support/edge-stack.ts";
import { repoRoot } from "../support/origin-process.ts";

const run = promisify(execFile);
const image = "localhost/nixery-edge-origin:test";
const missing = ["podman", "skopeo", "debootstrap"].filter(
  (tool) => spawnSync(tool, ["--version"]).error !== undefined,
);
const skip =
  missing.length > 0
    ? `needs ${missing.join(", ")}`
    : process.getuid?.() !== 0
      ? "needs root (debootstrap)"
      : false;

describe("the container image", { skip }, () => {
  let podman: Podman;
  let work: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "nixery-container-"));
    podman = await privatePodman();
  });
  after(async () => {
    await podman?.run(["rm", "--force", "--time", "5", "nixery-origin-test"]);
    await podman?.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  it("builds without a registry, runs under podman and serves a pull", async () => {
    // The private podman's environment: the image goes into its storage, not the machine's.
    await run("bash", [join(repoRoot, "deploy/container/build.sh"), image], {
      env: { ...podman.env, NIXERY_IMAGE_ENGINE: "podman" },
      timeout: 1_200_000,
      maxBuffer: 64 << 20,
    });
    const inspect = await podman.run(["image", "inspect", image]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const config = (
      JSON.parse(inspect.stdout) as { Config: { Cmd: string[]; Env: string[] } }[]
    )[0]!.Config;
    assert.deepEqual(config.Cmd, ["/usr/bin/node", "/opt/nixery-edge/bin/nixery-edge-origin.js"]);
    assert.ok(config.Env.includes("NIXERY_DATA_DIR=/var/lib/nixery-edge"), config.Env.join());

    const port = await freePort();
    const fixtures = join(repoRoot, "test/fixtures");
    const started = await podman.run([
      "run",
      "--detach",
      "--name",
      "nixery-origin-test",
      "--network=host",
      "--ulimit",
      "nofile=1024:1024",
      "--ulimit",
      "nproc=4096:4096",
      "--volume",
      `${fixtures}:${fixtures}:ro`,
      "--volume",
      "/usr/bin/busybox:/usr/bin/busybox:ro",
      "--env",
      `NIXERY_PKGS_PATH=${fixtures}/pkgs`,
      "--env",
      `NIX_CONF_DIR=${fixtures}/nix`,
      "--env",
      "HOST=127.0.0.1",
      "--env",
      `PORT=${port}`,
      image,
    ]);
    assert.equal(started.code, 0, started.stderr);
    // The container's stdout (JSON lines) and stderr (a refusal's one line), as podman logs them.
    const logs = async () => {
      const { stdout, stderr } = await podman.run(["logs", "nixery-origin-test"]);
      return `${stdout}${stderr}`;
    };
    const deadline = Date.now() + 120_000;
    while (!(await logs()).includes('"origin listening"')) {
      const state = await podman.run([
        "inspect",
        "--format",
        "{{.State.Status}}",
        "nixery-origin-test",
      ]);
      assert.notEqual(state.stdout.trim(), "exited", await logs());
      assert.ok(Date.now() < deadline, `the origin did not listen in 120 s:\n${await logs()}`);
      await sleep(250);
    }

    const copied = await run(
      "skopeo",
      [
        "copy",
        "--src-tls-verify=false",
        `docker://127.0.0.1:${port}/hello:latest`,
        `oci:${join(work, "hello")}:latest`,
      ],
      { timeout: 300_000 },
    );
    assert.equal(copied.stderr.includes("rror"), false, copied.stderr);
    const index = JSON.parse(await readFile(join(work, "hello/index.json"), "utf8")) as {
      manifests: unknown[];
    };
    assert.equal(index.manifests.length, 1);
    const requests = (await logs())
      .split("\n")
      .filter((line) => line.includes('"event":"request"') && line.includes("/v2/hello/"));
    assert.ok(requests.length >= 3, `access log lines in the container's log:\n${await logs()}`);

    const stopped = await podman.run(["stop", "--time", "20", "nixery-origin-test"]);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(await logs(), /"origin stopping","signal":"SIGTERM"/);
  });
});
