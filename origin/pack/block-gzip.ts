// Gzip on every core, with bytes that depend only on the input (the pigz technique).
//
// The input is cut into blocks of exactly `gzipBlockBytes` (the last one shorter). Each block is
// deflated on its own, primed with the 32 KiB of input before it as a preset dictionary (so
// matches reach back across the cut as they would in one stream), and ends with a sync flush: an
// empty stored block that brings the output to a byte boundary without ending the stream. The
// last block ends with Z_FINISH, which marks its final deflate block. Concatenated, the blocks
// are one raw deflate stream; one gzip header before it and one trailer (CRC-32 and length of
// the uncompressed input) after it make a gzip file that gzip(1), zlib and every registry client
// read as usual.
//
// What decides the bytes: the input, the block size, the level, the memLevel and zlib's version — never how
// many workers ran or which block finished first (results are written in input order). Changing
// `gzipBlockBytes` changes every layer digest, so it is a constant, not a setting.
//
// Cost against one zlib stream: a few hundred bytes per MiB (the flush markers and dictionary
// priming), about 0.1 % at level 6 on binaries.

import * as zlib from "node:zlib";
import type { Deflated, DeflatePool } from "./deflate-pool.ts";

export const gzipBlockBytes = 1024 * 1024;
const dictionaryBytes = 32 * 1024;

export interface BlockGzipOptions {
  level: number;
  /**
   * zlib's memLevel. 9 (the packer's since pack-v3) gives zlib a hash table twice the default's:
   * measured here at level 6 on 64 MiB of binaries, text and store paths, 8–25 % less CPU for
   * output within ±0.2 % of memLevel 8's size. 8 (zlib's default) made pack-v2's layers.
   */
  memLevel: number;
  pool: DeflatePool;
  /** Blocks compressed or waiting to be written at once; bounds memory. Default: 2 per worker. */
  maxInFlight?: number;
}

/**
 * A pipeline stage: reads uncompressed chunks and yields the gzip file's bytes in order.
 * Chunks read are not kept (the caller may reuse them after the next read).
 */
export function blockGzip(options: BlockGzipOptions) {
  const maxInFlight = options.maxInFlight ?? options.pool.size * 2;
  return async function* (source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    yield gzipHeader(options.level);
    const pending: Promise<Deflated>[] = [];
    /** Block buffers back from the workers, reused: memory stays at maxInFlight + 2 blocks. */
    const spare: Uint8Array[] = [];
    const newBlock = () => spare.pop() ?? new Uint8Array(gzipBlockBytes);
    const next = async () => {
      const { output, input } = await pending.shift()!;
      if (input.byteLength === gzipBlockBytes && spare.length < 2) spare.push(input);
      return output;
    };
    let crc = 0;
    let length = 0;
    let block = newBlock();
    let filled = 0;
    let dictionary = new Uint8Array(0);
    /** A full block not sent yet: it is the last one if no more input comes. */
    let held: Uint8Array | null = null;

    const send = (input: Uint8Array, last: boolean) => {
      const primer = dictionary;
      // Taken before the input is transferred to a worker.
      dictionary = input.slice(Math.max(0, input.byteLength - dictionaryBytes));
      const task = options.pool.deflate({
        input,
        dictionary: primer,
        level: options.level,
        memLevel: options.memLevel,
        last,
      });
      task.catch(() => {}); // awaited in order below; this only keeps a later rejection handled
      pending.push(task);
    };

    for await (const chunk of source) {
      // Node's zlib.crc32 answers 0 for an empty buffer without memory (new Uint8Array()), not
      // the running value: empty chunks (an empty file's content) are skipped.
      if (chunk.byteLength === 0) continue;
      crc = crc32(chunk, crc);
      length += chunk.byteLength;
      let offset = 0;
      while (offset < chunk.byteLength) {
        if (held) {
          send(held, false);
          held = null;
        }
        const n = Math.min(gzipBlockBytes - filled, chunk.byteLength - offset);
        block.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === gzipBlockBytes) {
          held = block;
          block = newBlock();
          filled = 0;
        }
        while (pending.length >= maxInFlight) yield await next();
      }
    }
    // A held block is never followed by buffered bytes: the first byte after it sends it.
    if (held) send(held, true);
    else send(block.slice(0, filled), true);
    while (pending.length > 0) yield await next();
    yield gzipTrailer(crc, length);
  };
}

/** The 10-byte header zlib writes: no name, mtime 0, XFL as zlib sets it for the level, OS Unix. */
function gzipHeader(level: number): Uint8Array {
  const xfl = level === 9 ? 2 : level < 2 ? 4 : 0;
  return Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3);
}

function gzipTrailer(crc: number, length: number): Uint8Array {
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  return trailer;
}

/** zlib.crc32 arrived in Node 20.15; older Nodes get a table implementation (same values). */
const nodeCrc32 = (zlib as { crc32?: (data: Uint8Array, value: number) => number }).crc32;
const crc32: (data: Uint8Array, value: number) => number = nodeCrc32 ?? tableCrc32;

let crcTable: Uint32Array | null = null;

export function tableCrc32(data: Uint8Array, value = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~value >>> 0;
  for (let i = 0; i < data.byteLength; i++) c = crcTable[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
