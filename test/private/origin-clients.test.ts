// A private origin (NIXERY_HTPASSWD) as users meet it with real clients: skopeo (--creds and
// login), podman (login, pull, run), docker (login keeps an identity token; pull; run) with a
// private dockerd, and containerd's ctr --user. Anonymous requests and wrong passwords are
// refused with a message that says what to do, and nothing an authorised pull fetched is served
// to an anonymous request. Failed logins are limited.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  command,
  privatePodman,
  runInRootfs,
  startContainerd,
  umociUnpack,
  type CommandResult,
} from "../support/clients.ts";
import { dockerAvailable, startDockerd } from "../support/dockerd.ts";
import { htpasswdFile } from "../support/htpasswd.ts";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";

const privateMessage = /private registry: log in first/;

function skopeo(args: string[]): Promise<CommandResult> {
  return command("skopeo", ["--debug=false", ...args]);
}

async function copy(registry: string, image: string, layout: string, ...auth: string[]) {
  return skopeo([
    "copy",
    "--src-tls-verify=false",
    "--retry-times=0",
    ...auth,
    `docker://${registry}/${image}:latest`,
    `oci:${layout}:latest`,
  ]);
}

/** Raw HTTP, so the Host header can be anything a client might send. */
function rawRequest(port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () =>
      socket.end(`GET /v2/ HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    );
    let text = "";
    socket.on("data", (chunk) => (text += chunk.toString()));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

describe("a private origin with real clients", () => {
  let origin: OriginProcess;
  let registry: string;
  let work: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "nixery-private-clients-"));
    origin = await startOrigin({
      env: {
        NIXERY_HTPASSWD: await htpasswdFile({ alice: "secret", bob: "hunter2" }),
        // Every client here comes from 127.0.0.1; the limit has its own test below.
        NIXERY_LOGIN_MAX_FAILURES: "100",
      },
    });
    registry = `127.0.0.1:${origin.port}`;
  });
  after(async () => {
    await origin?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("skopeo: anonymous and a wrong password are refused with the reason; --creds pulls", async () => {
    const anonymous = await copy(registry, "hello", join(work, "anonymous"));
    assert.notEqual(anonymous.code, 0);
    assert.match(anonymous.stderr, privateMessage);
    const wrong = await copy(registry, "hello", join(work, "wrong"), "--src-creds", "alice:nope");
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /incorrect username or password/);

    const layout = join(work, "hello");
    const right = await copy(registry, "hello", layout, "--src-creds", "alice:secret");
    assert.equal(right.code, 0, right.stderr);
    const ran = await runInRootfs(await umociUnpack(layout, join(work, "bundle")), ["/bin/hello"]);
    assert.equal(ran.stdout.trim(), "hello: greetings from libgreet");

    // Nothing the authorised pull fetched is served without a token: tag, digest or blob.
    const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8"));
    const manifestDigest: string = index.manifests[0].digest;
    const blobs = await readdir(join(layout, "blobs/sha256"));
    for (const path of [
      "/v2/hello/manifests/latest",
      `/v2/hello/manifests/${manifestDigest}`,
      ...blobs.map((hex) => `/v2/hello/blobs/sha256:${hex}`),
    ]) {
      const response = await fetch(`${origin.url}${path}`);
      assert.equal(response.status, 401, path);
      assert.equal(response.headers.get("content-type"), "application/json", path);
      await response.arrayBuffer();
    }
  });

  it("skopeo login keeps the credentials in its auth file and later commands use them", async () => {
    const authfile = join(work, "skopeo-auth.json");
    const login = (password: string) =>
      skopeo([
        "login",
        "--tls-verify=false",
        "--authfile",
        authfile,
        "-u",
        "bob",
        "-p",
        password,
        registry,
      ]);
    const refused = await login("wrong");
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /invalid username\/password/);
    assert.equal((await login("hunter2")).code, 0);
    const inspect = await skopeo([
      "inspect",
      "--tls-verify=false",
      "--authfile",
      authfile,
      `docker://${registry}/shell/hello:latest`,
    ]);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.deepEqual(JSON.parse(inspect.stdout).RepoTags, ["latest"]);
  });

  it("podman: login, pull and run; after logout the pull is refused", async () => {
    const podman = await privatePodman();
    try {
      const login = await podman.run([
        "login",
        "--tls-verify=false",
        "-u",
        "alice",
        "-p",
        "secret",
        registry,
      ]);
      assert.equal(login.code, 0, login.stderr);
      const pull = await podman.run(["pull", "--tls-verify=false", `${registry}/hello:latest`]);
      assert.equal(pull.code, 0, pull.stderr);
      const ran = await podman.run([
        ...["run", "--rm", "--network=none"],
        ...["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"],
        `${registry}/hello:latest`,
        "hello",
      ]);
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(ran.stdout.trim(), "hello: greetings from libgreet");
      assert.equal((await podman.run(["logout", registry])).code, 0);
      const refused = await podman.run([
        "pull",
        "--tls-verify=false",
        `${registry}/goodbye:latest`,
      ]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, privateMessage);
    } finally {
      await podman.cleanup();
    }
  });

  it("docker: login keeps an identity token, not the password; pull and run", async () => {
    assert.ok(
      await dockerAvailable(),
      "needs root and dockerd (stack/prerequisites.sh installs docker.io)",
    );
    const dockerd = await startDockerd([registry]);
    try {
      const anonymous = await dockerd.docker("pull", `${registry}/hello:latest`);
      assert.notEqual(anonymous.code, 0);
      assert.match(anonymous.stderr, privateMessage);
      const wrong = await dockerd.dockerWithInput(
        "nope\n",
        "login",
        "-u",
        "alice",
        "--password-stdin",
        registry,
      );
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /incorrect username or password/);
      const login = await dockerd.dockerWithInput(
        "secret\n",
        "login",
        "-u",
        "alice",
        "--password-stdin",
        registry,
      );
      assert.equal(login.code, 0, login.stderr);
      const config = JSON.parse(await readFile(join(dockerd.configDir, "config.json"), "utf8"));
      const saved = config.auths[registry];
      assert.ok(saved.identitytoken, "docker keeps the refresh token");
      assert.ok(
        !Buffer.from(saved.auth, "base64").toString().includes("secret"),
        "and not the password",
      );

      const pull = await dockerd.docker("pull", `${registry}/hello:latest`);
      assert.equal(pull.code, 0, pull.stderr);
      const ran = await dockerd.docker(
        "run",
        "--rm",
        "--network",
        "none",
        `${registry}/hello:latest`,
        "hello",
      );
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(ran.stdout.trim(), "hello: greetings from libgreet");
    } finally {
      await dockerd.stop();
    }
  });

  it("containerd: ctr --user pulls and runs; without it or with a wrong password it cannot", async () => {
    const containerd = await startContainerd();
    try {
      const reference = `${registry}/hello:latest`;
      const anonymous = await containerd.pull(reference);
      assert.notEqual(anonymous.code, 0);
      assert.match(anonymous.stderr, /401 Unauthorized/);
      assert.notEqual((await containerd.pull(reference, "alice:nope")).code, 0);
      const pull = await containerd.pull(reference, "alice:secret");
      assert.equal(pull.code, 0, pull.stderr);
      const ran = await containerd.run(reference, ["hello"]);
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(ran.stdout.trim(), "hello: greetings from libgreet");
    } finally {
      await containerd.stop();
    }
  });

  it("answers a Host that names no host with 400 JSON, not a 500", async () => {
    for (const host of ["999.1.1.1", "a.1", "bad host"]) {
      const answer = await rawRequest(origin.port, host);
      assert.match(answer, /^HTTP\/1\.1 (400|401) /, `${host}: ${answer.slice(0, 200)}`);
    }
    assert.ok(!origin.logs.some((line) => line.event === "request failed"));
  });
});

