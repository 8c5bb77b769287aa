// A pool of worker threads that deflate independent blocks of a layer (see block-gzip.ts). Each
// block is one task; a worker takes the next task when it finishes one, so however many layers
// are packed at once, at most `size` blocks are compressed at a time and the cores stay busy.
//
// Why worker threads and not zlib's asynchronous calls on libuv's threadpool: that pool has four
// threads whatever the core count, and file reads wait behind compression there.

import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

export interface DeflateTask {
  input: Uint8Array;
  /** The 32 KiB of input before this block (empty for the first block). */
  dictionary: Uint8Array;
  level: number;
  /** zlib's memLevel (1–9): the size of its hash table; part of what determines the bytes. */
  memLevel: number;
  /** The last block ends the deflate stream; every other ends on a byte boundary (sync flush). */
  last: boolean;
}

// Plain JavaScript evaluated in the worker, so the pool runs the same under tsx, node and a bundle.
// zlib's result is usually a slice of a larger output buffer (or of Buffer's pool): it is copied
// into memory of its own and transferred, and the input goes back with it for reuse, so a worker
// holds no garbage between tasks. zlib's output buffers still are garbage, and a worker allocates
// too few objects for V8 to collect them soon (it waits for 64 MiB of external memory): a full
// collection every 8 MiB of input, about a millisecond on this tiny heap, keeps a 1 GiB layer's
// peak RSS at ~190 MiB instead of ~240 MiB.
const workerSource = `
const { parentPort } = require("node:worker_threads");
const zlib = require("node:zlib");
const v8 = require("node:v8");
const vm = require("node:vm");
const { Z_FINISH, Z_SYNC_FLUSH } = zlib.constants;
v8.setFlagsFromString("--expose-gc");
const collect = vm.runInNewContext("gc");
let sinceCollect = 0;
parentPort.on("message", ({ input, dictionary, level, memLevel, last }) => {
  sinceCollect += input.byteLength;
  if (sinceCollect >= 8 * 1024 * 1024) {
    sinceCollect = 0;
    collect();
  }
  try {
    const output = zlib.deflateRawSync(input, {
      level,
      memLevel,
      dictionary: dictionary.byteLength > 0 ? dictionary : undefined,
      finishFlush: last ? Z_FINISH : Z_SYNC_FLUSH,
      chunkSize: input.byteLength + 64 * 1024,
    });
    const owns = output.byteOffset === 0 && output.byteLength === output.buffer.byteLength;
    const own = owns ? output : new Uint8Array(output);
    const back = input.byteOffset === 0 && input.byteLength === input.buffer.byteLength;
    parentPort.postMessage({ output: own, input }, back ? [own.buffer, input.buffer] : [own.buffer]);
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message ? error.message : error) });
  }
});
`;

export interface Deflated {
  output: Uint8Array;
  /** The task's input, handed back for reuse. */
  input: Uint8Array;
}

interface Queued {
  task: DeflateTask;
  resolve: (result: Deflated) => void;
  reject: (error: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  busy: Queued | null;
}

export class DeflatePool {
  private readonly workers: PoolWorker[] = [];
  private readonly queue: Queued[] = [];
  private closed = false;

  constructor(readonly size: number = availableParallelism()) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`pool size ${size} is not ≥ 1`);
  }

  /**
   * Deflates one block. The input buffer is transferred to the worker (it is unusable afterwards),
   * so the caller hands over a buffer it owns whole; the dictionary is copied.
   */
  deflate(task: DeflateTask): Promise<Deflated> {
    if (this.closed) return Promise.reject(new Error("the deflate pool is closed"));
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops every worker; queued and running tasks reject. */
  async close(): Promise<void> {
    this.closed = true;
    const error = new Error("the deflate pool is closed");
    for (const queued of this.queue.splice(0)) queued.reject(error);
    await Promise.all(this.workers.splice(0).map((w) => this.stop(w, error)));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let idle = this.workers.find((w) => w.busy === null);
      if (!idle && this.workers.length < this.size) idle = this.spawn();
      if (!idle) return;
      const queued = this.queue.shift()!;
      idle.busy = queued;
      idle.worker.ref(); // a running task keeps the process alive; an idle pool does not
      const { input, dictionary, level, memLevel, last } = queued.task;
      const owned = input.byteOffset === 0 && input.byteLength === input.buffer.byteLength;
      idle.worker.postMessage(
        { input, dictionary, level, memLevel, last },
        owned ? [input.buffer as ArrayBuffer] : [],
      );
    }
  }

  private spawn(): PoolWorker {
    const entry: PoolWorker = { worker: new Worker(workerSource, { eval: true }), busy: null };
    entry.worker.unref();
    entry.worker.on("message", (message: Partial<Deflated> & { error?: string }) => {
      const queued = entry.busy;
      entry.busy = null;
      entry.worker.unref();
      if (message.output && message.input) {
        queued?.resolve({ output: message.output, input: message.input });
      } else queued?.reject(new Error(`deflate failed: ${message.error}`));
      this.dispatch();
    });
    const fail = (error: Error) => {
      const index = this.workers.indexOf(entry);
      if (index >= 0) this.workers.splice(index, 1);
      entry.busy?.reject(error);
      entry.busy = null;
      if (!this.closed) this.dispatch();
    };
    entry.worker.on("error", fail);
    entry.worker.on("exit", (code) => fail(new Error(`a deflate worker exited (code ${code})`)));
    this.workers.push(entry);
    return entry;
  }

  private async stop(entry: PoolWorker, error: Error): Promise<void> {
    entry.busy?.reject(error);
    entry.busy = null;
    await entry.worker.terminate();
  }
}

let shared: DeflatePool | null = null;

/** The process's pool, one worker per core, started on first use; idle workers hold no process open. */
export function sharedDeflatePool(): DeflatePool {
  shared ??= new DeflatePool();
  return shared;
}
