// Every request leaves one access-log line on each side: a cold and a warm pull through the edge
// (in workerd) from a real origin process, and a pull from the origin directly. The edge's line
// says which layer answered and its Analytics Engine data point says the same; the origin's line
// says how the answer was found; /metrics counts the requests, their latency and bytes.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startOriginProxy, type OriginProxy } from "./support/edge-origin-proxy.ts";
import { startEdgeWorker, type EdgeWorker } from "./support/edge-worker.ts";
import { htpasswdFile } from "./support/htpasswd.ts";
import { startOrigin, type OriginProcess } from "./support/origin-process.ts";

const secret = "access-log-secret";
const dockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

type Line = Record<string, unknown>;

async function waitFor(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** GETs a manifest and its blobs the way a registry client does; the paths asked, in order. */
async function pull(get: (path: string, init?: RequestInit) => Promise<Response>, name: string) {
  const paths = [`/v2/${name}/manifests/latest`];
  const response = await get(paths[0]!, { headers: { Accept: dockerManifest } });
  assert.equal(response.status, 200);
  const manifest = (await response.json()) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  for (const blob of [manifest.config, ...manifest.layers]) {
    const path = `/v2/${name}/blobs/${blob.digest}`;
    paths.push(path);
    const body = new Uint8Array(await (await get(path)).arrayBuffer());
    assert.equal(`sha256:${createHash("sha256").update(body).digest("hex")}`, blob.digest);
  }
  return paths;
}

const requestLines = (logs: Line[], since: number) =>
  logs.slice(since).filter((line) => line.event === "request");

describe("access logs and metrics", () => {
  let origin: OriginProcess;
  let proxy: OriginProxy;
  let edge: EdgeWorker;

  before(async () => {
    origin = await startOrigin({ env: { ORIGIN_SECRET: secret } });
    proxy = await startOriginProxy(origin.url);
    edge = await startEdgeWorker({
      originUrl: proxy.url,
      originSecret: secret,
      pollSeconds: 2,
      analytics: "recorder",
    });
  });
  after(async () => {
    await edge?.stop();
    await proxy?.stop();
    await origin?.stop();
  });

  for (const round of ["cold", "warm"] as const) {
    it(`a ${round} pull through the edge leaves one line per request on each side`, async () => {
      const edgeSince = edge.logs.length;
      const originSince = origin.logs.length;
      const proxySince = proxy.requests.length;
      const paths = await pull(edge.fetch, "hello");

      // The edge: one line per request, in order, naming the layer that answered.
      await waitFor(
        "the edge's lines",
        () => requestLines(edge.logs, edgeSince).length >= paths.length,
      );
      const lines = requestLines(edge.logs, edgeSince);
      assert.deepEqual(
        lines.map((line) => line.path),
        paths,
      );
      for (const line of lines) {
        assert.equal(line.method, "GET");
        assert.equal(line.status, 200);
        assert.equal(typeof line.ms, "number");
        assert.ok((line.bytes as number) > 0, JSON.stringify(line));
      }
      const servedBy = lines.map((line) => line.servedBy);
      if (round === "cold") {
        assert.deepEqual(new Set(servedBy), new Set(["origin"]), servedBy.join());
      } else {
        assert.equal(servedBy[0], "cache", "the tag from the Cache API");
        for (const layer of servedBy.slice(1))
          assert.ok(layer === "cache" || layer === "r2", layer as string);
      }
      // The same figures reach Analytics Engine, one data point per request.
      const points = edge.logs
        .slice(edgeSince)
        .filter((line) => line.event === "analytics data point") as {
        blobs: string[];
        doubles: number[];
      }[];
      assert.equal(points.length, paths.length);
      assert.deepEqual(
        points.map((point) => point.blobs[2]),
        servedBy,
      );
      assert.deepEqual(points[0]!.blobs.slice(0, 2), ["manifest", "GET"]);
      assert.equal(points[0]!.doubles[0], 200);

      // The origin: one line for every request the edge made of it (the proxy counts them).
      await waitFor("the origin's lines", () => {
        return requestLines(origin.logs, originSince).length >= proxy.requests.length - proxySince;
      });
      await sleep(200);
      const originLines = requestLines(origin.logs, originSince);
      assert.deepEqual(
        originLines.map((line) => line.path).sort(),
        proxy.requests
          .slice(proxySince)
          .map((request) => request.path.split("?")[0])
          .sort(),
      );
      if (round === "cold") {
        assert.ok(
          originLines.some((line) => line.path === "/_origin/builds" && line.cache === "build"),
          JSON.stringify(originLines),
        );
      }
    });
  }

  it("a pull from the origin itself leaves one line per request with its cache outcome", async () => {
    const since = origin.logs.length;
    const paths = await pull((path, init) => fetch(`${origin.url}${path}`, init), "hello");
    await waitFor(
      "the origin's lines",
      () => requestLines(origin.logs, since).length >= paths.length,
    );
    await sleep(200);
    const lines = requestLines(origin.logs, since);
    assert.deepEqual(
      lines.map((line) => line.path),
      paths,
    );
    assert.equal(lines[0]!.cache, "hit");
    for (const line of lines.slice(1)) {
      assert.equal(line.cache, "stored");
      assert.equal(line.status, 200);
      assert.ok((line.bytes as number) > 0);
    }
  });

  it("/metrics counts requests by route and status, latency, bytes, memory and lag", async () => {
    const text = await (await fetch(`${origin.url}/metrics`)).text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
    assert.ok(
      value(
        /^nixery_http_requests_total\{route="v2_manifest",method="GET",status="200"\} (\d+)$/m,
      ) >= 1,
      text,
    );
    assert.ok(
      value(/^nixery_http_requests_total\{route="v2_blob",method="GET",status="200"\} (\d+)$/m) >=
        2,
    );
    assert.ok(value(/^nixery_http_request_duration_seconds_count\{route="v2_blob"\} (\d+)$/m) >= 2);
    assert.ok(
      value(
        /^nixery_http_request_duration_seconds_bucket\{route="origin_builds",le="\+Inf"\} (\d+)$/m,
      ) >= 1,
    );
    assert.ok(value(/^nixery_http_response_bytes_total\{route="v2_blob"\} (\d+)$/m) > 0);
    assert.ok(value(/^process_resident_memory_bytes (\d+)$/m) > 10_000_000);
    assert.ok(value(/^nodejs_heap_used_bytes (\d+)$/m) > 0);
    assert.match(text, /^nodejs_eventloop_lag_seconds\{quantile="0\.99"\} [\d.e-]+$/m);
  });
});

describe("access logs of a private origin", () => {
  let origin: OriginProcess;

  before(async () => {
    origin = await startOrigin({
      env: {
        ORIGIN_SECRET: secret,
        NIXERY_HTPASSWD: await htpasswdFile({ alice: "secret" }),
        NIXERY_TOKEN_KEY: "k".repeat(32),
      },
    });
  });
  after(async () => {
    await origin?.stop();
  });

  it("name the user, the edge for its secret, and nobody for a refused request", async () => {
    const since = origin.logs.length;
    const tokenResponse = await fetch(
      `${origin.url}/auth/token?service=nixery&scope=repository:hello:pull`,
      { headers: { Authorization: `Basic ${btoa("alice:secret")}` } },
    );
    assert.equal(tokenResponse.status, 200);
    const { token } = (await tokenResponse.json()) as { token: string };
    const path = "/v2/hello/manifests/latest";
    const headers = { Accept: dockerManifest };
    for (const authorization of [`Bearer ${token}`, `Bearer ${secret}`, null]) {
      const response = await fetch(`${origin.url}${path}`, {
        headers: authorization ? { ...headers, Authorization: authorization } : headers,
      });
      await response.arrayBuffer();
    }
    await waitFor(
      "the origin's lines",
      () => requestLines(origin.logs, since).filter((line) => line.path === path).length >= 3,
    );
    const lines = requestLines(origin.logs, since).filter((line) => line.path === path);
    assert.deepEqual(
      lines.map((line) => [line.status, line.user]),
      [
        [200, "alice"],
        [200, "edge"],
        [401, undefined],
      ],
    );
  });
});
