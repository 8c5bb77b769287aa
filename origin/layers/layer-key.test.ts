// Tests of layer identity: independent of path order, sensitive to contents and format version;
// the content id is the key without the version.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { layerContentId, layerKey } from "./layer-key.ts";

const a = "/nix/store/00000000000000000000000000000000-a";
const b = "/nix/store/11111111111111111111111111111111-b";

test("is the format version and the sha256 of the sorted paths joined by newlines", () => {
  const hex = createHash("sha256").update(`${a}\n${b}`).digest("hex");
  assert.equal(layerKey([b, a], "v1"), `v1:${hex}`);
  assert.equal(layerKey([a, b], "v1"), layerKey([b, a], "v1"));
  assert.equal(layerContentId([b, a]), hex);
});

test("changes with the contents and with the format version", () => {
  const keys = new Set([
    layerKey([a], "v1"),
    layerKey([b], "v1"),
    layerKey([a, b], "v1"),
    layerKey([a], "v2"),
  ]);
  assert.equal(keys.size, 4);
});

test("refuses inputs that would make keys ambiguous", () => {
  assert.throws(() => layerKey([], "v1"), RangeError);
  assert.throws(() => layerKey([a, a], "v1"), /listed twice/);
  assert.throws(() => layerKey([`${a}\n${b}`], "v1"), RangeError);
  assert.throws(() => layerKey([a], ""), RangeError);
  assert.throws(() => layerKey([a], "v1:x"), RangeError);
  assert.throws(() => layerContentId([b, b]), /listed twice/);
});
