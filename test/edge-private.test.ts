// A private edge (HTPASSWD and TOKEN_KEY bound) in real workerd against a real origin that
// serves only the edge: the challenge and token endpoint at the edge, tokens verified at the
// edge without the origin, nothing served from the Cache API, KV or R2 to a request without a
// token, private cache headers, failed logins limited by the rate limiting binding, and cold
// builds admitted per client while pulls of built images are never limited.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { originPaths } from "../shared/origin-protocol.ts";
import { startEdgeWorker, type EdgeWorker } from "./support/edge-worker.ts";
import { htpasswdFile } from "./support/htpasswd.ts";
import { startOrigin, type OriginProcess } from "./support/origin-process.ts";

const secret = "edge-private-test-secret";
const tokenKey = "edge-private-test-key-0123456789abcdef";
const dockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

interface Manifest {
  config: { digest: string };
  layers: { digest: string }[];
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** Rate limiting bindings count in fixed minutes: start a count early in one. */
async function freshMinute(): Promise<void> {
  const into = Date.now() % 60_000;
  if (into > 40_000) await sleep(60_000 - into + 100);
}

function client(edge: EdgeWorker, address: string) {
  const send = (path: string, headers: Record<string, string> = {}, init: RequestInit = {}) =>
    edge.fetch(path, { ...init, headers: { "CF-Connecting-IP": address, ...headers } });
  return {
    send,
    async token(user: string, password: string, scope: string): Promise<Response> {
      return send(`/auth/token?service=nixery&scope=${encodeURIComponent(scope)}`, {
        Authorization: basic(user, password),
      });
    },
    async login(user: string, password: string, name: string): Promise<string> {
      const response = await this.token(user, password, `repository:${name}:pull`);
      const body = (await response.json()) as { token: string };
      assert.equal(response.status, 200, JSON.stringify(body));
      return body.token;
    },
    async manifest(name: string, token: string | null): Promise<Response> {
      return send(`/v2/${name}/manifests/latest`, {
        Accept: dockerManifest,
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      });
    },
  };
}

describe("a private edge", () => {
  let origin: OriginProcess;
  let edge: EdgeWorker;

  before(async () => {
    origin = await startOrigin({ env: { ORIGIN_SECRET: secret, ORIGIN_PRIVATE: "true" } });
    edge = await startEdgeWorker({
      originUrl: origin.url,
      originSecret: secret,
      pollSeconds: 2,
      access: {
        htpasswd: await readFile(
          await htpasswdFile({ alice: "secret", bob: "hunter2", carol: "pw", dave: "pw2" }),
          "utf8",
        ),
        tokenKeys: [tokenKey],
      },
      limits: { loginFailures: 3, coldBuilds: 2 },
    });
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
  });

  it("challenges with its own realm and pulls with a token it issued; answers are private", async () => {
    const alice = client(edge, "10.0.0.1");
    const ping = await alice.send("/v2/");
    assert.equal(ping.status, 401);
    assert.equal(
      ping.headers.get("www-authenticate"),
      'Bearer realm="http://edge.test/auth/token",service="nixery"',
    );
    await ping.arrayBuffer();
    const token = await alice.login("alice", "secret", "hello");
    for (let round = 0; round < 2; round++) {
      const response = await alice.manifest("hello", token);
      assert.equal(response.status, 200);
      assert.match(response.headers.get("cache-control")!, /^private, max-age=\d+$/);
      const manifest = (await response.json()) as Manifest;
      for (const blob of [manifest.config, ...manifest.layers]) {
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
    const alice = client(edge, "10.0.0.2");
    const token = await alice.login("alice", "secret", "hello");
    const pulled = await alice.manifest("hello", token);
    const digest = pulled.headers.get("docker-content-digest")!;
    const manifest = (await pulled.json()) as Manifest;
    const other = await alice.login("alice", "secret", "goodbye");
    const paths = [
      "/v2/hello/manifests/latest",
      `/v2/hello/manifests/${digest}`,
      ...[manifest.config, ...manifest.layers].map((blob) => `/v2/hello/blobs/${blob.digest}`),
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
  });

  it("refuses wrong passwords alike for known and unknown users, then limits client and user", async () => {
    await freshMinute();
    const mallory = client(edge, "10.0.0.66");
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await mallory.token(
        i % 2 ? "alice" : "nobody",
        "guess",
        "repository:hello:pull",
      );
      statuses.push(response.status);
      const body = (await response.json()) as { errors: { message: string }[] };
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
      await (await client(edge, `10.1.0.${i}`).token("bob", "guess", "")).arrayBuffer();
    }
    const bob = await client(edge, "10.1.1.1").token("bob", "hunter2", "");
    assert.equal(bob.status, 429);
    await bob.arrayBuffer();
    await client(edge, "10.1.1.2").login("alice", "secret", "hello");
  });

  it("admits a few cold builds per client, never limits built images, and serves what the origin built", async () => {
    await freshMinute();
    const carol = client(edge, "10.0.0.3");
    // carol has started no build this minute (alice did, in the first test).
    const token = async (name: string) => carol.login("carol", "pw", name);
    // Built at the origin before (by another edge, say), but never seen by this edge.
    const direct = await fetch(`${origin.url}${originPaths.builds.path()}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "shell/hello", tag: "latest", waitSeconds: 40 }),
    });
    assert.equal(((await direct.json()) as { state: string }).state, "done");

    for (const name of ["goodbye", "shell/goodbye"]) {
      const response = await carol.manifest(name, await token(name));
      assert.equal(response.status, 200, await response.clone().text());
      await response.arrayBuffer();
    }
    const refused = await carol.manifest("tools.xev", await token("tools.xev"));
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("retry-after"), "60");
    const body = (await refused.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]!.code, "TOOMANYREQUESTS");
    assert.match(body.errors[0]!.message, /tools\.xev:latest is not built yet/);
    assert.ok(
      !origin.logs.some((line) => line.event === "build started" && line.image === "tools.xev"),
    );

    for (let i = 0; i < 5; i++) {
      for (const name of ["goodbye", "shell/goodbye", "hello"]) {
        const warm = await carol.manifest(name, await token(name));
        assert.equal(warm.status, 200, `${name} is built: never limited`);
        await warm.arrayBuffer();
      }
    }
    const builtElsewhere = await carol.manifest("shell/hello", await token("shell/hello"));
    assert.equal(
      builtElsewhere.status,
      200,
      "past the limit, an image the origin built still pulls",
    );
    await builtElsewhere.arrayBuffer();

    // The limit is per client: dave (another user, same address) may build.
    const dave = client(edge, "10.0.0.3");
    const daveToken = await dave.login("dave", "pw2", "tools.xev");
    const other = await dave.manifest("tools.xev", daveToken);
    assert.equal(other.status, 200);
    await other.arrayBuffer();
  });

  it("verifies tokens itself: with the origin gone, a token still pulls what the edge holds", async () => {
    const erin = client(edge, "10.0.0.4");
    const token = await erin.login("alice", "secret", "hello");
    await origin.stop();
    const response = await erin.manifest("hello", token);
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    const fresh = await erin.login("alice", "secret", "hello");
    assert.ok(fresh, "and issues tokens without it");
  });
});

describe("a public edge's cold-build admission", () => {
  let origin: OriginProcess;
  let edge: EdgeWorker;

  before(async () => {
    origin = await startOrigin({ env: { ORIGIN_SECRET: secret } });
    edge = await startEdgeWorker({
      originUrl: origin.url,
      originSecret: secret,
      pollSeconds: 2,
      limits: { coldBuilds: 1 },
    });
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
  });

  it("counts new images per address; what another client built pulls at once", async () => {
    await freshMinute();
    const [a, b] = [client(edge, "192.0.2.1"), client(edge, "192.0.2.2")];
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
  });
});

describe("a private edge where anyone may pull and only users build", () => {
  let origin: OriginProcess;
  let edge: EdgeWorker;

  before(async () => {
    origin = await startOrigin({ env: { ORIGIN_SECRET: secret, ORIGIN_PRIVATE: "true" } });
    edge = await startEdgeWorker({
      originUrl: origin.url,
      originSecret: secret,
      pollSeconds: 2,
      access: {
        htpasswd: await readFile(await htpasswdFile({ alice: "secret" }), "utf8"),
        tokenKeys: [tokenKey],
        anonymousPull: true,
      },
    });
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
  });

  it("gives anonymous clients pull tokens for built images, and only users build", async () => {
    const visitor = client(edge, "198.51.100.1");
    const anonymousToken = async (name: string) => {
      const response = await visitor.send(
        `/auth/token?service=nixery&scope=repository:${name}:pull`,
      );
      assert.equal(response.status, 200);
      return ((await response.json()) as { token: string }).token;
    };
    const refused = await visitor.manifest("goodbye", await anonymousToken("goodbye"));
    assert.equal(refused.status, 401);
    assert.match(
      ((await refused.json()) as { errors: { message: string }[] }).errors[0]!.message,
      /goodbye:latest is not built yet, and only logged-in users may build/,
    );
    assert.ok(!origin.logs.some((line) => line.event === "build started"));
    const built = await visitor.manifest(
      "goodbye",
      await visitor.login("alice", "secret", "goodbye"),
    );
    assert.equal(built.status, 200);
    await built.arrayBuffer();
    const pulled = await visitor.manifest("goodbye", await anonymousToken("goodbye"));
    assert.equal(pulled.status, 200);
    await pulled.arrayBuffer();
  });
});

describe("a misconfigured private edge", () => {
  it("refuses every request (500, logged) rather than serve anyone", async () => {
    for (const access of [
      { htpasswd: "", tokenKeys: [tokenKey] },
      { htpasswd: "alice:$apr1$not$bcrypt", tokenKeys: [tokenKey] },
    ]) {
      const edge = await startEdgeWorker({ originUrl: "http://127.0.0.1:9", access });
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
        assert.equal(
          ((await token.json()) as { errors: { message: string }[] }).errors[0]!.message,
          "internal error",
        );
        assert.ok(edge.logs.some((line) => line.event === "request failed"));
      } finally {
        await edge.stop();
      }
    }
  });
});
