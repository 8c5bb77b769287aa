import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Digest } from "./digest.ts";
import { isFresh, parseTagRecord, remainingSeconds, tagRecordFrom } from "./tag-record.ts";

const d = (c: string) => `sha256:${c.repeat(64)}` as Digest;
const result = {
  name: "hello",
  tag: "latest",
  revision: null,
  pinned: false,
  maxAgeSeconds: 300,
  manifests: { docker: { digest: d("a"), size: 1 }, oci: { digest: d("b"), size: 2 } },
};

describe("tag records", () => {
  it("expire after the origin's max-age and say how long they stay fresh", () => {
    const record = tagRecordFrom(result, 1_000);
    assert.equal(record.expiresAt, 301_000);
    assert.ok(isFresh(record, 300_999));
    assert.ok(!isFresh(record, 301_000));
    assert.equal(remainingSeconds(record, 1_000), 300);
    assert.equal(remainingSeconds(record, 400_000), 0);
  });

  it("round-trip through JSON and read malformed values as absent", () => {
    const record = tagRecordFrom(result, 5);
    assert.deepEqual(parseTagRecord(JSON.stringify(record)), record);
    for (const text of [
      null,
      "not json",
      "42",
      JSON.stringify({ ...record, expiresAt: "soon" }),
      JSON.stringify({ ...record, manifests: { docker: record.manifests.docker } }),
      JSON.stringify({
        ...record,
        manifests: { ...record.manifests, oci: { digest: "sha256:x", size: 1 } },
      }),
    ]) {
      assert.equal(parseTagRecord(text), null, String(text));
    }
  });

  it("carry a name's index and its platforms, and read a malformed index as absent", () => {
    const index = {
      manifests: { docker: { digest: d("c"), size: 3 }, oci: { digest: d("e"), size: 4 } },
      platforms: [
        { platform: "linux/amd64", manifests: result.manifests },
        {
          platform: "linux/arm64",
          manifests: { docker: { digest: d("f"), size: 5 }, oci: { digest: d("1"), size: 6 } },
        },
      ],
    };
    const record = tagRecordFrom({ ...result, index }, 5);
    assert.deepEqual(parseTagRecord(JSON.stringify(record)), record);
    for (const bad of [
      null,
      { ...index, platforms: "linux/arm64" },
      { ...index, manifests: { docker: index.manifests.docker } },
      { ...index, platforms: [{ platform: "linux/arm64", manifests: {} }] },
    ]) {
      assert.equal(parseTagRecord(JSON.stringify({ ...record, index: bad })), null);
    }
  });
});