describe("failed logins at a private origin", () => {
  let origin: OriginProcess;

  before(async () => {
    origin = await startOrigin({
      env: {
        NIXERY_HTPASSWD: await htpasswdFile({ alice: "secret" }),
        NIXERY_LOGIN_MAX_FAILURES: "2",
      },
    });
  });
  after(async () => origin?.stop());

  it("are limited per client: past the limit even the right password waits, with Retry-After", async () => {
    const token = (password: string) =>
      fetch(`${origin.url}/auth/token?service=nixery`, {
        headers: { Authorization: `Basic ${btoa(`alice:${password}`)}` },
      });
    assert.equal((await token("a")).status, 401);
    assert.equal((await token("b")).status, 401);
    const limited = await token("secret");
    assert.equal(limited.status, 429);
    assert.equal(Number(limited.headers.get("retry-after")) > 0, true);
    assert.equal(((await limited.json()) as any).errors[0].code, "TOOMANYREQUESTS");
    const shown = await copy(
      `127.0.0.1:${origin.port}`,
      "hello",
      "/nonexistent",
      "--src-creds",
      "alice:secret",
    );
    assert.match(shown.stderr, /too many requests/);
    assert.ok(origin.logs.some((line) => line.event === "login limited"));
  });
});

describe("a private origin where anyone may pull and only users build", () => {
  let origin: OriginProcess;
  let work: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "nixery-anonymous-pull-"));
    origin = await startOrigin({
      env: {
        NIXERY_HTPASSWD: await htpasswdFile({ alice: "secret" }),
        NIXERY_ANONYMOUS_PULL: "true",
      },
    });
  });
  after(async () => {
    await origin?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("builds a new image only for a user; then anyone pulls it", async () => {
    const registry = `127.0.0.1:${origin.port}`;
    const refused = await copy(registry, "goodbye", join(work, "refused"));
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /goodbye:latest is not built yet, and only logged-in users may build/,
    );
    assert.equal(origin.logs.filter((line) => line.event === "build started").length, 0);
    const built = await copy(
      registry,
      "goodbye",
      join(work, "built"),
      "--src-creds",
      "alice:secret",
    );
    assert.equal(built.code, 0, built.stderr);
    const anonymous = await copy(registry, "goodbye", join(work, "anonymous"));
    assert.equal(anonymous.code, 0, anonymous.stderr);
    assert.equal((await fetch(`${origin.url}/`)).status, 401, "the start page still needs a login");
  });
});
