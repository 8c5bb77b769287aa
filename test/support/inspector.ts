// A DevTools protocol client for workerd's inspector (Miniflare's `inspectorPort`), enough for the
// memory benchmark and tests: one Worker's JS heap (Runtime.getHeapUsage after a full collection)
// and a heap snapshot. Node 20 has no WebSocket client, so this speaks the protocol's small part
// it needs (RFC 6455: masked text frames out; text, continuation, ping and close frames in) over
// node:http's upgrade.

import { randomBytes } from "node:crypto";
import { request } from "node:http";
import type { Socket } from "node:net";

export interface HeapUsage {
  /** Bytes of live JS objects (after a full collection when asked for one). */
  usedSize: number;
  /** Bytes V8 has reserved for the heap. */
  totalSize: number;
}

export interface InspectorSession {
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** The Worker's heap, after a full garbage collection. */
  heapUsage(): Promise<HeapUsage>;
  /** A heap snapshot (.heapsnapshot JSON, as Chrome's DevTools reads it). */
  heapSnapshot(): Promise<string>;
  close(): void;
}

/** The inspector target of a Worker Miniflare runs under `name` (its own, not Miniflare's). */
export function workerTarget(name: string): string {
  return `core:user:${name}`;
}

/** Opens a session with one isolate (`target`, an id of /json/list) of workerd's inspector. */
export async function openInspector(inspector: URL, target: string): Promise<InspectorSession> {
  const socket = await upgrade(new URL(`/${target}`, inspector.href.replace(/^ws/, "http")));
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const listeners = new Set<(method: string, params: Record<string, unknown>) => void>();
  let nextId = 1;
  let closed: Error | null = null;

  const fail = (error: Error) => {
    closed ??= error;
    for (const { reject } of pending.values()) reject(closed);
    pending.clear();
  };
  readFrames(socket, (text) => {
    const message = JSON.parse(text) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
      method?: string;
      params?: Record<string, unknown>;
    };
    if (message.id !== undefined) {
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) waiter?.reject(new Error(`inspector: ${message.error.message}`));
      else waiter?.resolve(message.result);
    } else if (message.method) {
      for (const listener of listeners) listener(message.method, message.params ?? {});
    }
  });
  socket.on("error", fail);
  socket.on("close", () => fail(new Error("inspector connection closed")));

  const call = <T>(method: string, params: Record<string, unknown> = {}): Promise<T> => {
    if (closed) return Promise.reject(closed);
    const id = nextId++;
    const answer = new Promise<T>((resolve, reject) =>
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject }),
    );
    socket.write(textFrame(JSON.stringify({ id, method, params })));
    return answer;
  };

  const snapshot = async (onChunk: (chunk: string) => void) => {
    const listener = (method: string, params: Record<string, unknown>) => {
      if (method === "HeapProfiler.addHeapSnapshotChunk") onChunk(String(params.chunk));
    };
    listeners.add(listener);
    try {
      await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    } finally {
      listeners.delete(listener);
    }
  };

  return {
    call,
    async heapUsage() {
      // workerd never answers HeapProfiler.collectGarbage (1.20260426); a snapshot collects
      // garbage first, so the usage read after one counts live objects only.
      await snapshot(() => {});
      return call<HeapUsage>("Runtime.getHeapUsage");
    },
    async heapSnapshot() {
      const chunks: string[] = [];
      await snapshot((chunk) => chunks.push(chunk));
      return chunks.join("");
    },
    close() {
      socket.end();
      socket.destroy();
    },
  };
}

function upgrade(url: URL): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
        "Sec-WebSocket-Version": "13",
      },
    });
    req.on("upgrade", (_response, socket, head) => {
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.on("response", (response) => {
      response.resume();
      reject(new Error(`inspector at ${url.href} answered ${response.statusCode}, not an upgrade`));
    });
    req.on("error", reject);
    req.end();
  });
}

function textFrame(text: string): Buffer {
  return frame(0x1, Buffer.from(text));
}

/** One final, masked frame (a client must mask every frame). */
function frame(opcode: number, data: Buffer): Buffer {
  const payload = Buffer.from(data);
  const mask = randomBytes(4);
  const length = payload.length;
  const first = 0x80 | opcode;
  const header =
    length < 126
      ? Buffer.from([first, 0x80 | length])
      : length < 65536
        ? Buffer.from([first, 0x80 | 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([first, 0x80 | 127]), bigEndian64(length)]);
  for (let i = 0; i < length; i++) payload[i]! ^= mask[i % 4]!;
  return Buffer.concat([header, mask, payload]);
}

function bigEndian64(value: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(value));
  return bytes;
}

/** Calls `onText` with each whole text message; answers pings, ends on a close frame. */
function readFrames(socket: Socket, onText: (text: string) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  let message: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    for (;;) {
      if (buffered.length < 2) return;
      const fin = (buffered[0]! & 0x80) !== 0;
      const opcode = buffered[0]! & 0x0f;
      const masked = (buffered[1]! & 0x80) !== 0;
      let length = buffered[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffered.length < 4) return;
        length = buffered.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffered.length < 10) return;
        length = Number(buffered.readBigUInt64BE(2));
        offset = 10;
      }
      const maskKey = masked ? buffered.subarray(offset, offset + 4) : null;
      if (masked) offset += 4;
      if (buffered.length < offset + length) return;
      const payload = Buffer.from(buffered.subarray(offset, offset + length));
      buffered = buffered.subarray(offset + length);
      if (maskKey) for (let i = 0; i < payload.length; i++) payload[i]! ^= maskKey[i % 4]!;
      if (opcode === 0x8) {
        socket.end();
        return;
      }
      if (opcode === 0x9) {
        socket.write(frame(0xa, payload));
        continue;
      }
      if (opcode === 0x1 || opcode === 0x2 || opcode === 0x0) {
        message.push(payload);
        if (fin) {
          onText(Buffer.concat(message).toString("utf8"));
          message = [];
        }
      }
    }
  });
}
