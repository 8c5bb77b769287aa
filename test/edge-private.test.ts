// A private edge (HTPASSWD and TOKEN_KEY bound) in real workerd against a real origin that
// serves only the edge: a pull with a token the edge issued, through to the private origin, and
// tokens verified at the edge without the origin. The edge's access control in every branch
// (refused tokens, login limits, cold-build admission, anonymous pull, misconfiguration) is
// tested beside it, in workerd against an in-memory origin (worker/auth/edge-guard.test.ts).

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { startEdgeWorker, type EdgeWorker } from "./support/edge-worker.ts";
import { htpasswdFile } from "./support/htpasswd.ts";
import { startOrigin, type OriginProcess } from "./support/origin-process.ts";
import { tokenClient } from "./support/token-client.ts";

const secret = "edge-private-test-secret";
const tokenKey = "edge-private-test-key-0123456789abcdef";

interface Manifest {
  config: { digest: string };
  layers: { digest: string }[];
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
        htpasswd: await readFile(await htpasswdFile({ alice: "secret" }), "utf8"),
        tokenKeys: [tokenKey],
      },
    });
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
  });

  it("challenges with its own realm and pulls with a token it issued; answers are private", async () => {
    const alice = tokenClient(edge, "10.0.0.1");
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

  it("asks for a user's login before any page or page data; the script and style are open", async () => {
    const visitor = tokenClient(edge, "10.0.0.77");
    const html = { Accept: "text/html" };
    const basic = (user: string, password: string) =>
      `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    for (const path of [
      "/",
      "/hello",
      "/api/instance",
      "/api/images/hello:latest",
      "/api/builds/hello:latest",
      "/api/packages?q=hello",
    ]) {
      const refused = await visitor.send(path, html);
      assert.equal(refused.status, 401, path);
      assert.match(refused.headers.get("www-authenticate")!, /^Basic /, path);
      assert.doesNotMatch(await refused.text(), /hello:latest|linux\/amd64/, path);
    }
    const wrong = await visitor.send("/", { ...html, Authorization: basic("mallory", "nope") });
    assert.equal(wrong.status, 401);
    await wrong.arrayBuffer();
    for (const path of ["/-/web.js", "/-/web.css"]) {
      const asset = await visitor.send(path);
      assert.equal(asset.status, 200, path);
      await asset.arrayBuffer();
    }
    const alice = tokenClient(edge, "10.0.0.78");
    const start = await alice.send("/", { ...html, Authorization: basic("alice", "secret") });
    assert.equal(start.status, 200);
    assert.match(await start.text(), /This registry is private/);
    const page = await alice.send("/hello", { ...html, Authorization: basic("alice", "secret") });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /table class="layers"/);
  });

  it("answers the package search for a registry token or a user's login, and refuses the rest", async () => {
    const carol = tokenClient(edge, "10.0.0.90");
    const search = "/api/packages?q=hello";
    const token = await carol.login("alice", "secret", "hello");
    const basic = `Basic ${Buffer.from("alice:secret").toString("base64")}`;
    for (const authorization of [`Bearer ${token}`, basic]) {
      const answer = await carol.send(search, { Authorization: authorization });
      assert.equal(answer.status, 200, authorization.split(" ")[0]);
      assert.equal(answer.headers.get("content-type"), "application/json");
      const body = (await answer.json()) as { index: string; results: unknown[] };
      assert.ok(body.index === "ready" || body.index === "building", body.index);
    }
    const badToken = await carol.send(search, { Authorization: "Bearer not-a-token" });
    assert.equal(badToken.status, 401);
    assert.match(badToken.headers.get("www-authenticate")!, /^Bearer realm=/);
    await badToken.arrayBuffer();
    const posted = await edge.fetch(search, {
      method: "POST",
      headers: { "CF-Connecting-IP": "10.0.0.90", Authorization: basic },
    });
    const refused = (await posted.json()) as { errors: { code: string }[] };
    assert.equal(refused.errors[0]?.code, "UNSUPPORTED");
  });

  it("verifies tokens itself: with the origin gone, a token still pulls what the edge holds", async () => {
    const erin = tokenClient(edge, "10.0.0.4");
    const token = await erin.login("alice", "secret", "hello");
    await origin.stop();
    const response = await erin.manifest("hello", token);
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    const fresh = await erin.login("alice", "secret", "hello");
    assert.ok(fresh, "and issues tokens without it");
  });
});
