// podman pulls an image from the origin and runs a program from it with runc, as a user would.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { privatePodman, type Podman } from "../support/clients.ts";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";

describe("podman", () => {
  let origin: OriginProcess;
  let podman: Podman;
  before(async () => {
    origin = await startOrigin();
    podman = await privatePodman();
  });
  after(async () => {
    await podman?.cleanup();
    await origin?.stop();
  });

  it("pulls shell/hello and runs bash and hello in a container", async () => {
    const image = `127.0.0.1:${origin.port}/shell/hello:latest`;
    const pull = await podman.run(["pull", "--tls-verify=false", image]);
    assert.equal(pull.code, 0, pull.stderr);
    const run = await podman.run([
      "run",
      "--rm",
      "--network=none",
      "--ulimit",
      "nofile=1024:1024",
      "--ulimit",
      "nproc=4096:4096",
      image,
      "bash",
      "-c",
      "hello && id -u",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "hello: greetings from libgreet\n0\n");
  });
});
