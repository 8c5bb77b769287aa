// Properties of the layering on seeded random closures (every path in exactly one layer, outside
// references enter a layer only at its root, input order never matters, images list common layers
// in the same relative order, 2000 paths are fast), ties, and the refusal of malformed input.

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
import { layerContentId } from "./layer-key.ts";
import { compareForOrder } from "./order-layers.ts";

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
    assert.equal(layer.id, layerContentId(layer.paths));
    const next = layers[i + 1];
    if (next) assert.ok(compareForOrder(layer, next) < 0, "ordered by popularity, depth, id");
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

  test("images list the layers they have in common in the same relative order", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { graph, roots, popularity } = randomClosure(seed, 200);
      const next = seededRandom(seed * 7);
      const images = Array.from({ length: 6 }, () => roots.filter(() => next() < 0.5));
      // Popularity from a file, and learned popularity as an origin would have it after each image.
      for (const mode of ["file", "learned"] as const) {
        const learnedCounts = new Map<string, number>();
        const learned = (id: string) => learnedCounts.get(id) ?? 0;
        const listed = images.map((imageRoots) => {
          const closure = closureOf(graph, imageRoots);
          const layers =
            mode === "file"
              ? groupLayers(closure, imageRoots, popularity)
              : groupLayers(closure, imageRoots, new Map(), {}, learned);
          for (const layer of layers) learnedCounts.set(layer.id, learned(layer.id) + 1);
          return layers;
        });
        for (const a of listed) {
          for (const b of listed) {
            const inB = new Set(b.map((layer) => layer.id));
            const inA = new Set(a.map((layer) => layer.id));
            const common = (layers: Layer[], other: Set<string>) =>
              layers.filter((layer) => other.has(layer.id)).map((layer) => layer.id);
            if (mode === "file") assert.deepEqual(common(a, inB), common(b, inA), `seed ${seed}`);
          }
        }
        // Learned: every layer an earlier image held comes before every layer none did.
        if (mode === "learned") {
          const seen = new Set<string>();
          for (const layers of listed) {
            const old = layers.map((layer) => seen.has(layer.id) || layer.popularity === Infinity);
            assert.deepEqual(
              old,
              [...old].sort((x, y) => Number(y) - Number(x)),
              `seed ${seed}`,
            );
            for (const layer of layers) seen.add(layer.id);
          }
        }
      }
    }
  });

  test("among equally popular layers, a dependency comes before what refers to it", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { graph, roots } = randomClosure(seed, 150);
      // Unmerged: a merged layer's depth is that of its deepest member.
      const layers = groupLayers(graph, roots, new Map(), { budget: 10_000 });
      const layerOf = new Map<string, number>();
      for (const [i, layer] of layers.entries()) for (const p of layer.paths) layerOf.set(p, i);
      for (const info of graph) {
        for (const ref of info.references) {
          const [from, to] = [layerOf.get(info.path)!, layerOf.get(ref)!];
          if (layers[from]!.popularity === layers[to]!.popularity)
            assert.ok(to <= from, `seed ${seed}: ${ref} is in a layer after ${info.path}'s`);
        }
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

  test("equal keys are ordered by content id, equal ratings merged by first store path", () => {
    const fixture: Fixture = { "x-1": [1, []], "y-1": [1, []], "z-1": [1, []] };
    const layers = groupLayers(graphOf(fixture), ["x-1", "y-1", "z-1"].map(storePath), new Map());
    const ids = layers.map((layer) => layer.id);
    assert.deepEqual(ids, [...ids].sort());
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
    assert.deepEqual(merged.map((layer) => layer.paths.map(nameOf).sort()).sort(), [
      ["member-6", "top-6", "y-6"],
      ["z-6"],
    ]);
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

/** The part of `graph` that `roots` keep alive, as Nix would report an image's closure. */
function closureOf(graph: StorePathInfo[], roots: string[]): StorePathInfo[] {
  const byPath = new Map(graph.map((info) => [info.path, info]));
  const kept = new Set<string>();
  const stack = [...roots];
  for (let path = stack.pop(); path !== undefined; path = stack.pop()) {
    if (kept.has(path)) continue;
    kept.add(path);
    stack.push(...byPath.get(path)!.references);
  }
  return graph.filter((info) => kept.has(info.path));
}
