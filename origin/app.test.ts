// The origin's HTTP surface without a server (app.request), with a stand-in image service: routes
// outside the registry API, the secret guard, and JSON errors for everything unknown.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { makeTestApp, testAccess } from "../test/support/origin-app.ts";
import type { AccessControl } from "./auth/access-control.ts";
import { originPaths, type BuildStatus } from "../shared/origin-protocol.ts";

function makeApp(options: { secret?: string; access?: AccessControl | null } = {}) {
  return makeTestApp(options);
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
    const response = await app.request(originPaths.builds.path(), {
      method: "POST",
      body: "garbage",
    });
    assert.equal(response.status, 400);
    assert.equal(await errorCode(response), "BAD_REQUEST");
  });

  it("refuses every bad name in a build request the same way: a registry error, not a status", async () => {
    const app = await makeApp();
    const cases: [unknown, number, string][] = [
      [{ tag: "latest" }, 400, "BAD_REQUEST"],
      [{ name: "Hello World", tag: "latest" }, 400, "NAME_INVALID"],
      [{ name: "", tag: "latest" }, 400, "NAME_INVALID"],
      [{ name: "hello", tag: "no tag" }, 400, "TAG_INVALID"],
    ];
    for (const [body, status, code] of cases) {
      const response = await app.request(originPaths.builds.path(), {
        method: "POST",
        body: JSON.stringify(body),
      });
      assert.equal(response.status, status, JSON.stringify(body));
      assert.equal(await errorCode(response), code, JSON.stringify(body));
    }
  });

  it("maps a build's domain error at the app's edge, on the registry API and the build endpoint", async () => {
    const app = await makeApp();
    const pull = await app.request("/v2/hello/manifests/latest");
    assert.equal(pull.status, 404);
    assert.equal(await errorCode(pull), "MANIFEST_UNKNOWN");
    const build = await app.request(originPaths.builds.path(), {
      method: "POST",
      body: JSON.stringify({ name: "hello", tag: "latest" }),
    });
    assert.equal(build.status, 200);
    const status = (await build.json()) as BuildStatus;
    assert.equal(status.state, "failed");
    if (status.state === "failed") {
      assert.equal(status.status, 404);
      assert.equal(status.error.code, "MANIFEST_UNKNOWN");
      assert.match(status.error.message, /Could not find Nix packages: .*hello/);
    }
  });

  it("runs a storage collection on POST /_origin/gc and counts it in /metrics", async () => {
    const app = await makeApp();
    const response = await app.request(originPaths.gc.path(), { method: "POST" });
    assert.equal(response.status, 200);
    const report = (await response.json()) as { deleted: { objects: number } };
    assert.equal(report.deleted.objects, 0);
    const metrics = await (await app.request("/metrics")).text();
    assert.match(metrics, /^nixery_gc_runs_total\{outcome="done"\} 1$/m);
  });

  it("guards build endpoints with the secret and leaves a public registry open", async () => {
    const open = await makeApp({ secret: "s" });
    const refused = await open.request(originPaths.builds.path(), { method: "POST", body: "{}" });
    assert.equal(refused.status, 401);
    assert.equal(await errorCode(refused), "UNAUTHORIZED");
    assert.equal((await open.request("/v2/")).status, 200);
    assert.equal((await open.request("/metrics")).status, 200);
    assert.equal((await open.request("/auth/token")).status, 404);
  });

  it("with ORIGIN_PRIVATE serves only the edge: its secret, never a user", async () => {
    const closed = await makeApp({
      secret: "s",
      access: await testAccess({ users: null, secret: "s" }),
    });
    const denied = await closed.request("http://builder.example.com/v2/");
    assert.equal(await errorCode(denied), "UNAUTHORIZED");
    assert.equal(
      denied.headers.get("www-authenticate"),
      'Bearer realm="http://builder.example.com/auth/token",service="nixery"',
    );
    const token = await closed.request("http://builder.example.com/auth/token");
    assert.equal(token.status, 401);
    assert.match(
      ((await token.json()) as { errors: { message: string }[] }).errors[0]!.message,
      /serves only its edge: pull from the edge/,
    );
    const secret = { headers: { Authorization: "Bearer s" } };
    assert.equal((await closed.request("/v2/", secret)).status, 200);
    for (const path of ["/", "/healthz", "/metrics"]) {
      assert.equal((await closed.request(path)).status, 401, path);
      assert.equal((await closed.request(path, secret)).status, 200, path);
    }
    assert.equal((await closed.request("/livez")).status, 200);
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
