// Unit tests of the multipart part plan (R2's limits) and the one-pass file and part hashing.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { hashFile, maxPartSize, maxParts, minPartSize, planParts } from "./s3-multipart.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe("planParts", () => {
  it("cuts equal parts of the preferred size, the last one shorter", () => {
    assert.deepEqual(planParts(12 * MiB + 5, 5 * MiB), { partSize: 5 * MiB, count: 3 });
    assert.deepEqual(planParts(128 * MiB, 64 * MiB), { partSize: 64 * MiB, count: 2 });
  });

  it("never goes below R2's 5 MiB minimum", () => {
    assert.equal(planParts(100 * MiB, MiB).partSize, minPartSize);
  });

  it("grows the part size in whole MiB when 10,000 parts would not do", () => {
    const size = 1024 * GiB; // 1 TiB: 16,384 parts of 64 MiB
    const plan = planParts(size, 64 * MiB);
    assert.equal(plan.partSize % MiB, 0);
    assert.ok(plan.partSize > 64 * MiB);
    assert.ok(plan.count <= maxParts);
    assert.ok(plan.partSize * plan.count >= size);
    assert.equal(planParts(64 * MiB * maxParts, 64 * MiB).partSize, 64 * MiB);
  });

  it("refuses objects beyond 10,000 parts of 5 GiB", () => {
    assert.throws(() => planParts(maxPartSize * maxParts + 1, 64 * MiB));
  });
});

describe("hashFile", () => {
  it("hashes the whole file and each part in one pass", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hash-file-"));
    try {
      const bytes = randomBytes(2 * MiB + 3 * 1024 + 1);
      const path = join(dir, "blob");
      await writeFile(path, bytes);
      const partSize = 700 * 1024;
      const digests = await hashFile(path, partSize);
      assert.equal(digests.size, bytes.length);
      assert.equal(digests.sha256, sha256(bytes));
      const expected: string[] = [];
      for (let start = 0; start < bytes.length; start += partSize) {
        expected.push(sha256(bytes.subarray(start, start + partSize)));
      }
      assert.deepEqual(digests.partSha256s, expected);
      assert.deepEqual((await hashFile(path)).partSha256s, []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
