// Storms a public origin meets: many requests at once for the same image whose build fails or
// whose packages do not exist. They join one job or get its remembered answer, the origin stays
// up, and the work it does is bounded (counted at /metrics as Nix processes started).

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startOrigin, type OriginProcess } from "../support/origin-process.ts";
import { originPaths } from "../../shared/origin-protocol.ts";

const secret = "storm-test-secret";

async function nixProcesses(origin: OriginProcess, command: string): Promise<number> {
  const text = await (await fetch(`${origin.url}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`nixery_nix_processes_total{command="${command}"}`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

function postBuild(origin: OriginProcess, name: string, waitSeconds = 30): Promise<Response> {
  return fetch(`${origin.url}${originPaths.builds.path()}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name, tag: "latest", waitSeconds }),
  });
}

describe("request storms", () => {
  let origin: OriginProcess;
  before(async () => {
    origin = await startOrigin({
      env: { ORIGIN_SECRET: secret, NIXERY_FAILURE_TTL_SECONDS: "60" },
    });
  });
  after(() => origin?.stop());

  it("survives concurrent build requests for a failing build and for missing packages", async () => {
    const names = ["broken", "nosuchpackage", "hello/nosuchpackage", "broken"];
    const responses = await Promise.all(
      Array.from({ length: 6 }, () => names.map((name) => postBuild(origin, name))).flat(),
    );
    for (const response of responses) {
      assert.equal(response.status, 200);
      const status = (await response.json()) as {
        state: string;
        status: number;
        error: { code: string };
      };
      assert.equal(status.state, "failed");
      assert.equal(status.status, 404);
      assert.equal(status.error.code, "MANIFEST_UNKNOWN");
    }
    const base = await fetch(`${origin.url}/v2/`);
    assert.equal(base.status, 200, "the origin still answers");
    assert.equal(origin.process.exitCode, null);
    assert.equal(
      await nixProcesses(origin, "nix-store --realise"),
      1,
      "one build of broken for 12 requests",
    );
    assert.ok(!origin.logs.some((line) => line.level === "error"), "no bug was logged");
  });

  it("answers a storm for an unknown package with one evaluation", async () => {
    const before = await nixProcesses(origin, "nix-instantiate --eval");
    const url = `${origin.url}/v2/hello/neverheardof/manifests/latest`;
    const concurrent = await Promise.all(Array.from({ length: 50 }, () => fetch(url)));
    for (const response of concurrent) {
      assert.equal(response.status, 404);
      assert.equal(response.headers.get("content-type"), "application/json");
      await response.arrayBuffer();
    }
    for (let i = 0; i < 50; i++) {
      const response = await fetch(url);
      assert.equal(response.status, 404);
      await response.arrayBuffer();
    }
    assert.equal(await nixProcesses(origin, "nix-instantiate --eval"), before + 1);
    const metrics = await (await fetch(`${origin.url}/metrics`)).text();
    assert.match(metrics, /nixery_build_requests_total\{result="failure_repeated"\} [1-9]/);
  });
});
