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
