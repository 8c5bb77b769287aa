// Properties of the layering on seeded random closures (every path in exactly one layer, outside
// references enter a layer only at its root, input order never matters, 2000 paths are fast),
// the order of equal ratings, and the refusal of malformed input.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  graphOf,
  nameOf,
  randomClosure,
  seededRandom,
  shuffled,
  storePath,
  type Fixture,
} from "../../test/support/closure-fixtures.ts";
import { IncompleteClosureGraph, InvalidClosureGraph, type StorePathInfo } from "./graph.ts";
import { groupLayers, type Layer } from "./group-layers.ts";

/** Checks what must hold of any result; `unmerged` when the budget did not force merges. */
function checkLayers(graph: StorePathInfo[], layers: Layer[], budget: number, unmerged: boolean) {
  assert.ok(layers.length <= budget, `${layers.length} layers exceed the budget ${budget}`);
  const layerOf = new Map<string, number>();
  for (const [i, layer] of layers.entries()) {
    assert.deepEqual(layer.paths, [...layer.paths].sort());
    for (const path of layer.paths) {
      assert.ok(!layerOf.has(path), `${path} is in two layers`);
      layerOf.set(path, i);
    }
    const next = layers[i + 1];
    if (next) assert.ok(layer.mergeRating >= next.mergeRating, "ratings descend");
  }
  assert.equal(layerOf.size, new Set(graph.map((info) => info.path)).size, "every path is placed");
  if (!unmerged) return;
  // A dominator subtree is entered from outside only through its root.
  const entries = layers.map(() => new Set<string>());
  for (const info of graph) {
    for (const ref of info.references) {
      if (layerOf.get(ref) !== layerOf.get(info.path)) entries[layerOf.get(ref)!]!.add(ref);
    }
  }
  for (const entered of entries) assert.ok(entered.size <= 1, `entered at ${[...entered]}`);
}

describe("groupLayers on random closures", () => {
  test("places every path once, within budget, entering subtrees only at their roots", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const size = 1 + ((seed * 37) % 300);
      const { graph, roots, popularity } = randomClosure(seed, size);
      const all = groupLayers(graph, roots, popularity, { budget: 10_000 });
      checkLayers(graph, all, 10_000, true);
      const budget = 1 + (seed % 12);
      checkLayers(graph, groupLayers(graph, roots, popularity, { budget }), budget, false);
    }
  });

  test("gives the same layers whatever the order of graph, references, roots and popularity", () => {
    for (let seed = 1; seed <= 5; seed++) {
      const { graph, roots, popularity } = randomClosure(seed, 400);
      const expected = groupLayers(graph, roots, popularity, { budget: 30 });
      const next = seededRandom(seed * 1000);
      for (let round = 0; round < 5; round++) {
        const shuffledGraph = shuffled(graph, next).map((info) => ({
          ...info,
          references: shuffled(info.references, next),
        }));
        const shuffledRoots = shuffled([...roots, roots[0]!], next);
        const shuffledPopularity = new Map(shuffled([...popularity], next));
        const got = groupLayers(shuffledGraph, shuffledRoots, shuffledPopularity, { budget: 30 });
        assert.deepEqual(got, expected, `seed ${seed}, round ${round}`);
      }
    }
  });

  test("groups 2000 paths quickly", (t) => {
    const { graph, roots, popularity } = randomClosure(2024, 2000);
    const edges = graph.reduce((sum, info) => sum + info.references.length, 0);
    const started = performance.now();
    const layers = groupLayers(graph, roots, popularity);
    const ms = performance.now() - started;
    t.diagnostic(
      `${graph.length} paths, ${edges} references → ${layers.length} layers in ${ms.toFixed(1)} ms`,
    );
    checkLayers(graph, layers, 94, false);
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  test("equal ratings are ordered, and merged, by first store path", () => {
    const fixture: Fixture = { "x-1": [1, []], "y-1": [1, []], "z-1": [1, []] };
    const layers = groupLayers(graphOf(fixture), ["x-1", "y-1", "z-1"].map(storePath), new Map());
    const firsts = layers.map((layer) => layer.paths[0]!);
    assert.deepEqual(firsts, [...firsts].sort());
    assert.equal(layers.length, 3);
    // Paths sort member-6 < y-6 < z-6 < top-6: the tie between three layers rated 2 is decided by
    // first path (member-6, y-6), not by subtree root (y-6, z-6).
    const tied: Fixture = {
      "top-6": [1, ["member-6"]],
      "member-6": [1, []],
      "y-6": [2, []],
      "z-6": [2, []],
    };
    const merged = groupLayers(graphOf(tied), ["top-6", "y-6", "z-6"].map(storePath), new Map(), {
      budget: 2,
    });
    assert.deepEqual(
      merged.map((layer) => layer.paths.map(nameOf).sort()),
      [["member-6", "top-6", "y-6"], ["z-6"]],
    );
  });

  test("references to missing paths and missing roots are errors that name them", () => {
    const graph = graphOf({ "app-1": [1, ["gone-1"]], "gone-1": [1, []] }).slice(0, 1);
    assert.throws(
      () => groupLayers(graph, [storePath("app-1")], new Map()),
      (error) => {
        assert.ok(error instanceof IncompleteClosureGraph);
        assert.deepEqual(error.missing, [
          { path: storePath("gone-1"), referencedBy: storePath("app-1") },
        ]);
        assert.match(error.message, /gone-1 \(referenced by .*app-1\)/);
        return true;
      },
    );
    const ok = graphOf({ "app-1": [1, []] });
    assert.throws(
      () => groupLayers(ok, [storePath("other-1")], new Map()),
      /other-1 \(requested\)/,
    );
  });

  test("malformed graphs and options are refused", () => {
    const app = graphOf({ "app-1": [1, []] })[0]!;
    const refuse = (graph: StorePathInfo[], pattern: RegExp) =>
      assert.throws(
        () => groupLayers(graph, [], new Map()),
        (e) => e instanceof InvalidClosureGraph && pattern.test(e.message),
      );
    refuse([{ path: "/nix/store/short-app", references: [], narSize: 1 }], /not a store path/);
    refuse([{ ...app, narSize: -1 }], /narSize -1/);
    refuse([app, { ...app, narSize: 2 }], /appears twice/);
    assert.equal(groupLayers([app, { ...app }], [app.path, app.path], new Map()).length, 1);
    assert.throws(() => groupLayers([app], [], new Map(), { budget: 0 }), RangeError);
    assert.throws(() => groupLayers([app], [], new Map(), { bigThreshold: NaN }), RangeError);
  });
});
