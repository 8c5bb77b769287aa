// The conformance suite's pull workflow (pull-workflow.ts), v1.0.1 and v1.1.1, against a real
// origin process and the edge Worker in workerd behind the local stack's HTTP front, both serving the same image built by real Nix. Also odd Host values
// (valid HTTP hosts that a URL cannot hold) against the origin process.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startEdgeRuntime, type EdgeRuntime } from "../../stack/edge-runtime.ts";
import { startPlainHttpFront, type PlainHttpFront } from "../../stack/plain-http-front.ts";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";
import { pullEnvFor, pullExpectations, send, type PullEnv } from "./pull-workflow.ts";

const secret = "conformance-secret";
// The edge is reached through the local stack's front, as users of `npm start` reach it: workerd's
// own listener resets connections whose request body it did not read (the front shields it, as
// Cloudflare's front line does in production).
const targets = ["origin", "edge (local stack front)"] as const;

describe("OCI conformance, pull workflow", () => {
  let origin: OriginProcess;
  let edge: EdgeRuntime;
  let front: PlainHttpFront;
  const bases = new Map<(typeof targets)[number], string>();
  let env: PullEnv;

  before(async () => {
    origin = await startOrigin({ env: { ORIGIN_SECRET: secret } });
    edge = await startEdgeRuntime({
      originUrl: origin.url,
      originSecret: secret,
      port: 0,
      onLogLine: () => {},
    });
    const edgeUrl = edge.url!;
    front = await startPlainHttpFront("127.0.0.1", 0, {
      host: "127.0.0.1",
      port: Number(edgeUrl.port),
    });
    bases.set("origin", origin.url);
    bases.set("edge (local stack front)", `http://127.0.0.1:${front.port}`);
    // OCI_NAMESPACE=shell/hello OCI_TAG_NAME=latest, the digests as the origin serves them.
    env = await pullEnvFor(origin.url, "shell/hello");
  });

  after(async () => {
    await front?.stop();
    await edge?.stop();
    await origin?.stop();
  });

  for (const target of targets) {
    describe(target, () => {
      for (const expectation of pullExpectations) {
        it(`[${expectation.suites.join(", ")}] ${expectation.title}`, async () => {
          await expectation.check(bases.get(target)!, env);
        });
      }
    });
  }

  it("counts the suite's specs as the suite does (v1.0.1: 12, v1.1.1: 14)", () => {
    const count = (suite: string) =>
      pullExpectations.filter((e) => e.suites.includes(suite as never)).length;
    assert.equal(count("v1.0.1"), 12);
    assert.equal(count("v1.1.1"), 14);
  });

  it("serves the origin under Host values that a URL cannot hold", async () => {
    for (const host of ["a.1", "999.1.1.1", "1.2.3.4.5", "09.1"]) {
      const base = await send(origin.url, "GET", "/v2/", { Host: host });
      assert.equal(base.status, 200, host);
      const tags = await send(origin.url, "GET", `/v2/${env.name}/tags/list?n=1`, { Host: host });
      assert.equal(tags.status, 200, `${host}: ${tags.body}`);
      const blob = await send(origin.url, "HEAD", `/v2/${env.name}/blobs/${env.blobDigest}`, {
        Host: host,
      });
      assert.equal(blob.status, 200, host);
      const missing = await send(origin.url, "GET", `/v2/${env.name}/manifests/.bad`, {
        Host: host,
      });
      assert.equal(missing.status, 404, host);
      assert.equal(missing.headers["content-type"], "application/json");
      const page = await send(origin.url, "GET", "/", { Host: host });
      assert.equal(page.status, 200, host);
    }
    // Not a valid Host at all: an HTTP-level 400, never a 500.
    for (const host of ["a:b:c", "example.com:99999"]) {
      const answer = await send(origin.url, "GET", "/v2/", { Host: host });
      assert.ok(answer.status < 500, `${host}: ${answer.status}`);
    }
  });
});
