// A private origin's access control through its HTTP application (app.request), with real
// bcrypt users, real jose tokens and the real limiter: the challenge, the token endpoint as
// each client calls it (GET + Basic, OAuth2 POST, refresh tokens), scopes, expiry, rate limits,
// timing, and the pages that need a login.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import bcrypt from "bcryptjs";
import { accessClaims } from "../../shared/token-claims.ts";
import { makeTestApp, testAccess, writeHtpasswd } from "../../test/support/origin-app.ts";

const host = "http://nix.example.com";
const basic = (user: string, password: string) => ({
  Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`,
});
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const missingBlob = `/v2/hello/blobs/sha256:${"0".repeat(64)}`;

async function body(response: Response): Promise<Record<string, any>> {
  return (await response.json()) as Record<string, any>;
}

async function privateApp(options: Parameters<typeof testAccess>[0] = {}) {
  const access = await testAccess(options);
  const app = await makeTestApp({ secret: options.secret, access });
  const token = async (
    query: string,
    headers: Record<string, string> = basic("alice", "secret"),
  ) => {
    const response = await app.request(`${host}/auth/token?${query}`, { headers });
    return { response, body: await body(response) };
  };
  return { app, access, token };
}

describe("a private origin", () => {
  it("challenges anonymous requests with a URL realm and the scope the route needs", async () => {
    const { app } = await privateApp();
    const ping = await app.request(`${host}/v2/`);
    assert.equal(ping.status, 401);
    assert.equal(ping.headers.get("content-type"), "application/json");
    assert.equal(
      ping.headers.get("www-authenticate"),
      'Bearer realm="http://nix.example.com/auth/token",service="nixery"',
    );
    assert.equal((await body(ping)).errors[0].code, "UNAUTHORIZED");
    const manifest = await app.request(`${host}/v2/shell/git/manifests/latest`);
    assert.equal(
      manifest.headers.get("www-authenticate"),
      'Bearer realm="http://nix.example.com/auth/token",service="nixery",scope="repository:shell/git:pull"',
    );
    assert.match((await body(manifest)).errors[0].message, /docker login nix\.example\.com/);
  });

  it("issues tokens for Basic credentials (GET) that pull what they name and nothing else", async () => {
    const { app, token } = await privateApp();
    const { response, body: granted } = await token(
      "service=nixery&scope=repository:hello:pull,push",
    );
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(granted.token, granted.access_token);
    assert.equal(granted.expires_in, 300);
    assert.equal(granted.scope, "repository:hello:pull");
    assert.ok(Math.abs(Date.parse(granted.issued_at) - Date.now()) < 5000);
    assert.equal(granted.refresh_token, undefined);

    assert.equal(
      (await app.request(`${host}/v2/`, { headers: bearer(granted.token) })).status,
      200,
    );
    const allowed = await app.request(`${host}${missingBlob}`, { headers: bearer(granted.token) });
    assert.equal(allowed.status, 404, "past the guard: the blob is simply unknown");
    const other = await app.request(`${host}/v2/git/blobs/sha256:${"0".repeat(64)}`, {
      headers: bearer(granted.token),
    });
    assert.equal(other.status, 401);
    assert.match(
      other.headers.get("www-authenticate")!,
      /scope="repository:git:pull",error="insufficient_scope"/,
    );
  });

  it("refuses a wrong password and an unknown user alike, then limits the client and the user", async () => {
    const { token } = await privateApp({ maxFailures: 3 });
    const wrong = await token("", basic("alice", "nope"));
    const unknown = await token("", basic("mallory", "nope"));
    for (const { response, body: refused } of [wrong, unknown]) {
      assert.equal(response.status, 401);
      assert.match(response.headers.get("www-authenticate")!, /^Basic realm=/);
      assert.equal(refused.errors[0].message, "incorrect username or password");
    }
    await token("", basic("alice", "nope"));
    const limited = await token("", basic("alice", "secret"));
    assert.equal(limited.response.status, 429, "right password, but past the limit");
    assert.equal(limited.body.errors[0].code, "TOOMANYREQUESTS");
    assert.ok(Number(limited.response.headers.get("retry-after")) > 0);
  });

  it("takes as long for an unknown user as for a wrong password", async () => {
    // A cost where bcrypt is most of a request (about 20 ms): an unknown user who skipped the
    // dummy comparison would answer in a small fraction of the time, far outside the band below,
    // while a busy machine's noise stays inside it.
    const htpasswdPath = await writeHtpasswd({ alice: "secret" }, undefined, 8);
    const { token } = await privateApp({ maxFailures: 1000, htpasswdPath });
    // Interleaved, so warm-up and machine load fall on both alike.
    const times: Record<string, number[]> = { alice: [], nobody: [] };
    for (let i = 0; i < 31; i++) {
      for (const user of ["alice", "nobody"]) {
        const started = performance.now();
        await token("", basic(user, "nope"));
        times[user]!.push(performance.now() - started);
      }
    }
    const median = (values: number[]) => values.sort((a, b) => a - b)[15]!;
    const [known, unknown] = [median(times.alice!), median(times.nobody!)];
    const ratio = unknown / known;
    assert.ok(
      ratio > 0.5 && ratio < 2,
      `unknown ${unknown.toFixed(2)} ms, known ${known.toFixed(2)} ms`,
    );
  });

  it("speaks OAuth2: password grant with a refresh token, refresh grant, revoked by a new password", async () => {
    const { app, access } = await privateApp();
    const form = (fields: Record<string, string>) =>
      app.request(`${host}/auth/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(fields).toString(),
      });
    const login = await form({
      grant_type: "password",
      username: "alice",
      password: "secret",
      service: "nixery",
      client_id: "containerd-client",
      access_type: "offline",
      scope: "repository:hello:pull repository:git:pull",
    });
    assert.equal(login.status, 200);
    const first = await body(login);
    assert.equal(first.scope, "repository:hello:pull repository:git:pull");
    assert.ok(first.refresh_token);

    const refreshed = await form({
      grant_type: "refresh_token",
      refresh_token: first.refresh_token,
      service: "nixery",
      client_id: "docker",
      scope: "repository:shell/git:pull",
    });
    const second = await body(refreshed);
    assert.equal(refreshed.status, 200);
    assert.equal(second.refresh_token, first.refresh_token);
    const used = await app.request(`${host}/v2/shell/git/blobs/sha256:${"0".repeat(64)}`, {
      headers: bearer(second.access_token),
    });
    assert.equal(used.status, 404);

    // A refresh token is no access token.
    const misused = await app.request(`${host}/v2/`, { headers: bearer(first.refresh_token) });
    assert.equal(misused.status, 401);
    assert.match(misused.headers.get("www-authenticate")!, /error="invalid_token"/);

    await writeFile(access.htpasswdPath!, `alice:${bcrypt.hashSync("changed", 5)}\n`);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const revoked = await form({ grant_type: "refresh_token", refresh_token: first.refresh_token });
    assert.equal(revoked.status, 401);
    assert.match((await body(revoked)).errors[0].message, /no longer valid/);
    const relogin = await form({ grant_type: "password", username: "alice", password: "changed" });
    assert.equal(relogin.status, 200);
  });

  it("returns a refresh token to GET with offline_token=true (docker login)", async () => {
    const { token } = await privateApp();
    const { body: granted } = await token("service=nixery&offline_token=true&client_id=docker");
    assert.ok(granted.refresh_token);
    assert.equal(granted.scope, "");
  });

  it("refuses expired, foreign and malformed tokens with invalid_token", async () => {
    const { app, access } = await privateApp();
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = await access.signer.sign(
      accessClaims("alice", [{ type: "repository", name: "hello", actions: ["pull"] }], past, 300),
    );
    for (const token of [expired, "not-a-jwt", `${expired.slice(0, -4)}AAAA`]) {
      const response = await app.request(`${host}${missingBlob}`, { headers: bearer(token) });
      assert.equal(response.status, 401);
      assert.match(response.headers.get("www-authenticate")!, /error="invalid_token"/);
    }
  });

  it("answers malformed token requests with JSON 400/401/405", async () => {
    const { app, token } = await privateApp();
    assert.equal((await token("service=docker.io")).response.status, 400);
    const anonymous = await token("scope=repository:hello:pull", {});
    assert.equal(anonymous.response.status, 401);
    assert.match(anonymous.body.errors[0].message, /private registry: log in first/);
    const post = (init: RequestInit) =>
      app.request(`${host}/auth/token`, { method: "POST", ...init });
    assert.equal((await post({ body: "x" })).status, 400, "not a form");
    const grant = await post({
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    });
    assert.equal(grant.status, 400);
    assert.equal((await app.request(`${host}/auth/token`, { method: "DELETE" })).status, 404);
  });

  it("keeps the start page, readiness and metrics behind a login; liveness stays open", async () => {
    const { app, token } = await privateApp({ secret: "edge-secret" });
    const { body: granted } = await token("");
    for (const path of ["/", "/healthz", "/metrics"]) {
      const refused = await app.request(`${host}${path}`);
      assert.equal(refused.status, 401, path);
      assert.match(refused.headers.get("www-authenticate")!, /^Basic /, path);
      assert.equal(
        (await app.request(`${host}${path}`, { headers: basic("alice", "secret") })).status,
        200,
      );
      assert.equal(
        (await app.request(`${host}${path}`, { headers: bearer(granted.token) })).status,
        200,
      );
      assert.equal(
        (await app.request(`${host}${path}`, { headers: bearer("edge-secret") })).status,
        200,
      );
      assert.equal(
        (await app.request(`${host}${path}`, { headers: basic("alice", "x") })).status,
        401,
      );
    }
    const live = await app.request(`${host}/livez`);
    assert.equal(await live.text(), "ok\n");
    // Image pages and the pages' data need the login too; the script and style do not.
    for (const path of [
      "/hello",
      "/api/instance",
      "/api/images/hello:latest",
      "/api/builds/hello:latest",
    ]) {
      const refused = await app.request(`${host}${path}`, { headers: { Accept: "text/html" } });
      assert.equal(refused.status, 401, path);
      assert.match(refused.headers.get("www-authenticate")!, /^Basic /, path);
    }
    assert.equal((await app.request(`${host}/-/web.js`)).status, 200);
  });

  it("lets the edge in with the shared secret", async () => {
    const { app } = await privateApp({ secret: "edge-secret" });
    assert.equal(
      (await app.request(`${host}/v2/`, { headers: bearer("edge-secret") })).status,
      200,
    );
    assert.equal(
      (await app.request(`${host}/v2/`, { headers: bearer("edge-secreT") })).status,
      401,
    );
  });
});
