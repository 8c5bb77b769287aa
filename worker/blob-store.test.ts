// worker/blob-store.ts in workerd against Miniflare's R2, with every R2 call counted
// (test/workerd/blob-store-worker.ts): a ranged read is one R2 operation (the span is asked for
// directly), and the answers match parseRange.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Miniflare } from "miniflare";
import { compatibilityDate } from "../stack/edge-runtime.ts";
import { bundleTestWorker } from "../test/support/workerd-edge.ts";
import type { BlobStoreReadResult as ReadResult } from "../test/workerd/blob-store-worker.ts";

describe("R2BlobStore.read in workerd", () => {
  let miniflare: Miniflare;
  const bytes = randomBytes(1000);
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

  before(async () => {
    miniflare = new Miniflare({
      modules: [
        {
          type: "ESModule",
          path: "index.js",
          contents: await bundleTestWorker("blob-store-worker.ts"),
        },
      ],
      compatibilityDate,
      r2Buckets: ["BLOBS"],
      cf: false,
    });
    const bucket = await miniflare.getR2Bucket("BLOBS");
    await bucket.put(`blobs/sha256/${digest.slice(7)}`, new Uint8Array(bytes));
  });

  after(async () => {
    await miniflare?.dispose();
  });

  async function read(range: string | null, which = digest): Promise<ReadResult> {
    const response = await miniflare.dispatchFetch(
      `http://store.test/?digest=${which}`,
      range ? { headers: { Range: range } } : {},
    );
    return (await response.json()) as ReadResult;
  }

  const cases: [string | null, number, number][] = [
    [null, 0, 999],
    ["bytes=10-19", 10, 19],
    ["bytes=-5", 995, 999],
    ["bytes=900-", 900, 999],
    ["bytes=0-", 0, 999],
    ["bytes=999-999", 999, 999],
  ];
  for (const [range, start, end] of cases) {
    it(`reads ${range ?? "the whole blob"} in one R2 operation`, async () => {
      const result = await read(range);
      assert.deepEqual(result.ops, ["get"]);
      assert.equal(result.size, 1000);
      assert.equal(result.hex, bytes.subarray(start, end + 1).toString("hex"));
      assert.deepEqual(result.range, range === null ? null : { start, end });
    });
  }

  it("clamps a range past the end (at most one more read, where R2 ignores the hint)", async () => {
    const result = await read("bytes=990-5000");
    assert.ok(result.ops.length <= 2, result.ops.join());
    assert.equal(result.hex, bytes.subarray(990).toString("hex"));
    assert.deepEqual(result.range, { start: 990, end: 999 });
  });

  for (const range of ["bytes=1000-", "bytes=abc", "bytes=0-1,4-5", "bytes=-0"]) {
    it(`answers ${range} with 416 and the size`, async () => {
      const result = await read(range);
      assert.equal(result.status, 416);
      assert.equal(result.contentRange, "bytes */1000");
      assert.ok(result.ops.length <= 2, result.ops.join());
    });
  }

  it("says when R2 does not have the blob", async () => {
    const result = await read("bytes=0-9", `sha256:${"4".repeat(64)}`);
    assert.equal(result.found, false);
    assert.deepEqual(result.ops, ["get"]);
  });
});
