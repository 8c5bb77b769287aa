// The origin's HTTP surface without a server (app.request), with a stand-in image service: routes
// outside the registry API, the secret guard, and JSON errors for everything unknown.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "./app.ts";
import type { ImageService } from "./builder/image-service.ts";
import { BuildRecords } from "./cache/build-records.ts";
import { openDatabase } from "./cache/database.ts";
import { createLogger } from "./log.ts";
import { Readiness } from "./readiness.ts";
import { FilesystemStorage } from "./storage/filesystem.ts";

async function makeApp(options: { secret?: string; private?: boolean } = {}) {
  const storage = await new FilesystemStorage(await mkdtemp(join(tmpdir(), "nixery-app-"))).init();
  const builds = new BuildRecords(openDatabase(":memory:"));
  builds.record({
    image: "broken",
    tag: "latest",
    revision: null,
    outcome: "failed",
    durationMs: 5,
    error: "builder for '/nix/store/x-broken.drv' failed <script>",
    finishedAt: 0,
  });
  const images = {
    sourceId: "path:/srv/pkgs",
    stats: { running: 0, queued: 0 },
    counters: {
      manifestHits: 0,
      manifestMisses: 0,
      jobsJoined: 0,
      failuresRepeated: 0,
      layersPacked: 0,
      layersReused: 0,
      objectsRestored: 0,
    },
    currentRevision: async () => "0123456789abcdef0123456789abcdef01234567",
    platformNames: ["linux/amd64", "linux/arm64"],
    hostPlatformName: "linux/amd64",
  } as unknown as ImageService;
  return createApp({
    images,
    storage,
    builds,
    originSecret: options.secret ?? null,
    originPrivate: options.private ?? false,
    readiness: new Readiness({ storage: () => storage.check() }),
    nixProcesses: new Map([["nix-instantiate", 3]]),
    collector: null,
    log: createLogger(() => {}),
  });
}

async function errorCode(response: Response): Promise<string> {
  assert.equal(response.headers.get("content-type"), "application/json");
  return ((await response.json()) as { errors: { code: string }[] }).errors[0]!.code;
}

describe("origin app", () => {
  it("renders the start page with the host, source, revision and escaped recent errors", async () => {
    const app = await makeApp();
    const page = await (await app.request("/", { headers: { Host: "nix.example.com" } })).text();
    assert.match(page, /docker pull nix\.example\.com\/shell\/git\/htop/);
    assert.match(page, /path:\/srv\/pkgs/);
    assert.match(page, /0123456789abcdef0123456789abcdef01234567/);
    assert.match(page, /x-broken\.drv&#39; failed &#60;script&#62;/);
    assert.match(page, /built for <code>linux\/amd64<\/code>, <code>linux\/arm64<\/code>/);
    assert.match(page, /clients that take no index get the linux\/amd64 image/);
  });

  it("answers unknown routes, including under /_origin, with JSON NOT_FOUND", async () => {
    const app = await makeApp();
    for (const path of ["/nope", "/_origin/nothing", "/v2/hello/whatever"]) {
      const response = await app.request(path);
      assert.equal(response.status, 404, path);
      assert.equal(await errorCode(response), "NOT_FOUND");
    }
  });

  it("refuses a malformed build request with a JSON error", async () => {
    const app = await makeApp();
    const response = await app.request("/_origin/builds", { method: "POST", body: "garbage" });
    assert.equal(response.status, 400);
    assert.equal(await errorCode(response), "BAD_REQUEST");
  });

  it("guards build endpoints, and with ORIGIN_PRIVATE the registry and metrics too", async () => {
    const open = await makeApp({ secret: "s" });
    assert.equal(
      (await open.request("/_origin/builds", { method: "POST", body: "{}" })).status,
      401,
    );
    assert.equal((await open.request("/v2/")).status, 200);
    assert.equal((await open.request("/metrics")).status, 200);
    const closed = await makeApp({ secret: "s", private: true });
    assert.equal(await errorCode(await closed.request("/v2/")), "UNAUTHORIZED");
    assert.equal((await closed.request("/metrics")).status, 401);
    assert.equal(
      (await closed.request("/v2/", { headers: { Authorization: "Bearer s" } })).status,
      200,
    );
    assert.equal((await closed.request("/healthz")).status, 200);
  });

  it("answers under Host values that a URL parser refuses (a.1, 999.1.1.1, 1.2.3.4.5, 09.1)", async () => {
    const app = await makeApp();
    for (const host of ["a.1", "999.1.1.1", "1.2.3.4.5", "09.1"]) {
      // @hono/node-server hands the app a request whose URL is text built from Host.
      const raw = (path: string) => {
        const request = new Request(`http://placeholder${path}`, { headers: { Host: host } });
        Object.defineProperty(request, "url", { value: `http://${host}${path}` });
        return request;
      };
      assert.equal((await app.request(raw("/v2/"))).status, 200, host);
      const missing = await app.request(raw("/v2/hello/manifests/.INVALID_MANIFEST_NAME"));
      assert.equal(missing.status, 404, host);
      assert.equal(await errorCode(missing), "MANIFEST_UNKNOWN");
      const digest = await app.request(raw(`/v2/hello/blobs/sha256:${"3".repeat(10)}`));
      assert.equal(await errorCode(digest), "DIGEST_INVALID");
      assert.equal((await app.request(raw("/"))).status, 200, host);
    }
  });
});
