// A private edge's access control, in workerd against an in-memory origin: the challenge and the
// token flow, tokens checked before anything the edge holds is read, private cache headers,
// failed logins limited per client and per user, cold builds admitted per client, anonymous pull
// where only users build, and a misconfigured private edge that refuses everyone.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { originPaths } from "../../shared/origin-protocol.ts";
import { htpasswdFile } from "../../test/support/htpasswd.ts";
import { originHolding, syntheticImage } from "../../test/support/synthetic-image.ts";
import { basic, tokenClient } from "../../test/support/token-client.ts";
import { startWorkerdEdge, type WorkerdEdge } from "../../test/support/workerd-edge.ts";

const tokenKey = "edge-guard-test-key-0123456789abcdef";

interface ErrorBody {
  errors: { code: string; message: string }[];
}

/** Rate limiting bindings count in fixed minutes: start a count early in one. */
async function freshMinute(): Promise<void> {
  const into = Date.now() % 60_000;
  if (into > 40_000) await sleep(60_000 - into + 100);
}

const images = ["hello", "goodbye", "shell/goodbye", "tools.xev", "shell/hello"].map((name) =>
  syntheticImage(name),
);
const [hello] = images as [(typeof images)[0]];

describe("a private edge in workerd", () => {
  let edge: WorkerdEdge;

  before(async () => {
    const htpasswd = await readFile(
      await htpasswdFile({ alice: "secret", bob: "hunter2", carol: "pw", dave: "pw2" }),
      "utf8",
    );
    edge = await startWorkerdEdge({
      access: { htpasswd, tokenKeys: [tokenKey] },
      limits: { loginFailures: 3, coldBuilds: 2 },
    });
    await edge.setOrigin(originHolding(images));
  });
  after(async () => {
    await edge?.stop();
  });

  it("challenges with its own realm and pulls with a token it issued; answers are private", async () => {
    const alice = tokenClient(edge, "10.0.0.1");
    const ping = await alice.send("/v2/");
    assert.equal(ping.status, 401);
    assert.equal(
      ping.headers.get("www-authenticate"),
      `Bearer realm="http://${edge.url.host}/auth/token",service="nixery"`,
    );
    await ping.arrayBuffer();
    const token = await alice.login("alice", "secret", "hello");
    for (let round = 0; round < 2; round++) {
      const response = await alice.manifest("hello", token);
      assert.equal(response.status, 200);
      assert.match(response.headers.get("cache-control")!, /^private, max-age=\d+$/);
      await response.arrayBuffer();
      for (const blob of [hello.config, ...hello.layers]) {
        const got = await alice.send(`/v2/hello/blobs/${blob.digest}`, {
          Authorization: `Bearer ${token}`,
        });
        assert.equal(got.status, 200);
        assert.equal(got.headers.get("cache-control"), "private, max-age=31536000, immutable");
        await got.arrayBuffer();
      }
    }
  });

  it("serves nothing it holds to a request without a valid token: tag, digest or blob", async () => {
    const alice = tokenClient(edge, "10.0.0.2");
    const token = await alice.login("alice", "secret", "hello");
    await (await alice.manifest("hello", token)).arrayBuffer();
    const other = await alice.login("alice", "secret", "goodbye");
    const since = (await edge.originCalls()).length;
    const paths = [
      "/v2/hello/manifests/latest",
      `/v2/hello/manifests/${hello.docker.digest}`,
      ...[hello.config, ...hello.layers].map((blob) => `/v2/hello/blobs/${blob.digest}`),
    ];
    for (const path of paths) {
      for (const authorization of [
        null,
        "Bearer not-a-token",
        `Bearer ${other}`,
        basic("alice", "secret"),
      ]) {
        const response = await alice.send(
          path,
          authorization ? { Authorization: authorization } : {},
        );
        assert.equal(response.status, 401, `${path} with ${authorization}`);
        assert.equal(response.headers.get("content-type"), "application/json");
        assert.match(response.headers.get("www-authenticate")!, /scope="repository:hello:pull"/);
        await response.arrayBuffer();
      }
    }
    assert.deepEqual((await edge.originCalls()).slice(since), [], "the origin was not asked");
  });

  it("verifies tokens itself: with the origin down, a token still pulls what the edge holds", async () => {
    const erin = tokenClient(edge, "10.0.0.4");
    const token = await erin.login("alice", "secret", "hello");
    await edge.setOrigin({ ...originHolding(images), down: true });
    try {
      const response = await erin.manifest("hello", token);
      assert.equal(response.status, 200);
      await response.arrayBuffer();
      assert.ok(await erin.login("alice", "secret", "hello"), "and issues tokens without it");
    } finally {
      await edge.setOrigin(originHolding(images));
    }
  });

  it("refuses wrong passwords alike for known and unknown users, then limits client and user", async () => {
    await freshMinute();
    const mallory = tokenClient(edge, "10.0.0.66");
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await mallory.token(
        i % 2 ? "alice" : "nobody",
        "guess",
        "repository:hello:pull",
      );
      statuses.push(response.status);
      const body = (await response.json()) as ErrorBody;
      if (response.status === 401)
        assert.equal(body.errors[0]!.message, "incorrect username or password");
    }
    assert.deepEqual(statuses, [401, 401, 401, 401], "the binding refuses the fourth failure");
    const limited = await mallory.token("alice", "secret", "repository:hello:pull");
    assert.equal(limited.status, 429, "past the limit even the right password waits");
    assert.ok(Number(limited.headers.get("retry-after")) > 0);
    await limited.arrayBuffer();
    // Per user too: bob's failures from many addresses lock bob, not alice.
    for (let i = 0; i < 4; i++) {
      await (await tokenClient(edge, `10.1.0.${i}`).token("bob", "guess", "")).arrayBuffer();
    }
    const bob = await tokenClient(edge, "10.1.1.1").token("bob", "hunter2", "");
    assert.equal(bob.status, 429);
    await bob.arrayBuffer();
    await tokenClient(edge, "10.1.1.2").login("alice", "secret", "hello");
  });

  it("admits a few cold builds per client, never limits built images, and serves what the origin built", async () => {
    await freshMinute();
    const carol = tokenClient(edge, "10.0.0.3");
    const token = (name: string) => carol.login("carol", "pw", name);
    const scenario = originHolding(images);
    // Built at the origin before (by another edge, say), but never seen by this edge.
    scenario.builds!["tools.xev:latest"]!.built = false;
    await edge.setOrigin(scenario);
    for (const name of ["goodbye", "shell/goodbye"]) {
      const response = await carol.manifest(name, await token(name));
      assert.equal(response.status, 200, await response.clone().text());
      await response.arrayBuffer();
    }
    const since = (await edge.originCalls()).length;
    const refused = await carol.manifest("tools.xev", await token("tools.xev"));
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("retry-after"), "60");
    const body = (await refused.json()) as ErrorBody;
    assert.equal(body.errors[0]!.code, "TOOMANYREQUESTS");
    assert.match(body.errors[0]!.message, /tools\.xev:latest is not built yet/);
    const asked = (await edge.originCalls()).slice(since);
    assert.deepEqual(
      asked.map((call) => `${call.method} ${call.path} ${call.build}`),
      [`POST ${originPaths.builds.path()} only if built`],
      "past the limit the origin is only asked what it has built",
    );
    for (let i = 0; i < 5; i++) {
      for (const name of ["goodbye", "shell/goodbye", "hello"]) {
        const warm = await carol.manifest(name, await token(name));
        assert.equal(warm.status, 200, `${name} is built: never limited`);
        await warm.arrayBuffer();
      }
    }
    const builtElsewhere = await carol.manifest("shell/hello", await token("shell/hello"));
    assert.equal(builtElsewhere.status, 200, "past the limit, an image the origin built pulls");
    await builtElsewhere.arrayBuffer();
    // The limit is per client: dave (another user, same address) may build.
    const dave = tokenClient(edge, "10.0.0.3");
    const other = await dave.manifest("tools.xev", await dave.login("dave", "pw2", "tools.xev"));
    assert.equal(other.status, 200);
    await other.arrayBuffer();
  });
});

