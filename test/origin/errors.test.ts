// Every request that can be wrong gets a registry-style JSON error that says what was wrong.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";

interface ErrorEntry {
  code: string;
  message: string;
  detail?: Record<string, unknown>;
}

async function expectError(
  response: Response,
  status: number,
  code: string,
  message?: RegExp,
): Promise<ErrorEntry> {
  assert.equal(response.status, status, `status for ${response.url}`);
  assert.equal(response.headers.get("content-type"), "application/json");
  const body = (await response.json()) as { errors: ErrorEntry[] };
  const [entry] = body.errors;
  assert.ok(entry, "one error entry");
  assert.equal(entry.code, code);
  if (message) assert.match(entry.message, message);
  return entry;
}

describe("bad input and failed builds", () => {
  let origin: OriginProcess;
  before(async () => {
    origin = await startOrigin({ env: { NIX_TIMEOUT: "4" } });
  });
  after(() => origin?.stop());

  it("names every unknown package at once, without building", async () => {
    const entry = await expectError(
      await fetch(`${origin.url}/v2/hello/nosuchthing/alsomissing/manifests/latest`),
      404,
      "MANIFEST_UNKNOWN",
      /Could not find Nix packages: alsomissing, nosuchthing/,
    );
    assert.deepEqual(entry.detail?.missing, ["alsomissing", "nosuchthing"]);
    assert.equal(origin.logs.filter((l) => l.event === "build started").length, 0);
  });

  it("treats Nix syntax in a name as a plain (missing) name", async () => {
    await expectError(
      await fetch(`${origin.url}/v2/hello/manifests/latest`.replace("hello", "a.b--c")),
      404,
      "MANIFEST_UNKNOWN",
      /a\.b--c/,
    );
  });

  it("rejects invalid names and digests, and finds no manifest for an invalid tag", async () => {
    await expectError(
      await fetch(`${origin.url}/v2/Hello/manifests/latest`),
      400,
      "NAME_INVALID",
      /"Hello"/,
    );
    // A reference that can be no tag names no manifest: 404, as the OCI spec has it.
    await expectError(
      await fetch(`${origin.url}/v2/hello/manifests/-bad`),
      404,
      "MANIFEST_UNKNOWN",
      /not start with/,
    );
    await expectError(
      await fetch(`${origin.url}/v2/hello/manifests/sha256:1234`),
      400,
      "DIGEST_INVALID",
      /64 lowercase hex/,
    );
    await expectError(await fetch(`${origin.url}/v2/hello/blobs/md5:abc`), 400, "DIGEST_INVALID");
    await expectError(
      await fetch(`${origin.url}/v2/hello/blobs/sha256:${"0".repeat(64)}`),
      404,
      "BLOB_UNKNOWN",
    );
    await expectError(
      await fetch(`${origin.url}/v2/hello/manifests/sha256:${"0".repeat(64)}`),
      404,
      "MANIFEST_UNKNOWN",
    );
  });

  it("refuses pushes as UNSUPPORTED and unknown routes as NOT_FOUND, all in JSON", async () => {
    await expectError(
      await fetch(`${origin.url}/v2/hello/blobs/uploads/`, { method: "POST" }),
      405,
      "UNSUPPORTED",
    );
    await expectError(
      await fetch(`${origin.url}/v2/hello/manifests/latest`, { method: "PUT", body: "{}" }),
      405,
      "UNSUPPORTED",
    );
    await expectError(
      await fetch(`${origin.url}/v2/hello/manifests/latest`, { method: "DELETE" }),
      405,
      "UNSUPPORTED",
    );
    await expectError(await fetch(`${origin.url}/v2/hello/whatever`), 404, "NOT_FOUND");
    await expectError(await fetch(`${origin.url}/nope`), 404, "NOT_FOUND");
    const head = await fetch(`${origin.url}/nope`, { method: "HEAD" });
    assert.equal(head.status, 404);
    assert.equal(head.headers.get("content-type"), "application/json");
  });

  it("reports a failing build with its derivation and the tail of its log", async () => {
    const entry = await expectError(
      await fetch(`${origin.url}/v2/broken/manifests/latest`),
      404,
      "MANIFEST_UNKNOWN",
      /image build failed: .*broken-1\.0\.drv/s,
    );
    assert.match(entry.message, /this package always fails/);
    assert.equal(entry.detail?.reason, "build_failed");
    // A retry within NIXERY_FAILURE_TTL_SECONDS gets the same answer without a second build.
    const builds = origin.logs.filter((l) => l.event === "build started").length;
    const again = await expectError(
      await fetch(`${origin.url}/v2/broken/manifests/latest`),
      404,
      "MANIFEST_UNKNOWN",
    );
    assert.equal(again.message, entry.message);
    assert.equal(origin.logs.filter((l) => l.event === "build started").length, builds);
    const page = await (await fetch(`${origin.url}/`)).text();
    assert.match(page, /broken/);
  });

  it("stops a build that runs past NIX_TIMEOUT and says so", async () => {
    const started = Date.now();
    const entry = await expectError(
      await fetch(`${origin.url}/v2/hangs/manifests/latest`),
      404,
      "MANIFEST_UNKNOWN",
      /timed out after 4 s/,
    );
    assert.equal(entry.detail?.reason, "build_timeout");
    assert.ok(Date.now() - started < 30_000, "the timeout stopped the build");
  });
});
