// Hostile requests for the edge's HTTP front: malformed HTTP, odd but valid HTTP, and well-formed
// registry requests with bad names, tags, digests, ranges and methods. Each case says whether the
// request is well-formed HTTP (then any error must be registry JSON) and which statuses are right.
// Shared by the load script (test/load/hostile.ts) and the test (test/edge-hostile.test.ts).

import { exchange, type Exchange, type RawResponse } from "./raw-http.ts";
import { originPaths } from "../../shared/origin-protocol.ts";

export interface ImageFacts {
  name: string;
  /** A layer's digest and size. */
  layer: string;
  layerSize: number;
  manifestDigest: string;
}

export interface HostileCase {
  name: string;
  bytes: Buffer | string;
  /** Well-formed HTTP: an error answer must be registry JSON. */
  wellFormed: boolean;
  /** Acceptable statuses (default: anything below 500). */
  statuses?: number[];
  head?: boolean;
  /** How many responses the bytes ask for (pipelining); default 1. */
  responses?: number;
}

type Field = [string, string];

function request(
  method: string,
  target: string,
  fields: Field[] = [],
  body: Buffer | string = "",
  options: { host?: string | null; version?: string; close?: boolean } = {},
): Buffer {
  const lines = [`${method} ${target} HTTP/${options.version ?? "1.1"}`];
  if (options.host !== null) lines.push(`Host: ${options.host ?? "127.0.0.1"}`);
  for (const [name, value] of fields) lines.push(`${name}: ${value}`);
  if (options.close !== false) lines.push("Connection: close");
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), Buffer.from(body)]);
}

const tlsClientHello = Buffer.from("16030100a5010000a10303", "hex");

