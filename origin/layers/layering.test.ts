// Layering over a real SQLite history: without a file the order follows what was published before
// (and two origins with the same history agree); with a file, history never changes it.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { graphOf, nameOf, storePath, type Fixture } from "../../test/support/closure-fixtures.ts";
import { openDatabase } from "../cache/database.ts";
import { LayerPopularity } from "../cache/layer-popularity.ts";
import { Layering } from "./layering.ts";

// Two images: app and tool share a and b; other and more share only b.
const fixture: Fixture = {
  "a-1": [5, []],
  "b-1": [5, []],
  "app-1": [1, ["a-1", "b-1"]],
  "tool-1": [1, ["a-1", "b-1"]],
  "other-1": [1, ["b-1"]],
  "more-1": [1, ["b-1"]],
};
const pick = (...names: string[]) =>
  graphOf(Object.fromEntries(names.map((n) => [n, fixture[n]!])));
const image = pick("a-1", "b-1", "app-1", "tool-1");
const both = ["app-1", "tool-1"].map(storePath);
const bOnly = pick("b-1", "other-1", "more-1");
const bRoots = ["other-1", "more-1"].map(storePath);

const layering = (popularity: Map<string, number> | null) =>
  new Layering({ popularity, history: new LayerPopularity(openDatabase(":memory:")), options: {} });
const names = (layers: { paths: string[] }[]) => layers.map((l) => l.paths.map(nameOf).join(","));

describe("Layering", () => {
  test("learns: a layer an earlier image held moves ahead of one no image held", () => {
    const origin = layering(null);
    const first = origin.arrange(image, both);
    // a-1 and b-1 tie at 0 (depth 1 each): the content id decides.
    const [x, y] = names(first);
    assert.deepEqual(new Set([x, y]), new Set(["a-1", "b-1"]));
    origin.record(first);
    origin.record(origin.arrange(bOnly, bRoots));
    const again = origin.arrange(image, both);
    assert.deepEqual(names(again).slice(0, 2), ["b-1", "a-1"], "b-1 is in two images, a-1 in one");
    assert.deepEqual(
      again.map((l) => l.popularity),
      [2, 1, 1, 1],
    );
  });

  test("two origins with the same history agree on every layer and its place", () => {
    const [one, two] = [layering(null), layering(null)];
    for (const origin of [one, two]) origin.record(origin.arrange(bOnly, bRoots));
    assert.deepEqual(one.arrange(image, both), two.arrange(image, both));
  });

  test("with a file, the order is the file's whatever was built", () => {
    const origin = layering(new Map([["a-1", 50]]));
    const before = origin.arrange(image, both);
    for (let i = 0; i < 3; i++) origin.record(origin.arrange(bOnly, bRoots));
    assert.deepEqual(origin.arrange(image, both), before);
    assert.equal(names(before)[0], "a-1");
  });
});
