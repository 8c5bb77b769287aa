// A private instance end to end through the local stack (`NIXERY_HTPASSWD=… npm start`): the
// edge in workerd and the origin both private with the same users and one token key, pulled as
// users do with docker (login, pull, run), podman (login, pull, run), skopeo (--creds) and
// containerd's ctr --user; anonymous pulls are refused at both.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  privatePodman,
  runInRootfs,
  skopeoCopy,
  startContainerd,
  umociUnpack,
} from "./support/clients.ts";
import { dockerAvailable, startDockerd } from "./support/dockerd.ts";
import { freePort, localStackEnv, startLocalStack, type LocalStack } from "./support/edge-stack.ts";
import { htpasswdFile } from "./support/htpasswd.ts";

const privateMessage = /private registry: log in first/;

describe("a private local stack with real clients", () => {
  let work: string;
  let stack: LocalStack;
  let originPort: number;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "nixery-private-e2e-"));
    originPort = await freePort();
    stack = await startLocalStack(
      await localStackEnv(join(work, "data"), {
        ORIGIN_PORT: String(originPort),
        NIXERY_HTPASSWD: await htpasswdFile({ alice: "secret" }),
        // Every client here comes from 127.0.0.1.
        NIXERY_LOGIN_MAX_FAILURES: "50",
      }),
    );
  });
  after(async () => {
    await stack?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("says it is private; the origin is too, and takes the edge's tokens (one key)", async () => {
    assert.ok(stack.output.some((line) => line.startsWith("stack | private: users from")));
    const origin = `http://127.0.0.1:${originPort}`;
    const anonymous = await fetch(`${origin}/v2/`);
    assert.equal(anonymous.status, 401);
    await anonymous.arrayBuffer();
    const granted = await fetch(`http://${stack.edgeHost}/auth/token?service=nixery`, {
      headers: { Authorization: `Basic ${btoa("alice:secret")}` },
    });
    const { token } = (await granted.json()) as { token: string };
    const withToken = await fetch(`${origin}/v2/`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(withToken.status, 200);
    await withToken.arrayBuffer();
  });

  it("skopeo: refused without credentials, pulls with --creds", async () => {
    const anonymous = await skopeoCopy(stack.edgeHost, "hello:latest", join(work, "anonymous"));
    assert.notEqual(anonymous.code, 0);
    assert.match(anonymous.stderr, privateMessage);
    const layout = join(work, "hello");
    const copied = await skopeoCopy(stack.edgeHost, "hello:latest", layout, [
      "--src-creds",
      "alice:secret",
    ]);
    assert.equal(copied.code, 0, copied.stderr);
    const ran = await runInRootfs(await umociUnpack(layout, join(work, "bundle")), ["/bin/hello"]);
    assert.equal(ran.stdout.trim(), "hello: greetings from libgreet");
  });

  it("docker: login, pull and run through the edge", async () => {
    assert.ok(
      await dockerAvailable(),
      "needs root and dockerd (stack/prerequisites.sh installs docker.io)",
    );
    const dockerd = await startDockerd([stack.edgeHost]);
    try {
      const refused = await dockerd.docker("pull", `${stack.edgeHost}/shell/hello:latest`);
      assert.match(refused.stderr, privateMessage);
      const login = await dockerd.dockerWithInput(
        "secret\n",
        "login",
        "-u",
        "alice",
        "--password-stdin",
        stack.edgeHost,
      );
      assert.equal(login.code, 0, login.stderr);
      const pull = await dockerd.docker("pull", `${stack.edgeHost}/shell/hello:latest`);
      assert.equal(pull.code, 0, pull.stderr);
      const ran = await dockerd.docker(
        ...["run", "--rm", "--network", "none", `${stack.edgeHost}/shell/hello:latest`],
        ...["bash", "-c", "hello && id -u"],
      );
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(ran.stdout, "hello: greetings from libgreet\n0\n");
    } finally {
      await dockerd.stop();
    }
  });

  it("podman: login, pull and run through the edge", async () => {
    const podman = await privatePodman();
    try {
      const login = await podman.run([
        "login",
        "--tls-verify=false",
        "-u",
        "alice",
        "-p",
        "secret",
        stack.edgeHost,
      ]);
      assert.equal(login.code, 0, login.stderr);
      const ran = await podman.run([
        ...["run", "--rm", "--tls-verify=false", "--network=none"],
        ...["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"],
        `${stack.edgeHost}/hello:latest`,
        "hello",
      ]);
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(ran.stdout.trim(), "hello: greetings from libgreet");
    } finally {
      await podman.cleanup();
    }
  });

  it("containerd: ctr --user pulls and runs through the edge", async () => {
    const containerd = await startContainerd();
    try {
      const reference = `${stack.edgeHost}/hello:latest`;
      assert.notEqual((await containerd.pull(reference)).code, 0);
      const pulled = await containerd.pull(reference, "alice:secret");
      assert.equal(pulled.code, 0, pulled.stderr);
      const ran = await containerd.run(reference, ["hello"]);
      assert.equal(ran.stdout.trim(), "hello: greetings from libgreet");
    } finally {
      await containerd.stop();
    }
  });
});
