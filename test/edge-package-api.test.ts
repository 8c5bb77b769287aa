// The package API through the edge (real workerd) to a real origin (real Nix on the
// nixpkgs-shaped fixture set): the edge forwards with the origin secret and passes the origin's
// answers and registry errors on; the origin answers the same directly.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { PackageSearchResponse } from "../shared/package-api.ts";
import { startEdgeWorker, type EdgeWorker } from "./support/edge-worker.ts";
import { startOrigin, type OriginProcess } from "./support/origin-process.ts";

const secret = "edge-package-api-secret";
const pkgsPath = fileURLToPath(new URL("./fixtures/index-pkgs", import.meta.url));

describe("package API at the edge", () => {
  let origin: OriginProcess;
  let edge: EdgeWorker;

  before(async () => {
    origin = await startOrigin({ env: { ORIGIN_SECRET: secret }, pkgsPath });
    edge = await startEdgeWorker({ originUrl: origin.url, originSecret: secret });
  });
  after(async () => {
    await edge?.stop();
    await origin?.stop();
  });

  it("searches through the edge once the index is built", async () => {
    const deadline = Date.now() + 120_000;
    let body: PackageSearchResponse;
    for (;;) {
      const response = await edge.fetch("/api/packages?q=htop&limit=5");
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "application/json");
      body = (await response.json()) as PackageSearchResponse;
      if (body.index === "ready" || Date.now() > deadline) break;
      assert.equal(body.index, "building");
      await new Promise((done) => setTimeout(done, 250));
    }
    assert.equal(body.index, "ready");
    assert.equal(body.revision, "local");
    assert.equal(body.results[0]?.attr, "htop");
    const direct = (await (
      await fetch(`${origin.url}/api/packages?q=htop&limit=5`)
    ).json()) as PackageSearchResponse;
    assert.deepEqual(direct, body);
  });

  it("passes the origin's registry errors on", async () => {
    const missing = await edge.fetch("/api/packages/htpo");
    assert.equal(missing.status, 404);
    const body = (await missing.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]?.code, "NAME_UNKNOWN");
    assert.match(body.errors[0]!.message, /No package htpo in revision local; did you mean htop\?/);
    const bad = await edge.fetch("/api/packages?q=x&limit=500");
    assert.equal(bad.status, 400);
    assert.equal(
      ((await bad.json()) as { errors: { code: string }[] }).errors[0]?.code,
      "BAD_REQUEST",
    );
  });
});