describe("a public edge's cold-build admission, in workerd", () => {
  it("counts new images per address; what another client built pulls at once", async () => {
    const edge = await startWorkerdEdge({ limits: { coldBuilds: 1 } });
    try {
      const scenario = originHolding(images);
      scenario.builds!["hello:latest"]!.built = false;
      await edge.setOrigin(scenario);
      await freshMinute();
      const [a, b] = [tokenClient(edge, "192.0.2.1"), tokenClient(edge, "192.0.2.2")];
      const first = await a.manifest("goodbye", null);
      assert.equal(first.status, 200);
      await first.arrayBuffer();
      const refused = await a.manifest("hello", null);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get("retry-after"), "60");
      await refused.arrayBuffer();
      const other = await b.manifest("hello", null);
      assert.equal(other.status, 200, "another address may build");
      assert.equal(other.headers.get("cache-control")?.startsWith("public"), true);
      await other.arrayBuffer();
      for (const name of ["goodbye", "hello", "goodbye"]) {
        const warm = await a.manifest(name, null);
        assert.equal(warm.status, 200, `${name} is built`);
        await warm.arrayBuffer();
      }
    } finally {
      await edge.stop();
    }
  });
});

describe("a private edge where anyone may pull and only users build, in workerd", () => {
  it("gives anonymous clients pull tokens for built images, and only users build", async () => {
    const htpasswd = await readFile(await htpasswdFile({ alice: "secret" }), "utf8");
    const edge = await startWorkerdEdge({
      access: { htpasswd, tokenKeys: [tokenKey], anonymousPull: true },
    });
    try {
      const scenario = originHolding(images);
      scenario.builds!["goodbye:latest"]!.built = false;
      await edge.setOrigin(scenario);
      const visitor = tokenClient(edge, "198.51.100.1");
      const refused = await visitor.manifest("goodbye", await visitor.login(null, "", "goodbye"));
      assert.equal(refused.status, 401);
      assert.match(
        ((await refused.json()) as ErrorBody).errors[0]!.message,
        /goodbye:latest is not built yet, and only logged-in users may build/,
      );
      const builds = (await edge.originCalls()).filter((call) => call.build);
      assert.deepEqual(
        builds.map((call) => call.build),
        ["only if built"],
        "an anonymous client never starts a build",
      );
      const built = await visitor.manifest(
        "goodbye",
        await visitor.login("alice", "secret", "goodbye"),
      );
      assert.equal(built.status, 200);
      await built.arrayBuffer();
      const pulled = await visitor.manifest("goodbye", await visitor.login(null, "", "goodbye"));
      assert.equal(pulled.status, 200);
      await pulled.arrayBuffer();
    } finally {
      await edge.stop();
    }
  });
});

describe("a misconfigured private edge, in workerd", () => {
  it("refuses every request (500, logged) rather than serve anyone", async () => {
    for (const access of [
      { htpasswd: "", tokenKeys: [tokenKey] },
      { htpasswd: "alice:$apr1$not$bcrypt", tokenKeys: [tokenKey] },
    ]) {
      const edge = await startWorkerdEdge({ access });
      try {
        for (const path of ["/v2/", "/v2/hello/manifests/latest"]) {
          const response = await edge.fetch(path);
          const status = response.status;
          const text = await response.text();
          if (access.htpasswd === "") assert.equal(status, 500, path);
          else assert.equal(status, 401, `${path}: a token is asked for before users are read`);
          assert.ok(!text.includes("apr1"), "the users file is not shown");
        }
        const token = await edge.fetch("/auth/token", {
          headers: { Authorization: basic("alice", "x") },
        });
        assert.equal(token.status, 500);
        assert.equal(((await token.json()) as ErrorBody).errors[0]!.message, "internal error");
        assert.ok(edge.logs.some((line) => line.event === "request failed"));
      } finally {
        await edge.stop();
      }
    }
  });
});