export function hostileCases(image: ImageFacts): HostileCase[] {
  const blob = `/v2/${image.name}/blobs/${image.layer}`;
  const tag = `/v2/${image.name}/manifests/latest`;
  const unknownDigest = `sha256:${"0".repeat(64)}`;
  const cases: HostileCase[] = [];
  const ok = (name: string, bytes: Buffer | string, statuses?: number[], head = false) =>
    cases.push({ name, bytes, wellFormed: true, statuses, head });
  const bad = (name: string, bytes: Buffer | string, statuses: number[]) =>
    cases.push({ name, bytes, wellFormed: false, statuses });

  // Odd but valid HTTP: answered by the registry.
  ok("absolute-form target", request("GET", "http://127.0.0.1/v2/"), [200]);
  ok("absolute-form with odd host", request("GET", "http://a.1/v2/"), [200]);
  ok("absolute-form to a blob", request("HEAD", `http://registry.test${blob}`), [200], true);
  for (const host of [
    "a.1",
    "999.1.1.1",
    "1.2.3.4.5",
    "09.1",
    "example.com:99999",
    "[::1]:1",
    "",
  ]) {
    ok(`Host ${JSON.stringify(host)}`, request("GET", "/v2/", [], "", { host }), [200]);
    ok(
      `Host ${JSON.stringify(host)} on a tag`,
      request("HEAD", tag, [], "", { host }),
      [200],
      true,
    );
  }
  ok(
    "HTTP/1.0 without Host",
    request("GET", "/v2/", [], "", { host: null, version: "1.0" }),
    [200],
  );
  ok("Accept-Encoding *;q=0", request("GET", "/v2/", [["Accept-Encoding", "*;q=0"]]), [200]);
  ok(
    "Accept-Encoding identity;q=0",
    request("GET", tag, [["Accept-Encoding", "identity;q=0"]]),
    [200],
  );
  ok("OPTIONS *", request("OPTIONS", "*"), [200]);
  ok("OPTIONS /v2/", request("OPTIONS", "/v2/"), [405]);
  ok("TRACE", request("TRACE", "/v2/"), [405]);
  ok("PROPFIND", request("PROPFIND", "/v2/"), [501]);
  ok("PURGE", request("PURGE", tag), [501]);
  ok(
    "Expect: 100-continue",
    request(
      "PUT",
      tag,
      [
        ["Expect", "100-continue"],
        ["Content-Length", "2"],
      ],
      "{}",
    ),
    [405],
  );
  ok("Expect: other", request("GET", "/v2/", [["Expect", "tea"]]), [417]);
  ok(
    "Upgrade: websocket",
    request(
      "GET",
      "/v2/",
      [
        ["Connection", "Upgrade"],
        ["Upgrade", "websocket"],
      ],
      "",
      { close: false },
    ),
    [400],
  );
  ok(
    "Connection: close with unread body",
    request(
      "POST",
      `/v2/${image.name}/blobs/uploads/`,
      [["Content-Length", "200000"]],
      Buffer.alloc(200000, 97),
    ),
    [405],
  );
  ok(
    "chunked body",
    request("PATCH", tag, [["Transfer-Encoding", "chunked"]], "5\r\nhello\r\n0\r\n\r\n"),
    [405],
  );
  ok("GET with body", request("GET", "/v2/", [["Content-Length", "5"]], "hello"), [200]);
  ok(
    "many headers",
    request(
      "GET",
      "/v2/",
      Array.from({ length: 90 }, (_, i): Field => [`X-H${i}`, "v"]),
    ),
    [200],
  );
  ok("header with obs-text", request("GET", "/v2/", [["X-Text", "caf\xe9"]]), [200]);
  ok(
    "pipelined",
    Buffer.concat([request("GET", "/v2/", [], "", { close: false }), request("GET", tag)]),
    [200],
  );
  cases[cases.length - 1]!.responses = 2;

  // Well-formed registry requests that are wrong: registry JSON errors.
  for (const path of [
    "/v2/Hello/manifests/latest",
    `/v2/${"a".repeat(300)}/manifests/latest`,
    "/v2/a//b/manifests/latest",
    `/v2/${image.name}/manifests/.INVALID_MANIFEST_NAME`,
    `/v2/${image.name}/manifests/sha256:totallywrong`,
    `/v2/${image.name}/manifests/${unknownDigest}`,
    `/v2/${image.name}/blobs/${unknownDigest}`,
    `/v2/${image.name}/blobs/sha256:zz`,
    `/v2/${image.name}/blobs/md5:abc`,
    `/v2/${image.name}/tags/list?n=abc`,
    `/v2/${image.name}/tags/list?n=-1`,
    `/v2/${image.name}/tags/list?last=%00%ff`,
    "/v2/_catalog",
    "/v2/../../etc/passwd",
    "/v2/%2e%2e/%2e%2e/etc/passwd",
    "/v2/%zz/manifests/latest",
    "/v2/a%2Fb/manifests/latest",
    `/v2/${"x/".repeat(2000)}manifests/latest`,
    "//v2/",
    "/nowhere",
    "/v2/hello/manifests/latest?x=%",
    `/v2/${image.name}/blobs/uploads/`,
  ]) {
    ok(`GET ${path.slice(0, 60)}`, request("GET", path));
  }
  for (const range of [
    "bytes=abc",
    "bytes=0-1,2-3",
    "bytes=99999999999999999999-",
    `bytes=${image.layerSize}-`,
    "bytes=-0",
    "bytes=5-1",
    "items=0-1",
    "bytes=0-0",
  ]) {
    ok(`Range ${range}`, request("GET", blob, [["Range", range]]), [200, 206, 416]);
  }
  for (const etag of [`"${image.layer}"`, "*", 'W/"x"', `"${unknownDigest}"`]) {
    ok(
      `If-None-Match ${etag.slice(0, 20)}`,
      request("GET", blob, [["If-None-Match", etag]]),
      [200, 304],
    );
  }
  ok(
    "If-None-Match on an unknown blob",
    request("GET", `/v2/${image.name}/blobs/${unknownDigest}`, [
      ["If-None-Match", `"${unknownDigest}"`],
    ]),
    [404],
  );
  for (const accept of [
    "",
    "*/*;q=abc",
    "application/vnd.oci.image.index.v1+json",
    "text/html",
    ",,,;;;",
  ]) {
    ok(`Accept ${JSON.stringify(accept)}`, request("GET", tag, [["Accept", accept]]), [200]);
  }
  for (const method of ["PUT", "POST", "DELETE", "PATCH"]) {
    ok(`${method} manifest`, request(method, tag, [["Content-Length", "9"]], "blablabla"), [405]);
    ok(
      `${method} digest`,
      request(method, `/v2/${image.name}/manifests/sha256:totallywrong`),
      [405],
    );
  }
  ok("HEAD unknown blob", request("HEAD", `/v2/${image.name}/blobs/${unknownDigest}`), [404], true);
  ok(
    "HEAD manifest by digest",
    request("HEAD", `/v2/${image.name}/manifests/${image.manifestDigest}`),
    [200],
    true,
  );
  ok("start page", request("GET", "/"), [200]);

  // Malformed HTTP: HTTP-level errors.
  bad("Host a:b:c", request("GET", "/v2/", [], "", { host: "a:b:c" }), [400]);
  bad("Host with a space", request("GET", "/v2/", [], "", { host: "a b" }), [400]);
  bad("Host with a slash", request("GET", "/v2/", [], "", { host: "a/b" }), [400]);
  bad("two Host fields", request("GET", "/v2/", [["Host", "other"]]), [400]);
  bad("HTTP/1.1 without Host", request("GET", "/v2/", [], "", { host: null }), [400]);
  bad("Content-Length abc", request("POST", "/v2/", [["Content-Length", "abc"]]), [400]);
  bad("Content-Length negative", request("POST", "/v2/", [["Content-Length", "-1"]]), [400]);
  bad(
    "two Content-Lengths",
    request(
      "POST",
      "/v2/",
      [
        ["Content-Length", "1"],
        ["Content-Length", "2"],
      ],
      "ab",
    ),
    [400],
  );
  bad(
    "Content-Length and chunked",
    request(
      "POST",
      "/v2/",
      [
        ["Content-Length", "3"],
        ["Transfer-Encoding", "chunked"],
      ],
      "0\r\n\r\n",
    ),
    [400],
  );
  bad(
    "bad chunk size",
    request("POST", "/v2/", [["Transfer-Encoding", "chunked"]], "zz\r\nhello\r\n0\r\n\r\n"),
    [400, 405],
  );
  bad("CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", [405]);
  bad("GET *", request("GET", "*"), [400]);
  bad("authority-form GET", request("GET", "example.com:80"), [400]);
  bad("unknown method", request("FOO", "/v2/"), [501]);
  bad("lowercase method", request("get", "/v2/"), [501, 400]);
  bad("garbage request line", "GARBAGE\r\n\r\n", [400, 501]);
  bad("HTTP/2.0 request line", "GET /v2/ HTTP/2.0\r\nHost: x\r\n\r\n", [505]);
  bad("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", [400, 501, 505]);
  bad("HTTP/1.2", "GET /v2/ HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n", [200, 400, 505]);
  bad("HTTP/0.9", "GET /v2/\r\n\r\n", [400, 505]);
  bad("NUL in a header", request("GET", "/v2/", [["X-Nul", "a\0b"]]), [400]);
  bad(
    "obs-fold",
    "GET /v2/ HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\nConnection: close\r\n\r\n",
    [400],
  );
  bad("space before colon", "GET /v2/ HTTP/1.1\r\nHost : x\r\nConnection: close\r\n\r\n", [400]);
  bad(
    "header without colon",
    "GET /v2/ HTTP/1.1\r\nHost: x\r\nNoColon\r\nConnection: close\r\n\r\n",
    [400],
  );
  bad("20 KiB header", request("GET", "/v2/", [["X-Big", "a".repeat(20 * 1024)]]), [431]);
  bad(
    "non-ASCII in the target",
    Buffer.from("GET /v2/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "latin1"),
    [400],
  );
  bad("space in the target", "GET /v2/a b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", [400]);
  return cases;
}

export interface Tally {
  requests: number;
  /** 5xx answers (501 and 505 where the case expects them excepted: those are right answers). */
  serverErrors: number;
  /** Error answers to well-formed requests that are not registry JSON. */
  nonJsonErrors: number;
  /** Error answers to malformed requests that are not registry JSON. */
  nonJsonHttpErrors: number;
  /** Requests that got no (complete) answer. */
  lost: number;
  /** Answers whose status the case does not allow. */
  wrongStatus: number;
  /** Up to 20 examples of each kind of failure. */
  examples: string[];
  byStatus: Record<string, number>;
}

export function emptyTally(): Tally {
  return {
    requests: 0,
    serverErrors: 0,
    nonJsonErrors: 0,
    nonJsonHttpErrors: 0,
    lost: 0,
    wrongStatus: 0,
    examples: [],
    byStatus: {},
  };
}

function isRegistryJson(response: RawResponse, head: boolean): boolean {
  if (response.headers["content-type"] !== "application/json") return false;
  if (head) return true;
  try {
    const body = JSON.parse(response.body.toString("utf8")) as {
      errors?: { code?: unknown; message?: unknown }[];
    };
    const first = body.errors?.[0];
    return typeof first?.code === "string" && typeof first.message === "string";
  } catch {
    return false;
  }
}

/** Adds one exchange to the tally. */
export function record(tally: Tally, testCase: HostileCase, result: Exchange): void {
  tally.requests++;
  const note = (what: string) => {
    if (tally.examples.length < 40) tally.examples.push(`${what}: ${testCase.name}`);
  };
  const wanted = testCase.responses ?? 1;
  if (result.responses.length < wanted) {
    tally.lost++;
    note(`lost (${result.error ?? "no answer"}, ${result.responses.length}/${wanted})`);
    return;
  }
  for (const response of result.responses) {
    tally.byStatus[response.status] = (tally.byStatus[response.status] ?? 0) + 1;
    const deliberate =
      [501, 505].includes(response.status) && testCase.statuses?.includes(response.status);
    if (response.status >= 500 && !deliberate) {
      tally.serverErrors++;
      note(`${response.status} ${response.body.toString("utf8").slice(0, 400)}`);
    }
    if (response.status >= 400 && !isRegistryJson(response, testCase.head === true)) {
      if (testCase.wellFormed) tally.nonJsonErrors++;
      else tally.nonJsonHttpErrors++;
      note(`non-JSON ${response.status}`);
    }
  }
  const last = result.responses[result.responses.length - 1]!;
  if (testCase.statuses && !testCase.statuses.includes(last.status)) {
    tally.wrongStatus++;
    note(`status ${last.status} not in ${testCase.statuses.join("/")}`);
  }
}

/** Sends `count` requests, cycling through the cases, `concurrency` connections at a time. */
export async function runHostile(
  port: number,
  cases: HostileCase[],
  count: number,
  concurrency: number,
  onProgress?: (tally: Tally) => void,
): Promise<Tally> {
  const tally = emptyTally();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= count) return;
      const testCase = cases[index % cases.length]!;
      const headOnly = [testCase.head === true];
      const result = await exchange(port, testCase.bytes, { headOnly, timeoutMs: 5_000 });
      record(tally, testCase, result);
      if (onProgress && tally.requests % 1000 === 0) onProgress(tally);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return tally;
}

