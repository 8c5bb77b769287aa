// Tests of loading popularity data from a file, a file:// URL and a real HTTP server on 127.0.0.1,
// and of the errors for unreadable sources and JSON of the wrong shape.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { InvalidPopularityData, loadPopularity } from "./popularity.ts";

const data = { "glibc-2.37-8": 300000, "zlib-1.3": 40000, "hello-2.12": 0 };
const expected = new Map(Object.entries(data));

const bodies: Record<string, string> = {
  "/popularity.json": JSON.stringify(data),
  "/broken.json": '{"glibc": 3',
  "/array.json": "[1, 2]",
};

let dir: string;
let server: Server;
let base: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "popularity-test-"));
  await writeFile(join(dir, "popularity.json"), JSON.stringify(data));
  server = createServer((request, response) => {
    const body = bodies[request.url ?? ""];
    response.writeHead(body === undefined ? 404 : 200, { "content-type": "application/json" });
    response.end(body ?? '{"error":"not found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const rejects = (source: string | null, pattern: RegExp) =>
  assert.rejects(loadPopularity(source), (error) => {
    assert.ok(error instanceof InvalidPopularityData, String(error));
    assert.match(error.message, pattern);
    return true;
  });

describe("loadPopularity", () => {
  test("no source means no data", async () => {
    assert.deepEqual(await loadPopularity(null), new Map());
  });

  test("reads a file path", async () => {
    assert.deepEqual(await loadPopularity(join(dir, "popularity.json")), expected);
  });

  test("reads a file:// URL", async () => {
    assert.deepEqual(
      await loadPopularity(pathToFileURL(join(dir, "popularity.json")).href),
      expected,
    );
  });

  test("fetches an http:// URL", async () => {
    assert.deepEqual(await loadPopularity(`${base}/popularity.json`), expected);
  });

  test("uses the fetch it is given", async () => {
    const urls: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      urls.push(String(input));
      return new Response('{"a-1": 5}');
    };
    const popularity = await loadPopularity("https://example.invalid/p.json", fakeFetch);
    assert.deepEqual(popularity, new Map([["a-1", 5]]));
    assert.deepEqual(urls, ["https://example.invalid/p.json"]);
  });

  test("names the source when it cannot be read", async () => {
    await rejects(`${base}/missing.json`, /missing\.json: HTTP 404/);
    await rejects(join(dir, "missing.json"), /missing\.json: cannot read file/);
    await rejects("ftp://example.invalid/p.json", /only file paths/);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await rejects(`http://127.0.0.1:${port}/p.json`, /fetch failed/);
  });

  test("refuses JSON that is broken or not an object of whole numbers", async () => {
    await rejects(`${base}/broken.json`, /broken\.json: not JSON/);
    await rejects(`${base}/array.json`, /expected an object of name → count, got an array/);
    for (const [body, pattern] of [
      ["null", /got null/],
      ['"glibc"', /got string/],
      ['{"glibc": "300000"}', /count of "glibc" must be a whole number ≥ 0, got "300000"/],
      ['{"glibc": -1}', /got -1/],
      ['{"glibc": 1.5}', /got 1.5/],
    ] as const) {
      const file = join(dir, "bad.json");
      await writeFile(file, body);
      await rejects(file, pattern);
    }
  });
});
