// An in-memory origin for the worker unit tests: answers the edge's OriginClient over `fetch`
// the way origin/ does (the build long-poll, manifests and blobs by digest with Range, tag lists,
// usage reports, the shared secret), from a scenario of plain values, and misbehaves on request
// (corrupt, cut or stalled blob bodies; down). Every request is recorded.

import {
  originPaths,
  type BuildRequest,
  type ExistingBuildStatus,
} from "../../shared/origin-protocol.ts";
import { matchRoute } from "../../shared/routes.ts";
import type { BlobAnswer, OriginCall, OriginScenario } from "./origin-scenario.ts";

const pollPauseMs = 20;
const stallMs = 30_000;

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function errorJson(status: number, code: string, message: string): Response {
  return Response.json({ errors: [{ code, message, detail: null }] }, { status });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A blob body as the scenario says: whole, corrupt, cut off or stalled half-way. */
function blobBody(
  bytes: Uint8Array,
  answer: BlobAnswer,
  chunk: { bytes: number; delayMs: number },
): ReadableStream<Uint8Array> {
  const { readable, writable } = new IdentityTransformStream();
  const writer = writable.getWriter();
  let sent = bytes;
  if (answer === "corrupt") {
    sent = bytes.slice();
    const middle = Math.floor(sent.length / 2);
    sent[middle] = sent[middle]! ^ 0xff;
  }
  const end = answer === "cut" || answer === "stall" ? Math.floor(bytes.length / 2) : bytes.length;
  void (async () => {
    for (let offset = 0; offset < end; offset += chunk.bytes) {
      await writer.write(sent.slice(offset, Math.min(end, offset + chunk.bytes)));
      if (chunk.delayMs > 0) await sleep(chunk.delayMs);
    }
    if (answer === "cut") await writer.abort(new Error("the origin went away"));
    else if (answer === "stall") {
      // Nothing more comes, but the connection stays open (workerd would cancel a request
      // that waits on nothing at all), until the edge gives up on it or a minute passes.
      for (let waited = 0; waited < stallMs; waited += 250) await sleep(250);
      await writer.abort(new Error("the origin timed out"));
    } else await writer.close();
  })().catch(() => {
    // The edge stopped reading (its client went away): nothing more to send.
  });
  return readable;
}

export class MemoryOrigin {
  readonly calls: OriginCall[] = [];
  #scenario: OriginScenario;
  #nextBuild = 1;
  /** Running builds: id → "name:tag" and the polls left before they end. */
  readonly #running = new Map<string, { key: string; pollsLeft: number }>();
  /** Whole-blob GETs so far, per digest (to pick each one's answer). */
  readonly #blobGets = new Map<string, number>();

  constructor(scenario: OriginScenario) {
    this.#scenario = scenario;
  }

  /** Replaces what the origin holds and forgets its builds and counts (calls are kept). */
  reset(scenario: OriginScenario): void {
    this.#scenario = scenario;
    this.#running.clear();
    this.#blobGets.clear();
  }

  fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    this.calls.push({
      method: request.method,
      path: url.pathname + url.search,
      range: request.headers.get("Range"),
    });
    if (this.#scenario.down) throw new Error("connection refused");
    if (request.headers.get("Authorization") !== `Bearer ${this.#scenario.secret}`) {
      return errorJson(401, "UNAUTHORIZED", "the edge's secret is wrong");
    }
    const path = url.pathname;
    if (originPaths.usage.match(path) && request.method === "POST") {
      await request.arrayBuffer();
      return Response.json({ accepted: true }, { status: 202 });
    }
    if (originPaths.builds.match(path) && request.method === "POST") {
      const start = (await request.json()) as BuildRequest;
      this.calls.at(-1)!.build = start.onlyIfBuilt ? "only if built" : "start";
      return this.#startBuild(start);
    }
    const poll = originPaths.build.match(path);
    if (poll) return this.#pollBuild(poll.id);
    const route = matchRoute(path);
    if (route?.kind === "tags") {
      const list = this.#scenario.tagLists[route.name];
      if (!list) return errorJson(404, "NAME_UNKNOWN", `no image ${route.name}`);
      return Response.json({ name: route.name, tags: list });
    }
    if (route?.kind === "manifest") {
      const entry = this.#scenario.manifests[route.reference];
      if (!entry) return errorJson(404, "MANIFEST_UNKNOWN", `no manifest ${route.reference}`);
      return new Response(decode(entry.base64), { headers: { "Content-Type": entry.mediaType } });
    }
    if (route?.kind === "blob") return this.#blob(request, route.digest);
    return errorJson(404, "NOT_FOUND", `no route ${path}`);
  };

  #status(id: string, key: string): ExistingBuildStatus {
    const build = this.#scenario.builds[key]!;
    if (build.failure) return { id, state: "failed", ...build.failure };
    return { id, state: "done", result: build.result! };
  }

  #startBuild(start: BuildRequest): Response {
    const key = `${start.name}:${start.tag}`;
    const build = this.#scenario.builds[key];
    const id = `build-${this.#nextBuild++}`;
    if (!build) {
      if (start.onlyIfBuilt) return Response.json({ id, state: "unbuilt" });
      return Response.json({
        id,
        state: "failed",
        status: 404,
        error: { code: "MANIFEST_UNKNOWN", message: `no package ${start.name}`, detail: null },
      } satisfies ExistingBuildStatus);
    }
    if (start.onlyIfBuilt && build.built === false) return Response.json({ id, state: "unbuilt" });
    build.built = true;
    const polls = build.pendingPolls ?? 0;
    if (polls === 0) return Response.json(this.#status(id, key));
    this.#running.set(id, { key, pollsLeft: polls });
    return Response.json({ id, state: "pending" } satisfies ExistingBuildStatus);
  }

  async #pollBuild(id: string): Promise<Response> {
    const running = this.#running.get(id);
    if (!running) return errorJson(404, "NOT_FOUND", `no build ${id}`);
    await sleep(pollPauseMs);
    if (running.pollsLeft !== -1 && --running.pollsLeft <= 0) {
      this.#running.delete(id);
      return Response.json(this.#status(id, running.key));
    }
    return Response.json({ id, state: "pending" } satisfies ExistingBuildStatus);
  }

  #blob(request: Request, digest: string): Response {
    const entry = this.#scenario.blobs[digest];
    if (!entry) return errorJson(404, "BLOB_UNKNOWN", `no blob ${digest}`);
    const bytes = decode(entry.base64);
    if (request.method === "HEAD") {
      return new Response(null, { headers: { "Content-Length": String(bytes.length) } });
    }
    const range = /^bytes=(\d+)-(\d+)$/.exec(request.headers.get("Range") ?? "");
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(Number(range[2]), bytes.length - 1);
      return new Response(bytes.slice(start, end + 1), {
        status: 206,
        headers: {
          "Content-Length": String(end - start + 1),
          "Content-Range": `bytes ${start}-${end}/${bytes.length}`,
        },
      });
    }
    const count = this.#blobGets.get(digest) ?? 0;
    this.#blobGets.set(digest, count + 1);
    const answer = entry.answers?.[count] ?? "whole";
    const chunk = this.#scenario.chunk ?? { bytes: 64 * 1024, delayMs: 0 };
    return new Response(blobBody(bytes, answer, chunk), {
      headers: { "Content-Length": String(bytes.length) },
    });
  }
}
