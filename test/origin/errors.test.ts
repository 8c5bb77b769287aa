// Every request that can be wrong gets a registry-style JSON error that says what was wrong.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { exitedEarly, startOrigin, type OriginProcess } from "../support/origin-process.ts";
import { waitFor } from "../support/wait-for.ts";

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
    // The messages below are compared whole: wait for the index the origin builds at start, so
    // that none says it is still being built.
    await waitFor(
      "the package index built at start",
      () => origin.logs.some((line) => line.event === "package index ready"),
      { timeoutMs: 120_000, failIf: () => exitedEarly(origin) },
    );
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

  it("names missing packages as typed, digit-first ones too", async () => {
    const entry = await expectError(
      await fetch(`${origin.url}/v2/hello/7zip/tools.9lives/manifests/latest`),
      404,
      "MANIFEST_UNKNOWN",
    );
    assert.equal(
      entry.message,
      "Could not find Nix packages: 7zip, tools.9lives\n" +
        "Found: hello (an image is built only when every package it names can be)",
    );
    assert.deepEqual(entry.detail?.missing, ["7zip", "tools.9lives"]);
  });

  it("says what to do about unfree, insecure and broken packages, in registry terms", async () => {
    const entry = await expectError(
      await fetch(`${origin.url}/v2/insecure-lib/marked-broken/unfree-tool/manifests/latest`),
      404,
      "MANIFEST_UNKNOWN",
    );
    assert.deepEqual(entry.message.split("\n"), [
      "Nix package insecure-lib (insecure-lib-1.1) is marked as insecure in this package set (CVE-2000-0001: a fixture vulnerability), and this origin does not build insecure packages; its operator can allow them with NIXERY_ALLOW_INSECURE=true.",
      "Nix package marked-broken (marked-broken-0.1) is marked as broken in this package set, and this origin does not build broken packages; its operator can allow them with NIXERY_ALLOW_BROKEN=true (the build may still fail).",
      "Nix package unfree-tool (unfree-tool-1.0) has an unfree license in this package set, and this origin does not build unfree packages; its operator can allow them with NIXERY_ALLOW_UNFREE=true.",
    ]);
    assert.equal(origin.logs.filter((l) => l.event === "build started").length, 0);
  });

  it("gives Nix's own message for other throws, without trace or server paths", async () => {
    const entry = await expectError(
      await fetch(`${origin.url}/v2/removed-tool/uses-unfree/manifests/latest`),
      404,
      "MANIFEST_UNKNOWN",
    );
    assert.deepEqual(entry.message.split("\n"), [
      "Nix package removed-tool exists but does not evaluate: removed-tool has been removed from this package set: it was unmaintained",
      "Nix package uses-unfree depends on unfree-tool-1.0, which has an unfree license in this package set, and this origin does not build unfree packages; its operator can allow them with NIXERY_ALLOW_UNFREE=true.",
    ]);
    // Nix's whole output, trace and paths included, is in the origin's log.
    const logged = origin.logs.filter((l) => l.event === "package does not evaluate");
    assert.ok(logged.some((l) => String(l.nixOutput).includes("unfree-tool-1.0")));
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
      /^Could not build broken: broken failed to build \(broken-1\.0, builder exit code 1\)\.\nLast lines of the build log of broken-1\.0:\n/,
    );
    assert.match(entry.message, /\nbroken: error: this package always fails$/);
    assert.deepEqual(entry.detail?.packages, ["broken"]);
    // What Nix printed goes to the origin's log.
    const logged = origin.logs.find((l) => l.event === "build failed" && l.image === "broken");
    assert.match(String(logged?.nixOutput), /broken-1\.0\.drv/);
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
    // The image's page says the same as the registry client was told.
    const page = await fetch(`${origin.url}/broken`, { headers: { Accept: "text/html" } });
    assert.equal(page.status, 404);
    const escaped = entry.message.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
    assert.ok((await page.text()).includes(escaped), "the page shows the registry's message");
  });

  it("stops a build that runs past NIX_TIMEOUT and says so", async () => {
    const started = Date.now();
    const entry = await expectError(
      await fetch(`${origin.url}/v2/hangs/manifests/latest`),
      404,
      "MANIFEST_UNKNOWN",
      /^Building hangs timed out after 4 s \(the origin's limit\) and was stopped/,
    );
    assert.equal(entry.detail?.reason, "build_timeout");
    assert.ok(Date.now() - started < 30_000, "the timeout stopped the build");
  });
});

// The default NIX_TIMEOUT: Nix retries a failed download for about 5 s before it gives up.
describe("an origin that allows unfree packages and has no binary cache", () => {
  let origin: OriginProcess;
  before(async () => {
    origin = await startOrigin({ env: { NIXERY_ALLOW_UNFREE: "true" } });
  });
  after(() => origin?.stop());

  it("builds them, and still refuses what it does not allow", async () => {
    const built = await fetch(`${origin.url}/v2/unfree-tool/manifests/latest`);
    assert.equal(built.status, 200, await built.clone().text());
    await expectError(
      await fetch(`${origin.url}/v2/marked-broken/manifests/latest`),
      404,
      "MANIFEST_UNKNOWN",
      /NIXERY_ALLOW_BROKEN=true/,
    );
  });

  it("says that a source download failed and that the origin has no binary cache", async () => {
    const entry = await expectError(
      await fetch(`${origin.url}/v2/fromsource/manifests/latest`),
      404,
      "MANIFEST_UNKNOWN",
    );
    assert.match(
      entry.message,
      /^Could not build fromsource: fromsource could not be built because its dependency fromsource-1\.0\.tar\.gz could not be downloaded \(unable to download 'http:\/\/127\.0\.0\.1:1\/fromsource-1\.0\.tar\.gz': [^\n]*\)\. 2 derivations had to be built from source\. The origin has no binary cache configured/,
    );
    assert.doesNotMatch(entry.message, /@nix|"action"/);
    assert.equal(entry.detail?.reason, "download_failed");
  });
});
