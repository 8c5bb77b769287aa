// Block gzip: one valid gzip stream (node's gunzip and gzip(1) read it back), bytes that depend on
// the input only (1, 2 and 4 workers, and any chunking of the input, give the same file), and the
// edges of the block cut: empty input, one byte, a block minus one, exactly one and two blocks.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { after, describe, it } from "node:test";
import { crc32, gunzipSync } from "node:zlib";
import { blockGzip, gzipBlockBytes, tableCrc32 } from "./block-gzip.ts";
import { DeflatePool } from "./deflate-pool.ts";

const pools = new Map([1, 2, 4].map((size) => [size, new DeflatePool(size)]));
after(() => Promise.all([...pools.values()].map((pool) => pool.close())));

/** Partly compressible, deterministic bytes: hash blocks interleaved with runs and text. */
function sample(length: number, seed = "seed"): Uint8Array {
  const out = new Uint8Array(length);
  let hash = createHash("sha512").update(seed).digest();
  for (let offset = 0, i = 0; offset < length; i++) {
    const piece =
      i % 3 === 0
        ? hash
        : i % 3 === 1
          ? Buffer.alloc(200 + (i % 97), i)
          : Buffer.from(`line ${i} of the sample, repeated words repeated words\n`);
    out.set(piece.subarray(0, Math.min(piece.byteLength, length - offset)), offset);
    offset += piece.byteLength;
    if (i % 3 === 0) hash = createHash("sha512").update(hash).digest();
  }
  return out;
}

async function gzipOf(input: Uint8Array, pool: DeflatePool, chunkBytes = 100_000) {
  async function* chunks() {
    for (let offset = 0; offset < input.byteLength; offset += chunkBytes) {
      yield input.subarray(offset, offset + chunkBytes);
    }
  }
  const parts: Uint8Array[] = [];
  for await (const part of blockGzip({ level: 6, memLevel: 9, pool })(chunks())) parts.push(part);
  return Buffer.concat(parts);
}

function gzipTest(gz: Uint8Array): void {
  const result = spawnSync("gzip", ["-t"], { input: gz });
  assert.equal(result.status, 0, result.stderr.toString());
}

describe("blockGzip", () => {
  const sizes = [
    0,
    1,
    gzipBlockBytes - 1,
    gzipBlockBytes,
    gzipBlockBytes + 1,
    2 * gzipBlockBytes,
    5 * gzipBlockBytes + 12_345,
  ];
  for (const size of sizes) {
    it(`gives one gzip stream of ${size} bytes, the same with 1, 2 and 4 workers`, async () => {
      const input = sample(size, `size ${size}`);
      const [one, ...others] = await Promise.all(
        [...pools.values()].map((pool) => gzipOf(input, pool)),
      );
      for (const other of others) assert.ok(one!.equals(other), "same bytes for every pool size");
      assert.ok(gunzipSync(one!).equals(input));
      gzipTest(one!);
      assert.equal(one!.readUInt32LE(one!.byteLength - 4), size);
      assert.equal(one!.readUInt32LE(one!.byteLength - 8), crc32(input));
    });
  }

  it("does not depend on how the input is chunked", async () => {
    const input = sample(3 * gzipBlockBytes + 777);
    const pool = pools.get(2)!;
    const a = await gzipOf(input, pool, 4096);
    const b = await gzipOf(input, pool, 1_500_000);
    const c = await gzipOf(input, pool, 3 * gzipBlockBytes + 777);
    assert.ok(a.equals(b) && a.equals(c));
  });

  it("keeps the CRC across empty chunks (an empty file's content)", async () => {
    async function* chunks() {
      yield new TextEncoder().encode("before");
      yield new Uint8Array(); // no backing memory: zlib.crc32 answers 0 for it
      yield new TextEncoder().encode("after");
    }
    const parts: Uint8Array[] = [];
    for await (const part of blockGzip({ level: 6, memLevel: 9, pool: pools.get(1)! })(chunks())) {
      parts.push(part);
    }
    assert.equal(gunzipSync(Buffer.concat(parts)).toString(), "beforeafter");
  });

  it("compresses across block cuts (each block primed with the input before it)", async () => {
    // Random bytes, then their last 16 KiB again just after the cut: the repeat costs little only
    // if the second block's matches reach back into the first.
    const random = createHash("sha256");
    const half = new Uint8Array(gzipBlockBytes);
    for (let offset = 0; offset < half.byteLength; offset += 32) {
      half.set(random.copy().update(String(offset)).digest(), offset);
    }
    const input = Buffer.concat([half, half.subarray(half.byteLength - 16 * 1024)]);
    const gz = await gzipOf(input, pools.get(2)!);
    assert.ok(gz.byteLength < half.byteLength + 4096, `${gz.byteLength} bytes`);
  });

  it("computes CRC-32 as zlib does with the table fallback", () => {
    const input = sample(100_000);
    assert.equal(tableCrc32(input), crc32(input));
    assert.equal(tableCrc32(input.subarray(50)), crc32(input.subarray(50)));
    assert.equal(tableCrc32(input.subarray(50), tableCrc32(input.subarray(0, 50))), crc32(input));
  });

  it("rejects when the pool is closed, and a new pool works", async () => {
    const pool = new DeflatePool(1);
    await pool.close();
    await assert.rejects(gzipOf(sample(10), pool), /closed/);
    const fresh = new DeflatePool(1);
    assert.ok(gunzipSync(await gzipOf(sample(10), fresh)).equals(sample(10)));
    await fresh.close();
  });
});
