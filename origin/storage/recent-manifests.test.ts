import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Digest } from "../../shared/digest.ts";
import { RecentManifests } from "./recent-manifests.ts";

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, "0")}` as Digest;
const manifest = (bytes: number) => ({
  bytes: new Uint8Array(bytes),
  mediaType: "application/vnd.oci.image.manifest.v1+json",
});

describe("RecentManifests", () => {
  it("answers for a minute, then asks storage again", () => {
    let now = 0;
    const recent = new RecentManifests(
      () => 0,
      () => now,
    );
    recent.put(digest(1), manifest(10));
    now = 59_999;
    assert.equal(recent.get(digest(1))?.bytes.byteLength, 10);
    now = 60_000;
    assert.equal(recent.get(digest(1)), null);
  });

  it("forgets everything after a storage collection", () => {
    let collections = 0;
    const recent = new RecentManifests(() => collections);
    recent.put(digest(1), manifest(10));
    assert.ok(recent.get(digest(1)));
    collections++;
    assert.equal(recent.get(digest(1)), null);
    recent.put(digest(1), manifest(10));
    assert.ok(recent.get(digest(1)), "kept again after the collection");
  });

  it("keeps at most 16 MiB, dropping the oldest first", () => {
    const recent = new RecentManifests(() => 0);
    for (let i = 0; i < 20; i++) recent.put(digest(i), manifest(1024 * 1024));
    assert.equal(recent.get(digest(0)), null);
    assert.equal(recent.get(digest(3)), null);
    assert.ok(recent.get(digest(4)));
    assert.ok(recent.get(digest(19)));
    recent.put(digest(99), manifest(2 * 1024 * 1024)); // larger than 1/16 of the bound
    assert.equal(recent.get(digest(99)), null);
  });
});