/** A TLS ClientHello: the front must close the connection at once, without an answer. */
export async function tlsProbe(port: number): Promise<Exchange> {
  return exchange(port, tlsClientHello, { timeoutMs: 5_000 });
}

/** The shared secret the origin's storm cases send (start the origin with it as ORIGIN_SECRET). */
export const originSecret = "hostile-origin-secret";

function plainRequest(
  method: string,
  target: string,
  fields: [string, string][],
  body = "",
): string {
  const lines = [`${method} ${target} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close"];
  for (const [name, value] of fields) lines.push(`${name}: ${value}`);
  if (body) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

/** The origin's own storms: failing builds and missing packages, asked for again and again. */
export function originStormCases(): HostileCase[] {
  const cases: HostileCase[] = [];
  const json: [string, string] = ["Content-Type", "application/json"];
  const auth: [string, string] = ["Authorization", `Bearer ${originSecret}`];
  for (const name of ["broken", "nosuchpackage", "hello/nosuchpackage", "hangs-not", "broken"]) {
    const body = JSON.stringify({ name, tag: "latest", waitSeconds: 5 });
    cases.push({
      name: `POST a build of ${name}`,
      bytes: plainRequest("POST", originPaths.builds.path(), [json, auth], body),
      wellFormed: true,
    });
    cases.push({
      name: `POST a build of ${name} without the secret`,
      bytes: plainRequest("POST", originPaths.builds.path(), [json], body),
      wellFormed: true,
      statuses: [401],
    });
    cases.push({
      name: `pull ${name}`,
      bytes: plainRequest("GET", `/v2/${name}/manifests/latest`, []),
      wellFormed: true,
      statuses: [404],
    });
  }
  cases.push({
    name: "POST a build with a broken body",
    bytes: plainRequest("POST", originPaths.builds.path(), [json, auth], "{not json"),
    wellFormed: true,
    statuses: [400],
  });
  return cases;
}
