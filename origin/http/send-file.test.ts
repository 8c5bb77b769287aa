import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { EventEmitter } from "node:events";
import { mkdtemp, open, rm, writeFile, type FileHandle } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { getRequestListener } from "@hono/node-server";
import { FileBody } from "../storage/file-body.ts";
import { startHardenedServer, type HardenedServer } from "./hardened-server.ts";
import { withFileResponses } from "./send-file.ts";

const blobPath =
  "/v2/a/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000";
const fileBytes = 48 * 1024 * 1024;

let dir: string;
let path: string;
let content: Buffer;
let server: HardenedServer;
/** Every file the app opened, with the bytes read from it and whether it was closed. */
const opened: { handle: FileHandle; bytesRead: number; closed: Promise<void> }[] = [];

/** A file opened for one response, counting what is read from it. */
async function openCounted(): Promise<FileHandle> {
  const handle = await open(path, "r");
  const entry = {
    handle,
    bytesRead: 0,
    // A FileHandle is an EventEmitter that emits "close" (Node ≥ 15.4; not in its typings).
    closed: new Promise<void>((resolve) =>
      (handle as unknown as EventEmitter).once("close", () => resolve()),
    ),
  };
  const read = handle.read.bind(handle) as (...args: unknown[]) => Promise<{ bytesRead: number }>;
  (handle as unknown as { read: typeof read }).read = async (...args) => {
    const result = await read(...args);
    entry.bytesRead += result.bytesRead;
    return result;
  };
  opened.push(entry);
  return handle;
}

async function app(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const start = Number(url.searchParams.get("start") ?? 0);
  // ?claim=N declares N more bytes than the file has (a file cut short under the server).
  const claim = Number(url.searchParams.get("claim") ?? 0);
  const end = Number(url.searchParams.get("end") ?? fileBytes) + claim;
  if (url.pathname.endsWith("/text")) return new Response("not a file", { status: 200 });
  const body = new FileBody({ handle: await openCounted(), start, end, key: "blob" });
  return new Response(body, {
    status: start > 0 || end < fileBytes ? 206 : 200,
    headers: { "Content-Length": String(end - start), "X-Kept": "yes" },
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "send-file-"));
  path = join(dir, "blob");
  content = randomBytes(fileBytes);
  await writeFile(path, content);
  const listener = getRequestListener(withFileResponses(app));
  server = await startHardenedServer("127.0.0.1", 0, (req, res, target) => {
    req.url = target.path;
    void listener(req, res);
  });
});

after(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

const url = (suffix = "") => `http://127.0.0.1:${server.port}${blobPath}${suffix}`;

/** Polls `value` until it stays the same for `quietMs`; fails after a generous deadline. */
async function settled(value: () => number, quietMs = 1000, deadlineMs = 30_000): Promise<number> {
  const deadline = Date.now() + deadlineMs;
  let last = value();
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = value();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return now;
  }
  throw new Error("the value never settled");
}

function rawGet(pathAndQuery: string): Socket {
  const socket = connect(server.port, "127.0.0.1");
  socket.write(`GET ${pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  return socket;
}

test("a whole file is sent with the app's status and headers, and the file is closed", async () => {
  const response = await fetch(url());
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-kept"), "yes");
  assert.equal(response.headers.get("content-length"), String(fileBytes));
  assert.ok(Buffer.from(await response.arrayBuffer()).equals(content));
  await opened.at(-1)!.closed;
});

test("a span is sent from its start to its end, several at once", async () => {
  const spans = [
    [1, 2],
    [5, 3 * 1024 * 1024 + 7],
    [fileBytes - 100, fileBytes],
  ] as const;
  await Promise.all(
    spans.map(async ([start, end]) => {
      const response = await fetch(url(`?start=${start}&end=${end}`));
      assert.equal(response.status, 206);
      const body = Buffer.from(await response.arrayBuffer());
      assert.ok(body.equals(content.subarray(start, end)), `span ${start}-${end}`);
    }),
  );
});

test("a response without a file on a blob path is sent as the app made it", async () => {
  const response = await fetch(url("/text"));
  assert.equal(await response.text(), "not a file");
});

test("a client that does not read holds a bounded part of the file, and leaving closes it", async () => {
  const socket = rawGet(blobPath);
  socket.pause();
  const entry = await (async () => {
    while (opened.length === 0 || opened.at(-1)!.bytesRead === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return opened.at(-1)!;
  })();
  const read = await settled(() => entry.bytesRead);
  // Socket buffers on loopback take a few MiB; the sender adds at most two chunks of 1 MiB.
  assert.ok(read < 20 * 1024 * 1024, `read ${read} bytes for a client that reads nothing`);
  assert.ok(read < fileBytes);
  socket.destroy();
  await entry.closed;
});

test("a client that disconnects mid-body makes the origin close the file", async () => {
  const before = opened.length;
  const socket = rawGet(blobPath);
  let received = 0;
  await new Promise<void>((resolve) => {
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > 4 * 1024 * 1024) {
        socket.destroy();
        resolve();
      }
    });
  });
  assert.equal(opened.length, before + 1);
  await opened.at(-1)!.closed;
  assert.ok(opened.at(-1)!.bytesRead < fileBytes);
});

test("a file shorter than its declared length cuts the connection, never a short 200", async () => {
  const response = await fetch(url("?claim=1000"));
  assert.equal(response.status, 200);
  await assert.rejects(response.arrayBuffer());
  await opened.at(-1)!.closed;
});
