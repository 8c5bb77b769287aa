import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Digest } from "./digest.ts";
import { mediaTypes, negotiateManifest, wantedKey } from "./media-types.ts";
import { selectManifest, tagManifestDigests, type TagManifests } from "./origin-protocol.ts";

const d = (c: string) => `sha256:${c.repeat(64)}` as Digest;
const ref = (c: string) => ({ digest: d(c), size: 1 });

const single: TagManifests = {
  name: "hello",
  tag: "latest",
  revision: null,
  pinned: false,
  maxAgeSeconds: 60,
  manifests: { docker: ref("a"), oci: ref("b") },
};
const multi: TagManifests = {
  ...single,
  index: {
    manifests: { docker: ref("c"), oci: ref("e") },
    platforms: [
      { platform: "linux/amd64", manifests: { docker: ref("a"), oci: ref("b") } },
      { platform: "linux/arm64", manifests: { docker: ref("f"), oci: ref("1") } },
    ],
  },
};

describe("tag answers", () => {
  const all = [mediaTypes.ociIndex, mediaTypes.dockerManifest, mediaTypes.dockerManifestList];

  it("select the index for clients that take one, the single manifest otherwise", () => {
    assert.equal(selectManifest(multi, negotiateManifest(all.join(","))).digest, d("c"));
    assert.equal(
      selectManifest(multi, negotiateManifest(`${mediaTypes.ociManifest},${mediaTypes.ociIndex}`))
        .digest,
      d("e"),
    );
    assert.equal(
      selectManifest(multi, negotiateManifest(mediaTypes.dockerManifest)).digest,
      d("a"),
    );
    assert.equal(selectManifest(multi, negotiateManifest(null)).digest, d("a"));
    // One platform: the manifest, whatever the client takes.
    assert.equal(selectManifest(single, negotiateManifest(all.join(","))).digest, d("a"));
  });

  it("name every manifest an edge must hold before it serves the answer", () => {
    assert.deepEqual(tagManifestDigests(single), [d("a"), d("b")]);
    assert.deepEqual(tagManifestDigests(multi), [d("a"), d("b"), d("c"), d("e"), d("f"), d("1")]);
  });

  it("key caches by what was wanted", () => {
    assert.equal(wantedKey(negotiateManifest(null)), "docker");
    assert.equal(wantedKey(negotiateManifest(all.join(","))), "docker+docker-index");
    assert.equal(wantedKey(negotiateManifest(mediaTypes.ociIndex)), "docker+oci-index");
  });
});
