// Table-driven tests of the layering algorithm on small closure graphs, the essay's two worked
// examples among them (the second pulls a sequence of images with a client that keeps layers by
// chain ID). Properties on random closures and refusals of bad input: group-layers.properties.test.ts.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  graphOf,
  MB,
  nameOf,
  storePath,
  worked,
  type Fixture,
} from "../../test/support/closure-fixtures.ts";
import { ChainIdClient, type PullCost } from "../../test/support/chain-client.ts";
import { groupLayers, type Layer, type LayerOptions } from "./group-layers.ts";

/** Layers as [names sorted, rating in MB × popularity], checking that paths come sorted. */
function named(layers: Layer[]): [string[], number][] {
  return layers.map((layer) => {
    assert.deepEqual(layer.paths, [...layer.paths].sort(), "paths of a layer are sorted");
    const names = layer.paths.map(nameOf).sort();
    return [names, layer.mergeRating / MB];
  });
}

const workedTop: [string[], number][] = [
  [["iana-etc-20230316"], 500000],
  [["nss-cacert-3.92"], 1000000],
  [["glibc-2.37"], 9000000],
];
const rest = ["curl-8.4", "git-2.42", "htop-3.2", "ncurses-6.4", "pcre2-10.42", "perl-5.38"];

const chainFixture: Fixture = {
  "app-1": [1, ["lib-1"]],
  "lib-1": [50, ["data-1"]],
  "data-1": [60, []],
};
const chain = { fixture: chainFixture, roots: ["app-1"] };
const fourRoots: Fixture = { "a-1": [5, []], "b-1": [6, []], "c-1": [7, []], "d-1": [8, []] };

const cases: {
  name: string;
  fixture: Fixture;
  roots: string[];
  popularity?: Record<string, number>;
  options?: Partial<LayerOptions>;
  expected: [string[], number][];
  /** Only which layers, not their order (every key but the content id ties). */
  anyOrder?: true;
}[] = [
  {
    name: "worked example, budget 94: one layer per dominator subtree",
    ...worked,
    expected: [
      ...workedTop,
      [["zlib-1.3"], 40000],
      [["openssl-3.0"], 54000],
      [["ncurses-6.4"], 6000],
      [["perl-5.38"], 6400],
      [["curl-8.4", "git-2.42", "pcre2-10.42"], 2120],
      [["htop-3.2"], 5],
    ],
  },
  {
    name: "worked example, budget 6: the lowest-rated layers merge first",
    ...worked,
    options: { budget: 6 },
    expected: [...workedTop, [["zlib-1.3"], 40000], [["openssl-3.0"], 54000], [rest, 14525]],
  },
  {
    name: "worked example, budget 3",
    ...worked,
    options: { budget: 3 },
    expected: [
      ...workedTop.slice(1),
      [[...rest, "iana-etc-20230316", "openssl-3.0", "zlib-1.3"].sort(), 608525],
    ],
  },
  {
    name: "worked example, budget 1: one layer holds everything",
    ...worked,
    options: { budget: 1 },
    expected: [[Object.keys(worked.fixture).sort(), 9000000 + 1000000 + 608525]],
  },
  {
    name: "a path whose closure exceeds the big threshold gets its own layer",
    ...chain,
    expected: [
      [["data-1", "lib-1"], 110],
      [["app-1"], 1],
    ],
  },
  {
    name: "a closure equal to the big threshold is not big",
    ...chain,
    options: { bigThreshold: 110 * MB },
    expected: [[["app-1", "data-1", "lib-1"], 111]],
  },
  {
    name: "a path as popular as the threshold gets its own layer",
    ...chain,
    popularity: { "lib-1": 100 },
    options: { bigThreshold: 1000 * MB },
    expected: [
      [["data-1", "lib-1"], 11000],
      [["app-1"], 1],
    ],
  },
  {
    name: "a path just below the popular threshold stays with its referrer",
    ...chain,
    popularity: { "lib-1": 99, "app-1": 2 },
    options: { bigThreshold: 1000 * MB },
    expected: [[["app-1", "data-1", "lib-1"], 222]],
  },
  {
    name: "nss-cacert and iana-etc are popular whatever the data says",
    fixture: {
      "app-1": [3, ["nss-cacert-3.92", "iana-etc-2"]],
      "nss-cacert-3.92": [1, []],
      "iana-etc-2": [2, []],
    },
    roots: ["app-1"],
    popularity: { "nss-cacert-3.92": 1 },
    expected: [
      [["iana-etc-2"], 1000000],
      [["nss-cacert-3.92"], 500000],
      [["app-1"], 3],
    ],
  },
  {
    name: "a path two roots share is dominated by neither",
    fixture: { "a-1": [1, ["c-1"]], "b-1": [2, ["c-1"]], "c-1": [4, ["d-1"]], "d-1": [8, []] },
    roots: ["a-1", "b-1"],
    expected: [
      [["c-1", "d-1"], 12],
      [["b-1"], 2],
      [["a-1"], 1],
    ],
  },
  {
    name: "merging re-sorts: the two lowest merge, not the last merge and the next",
    fixture: fourRoots,
    roots: ["a-1", "b-1", "c-1", "d-1"],
    options: { budget: 2 },
    expected: [
      [["a-1", "b-1"], 11],
      [["c-1", "d-1"], 15],
    ],
    anyOrder: true,
  },
  {
    name: "a path nothing refers to is kept as a layer of its own, with what it alone keeps alive",
    fixture: {
      "app-1": [1, ["lib-1"]],
      "lib-1": [2, []],
      "stray-2": [4, ["extra-2", "lib-1"]],
      "extra-2": [8, []],
    },
    roots: ["app-1"],
    // Equally popular, so by depth: lib-1 keeps 1 path alive, app-1 2, stray-2 3.
    expected: [
      [["lib-1"], 2],
      [["app-1"], 1],
      [["extra-2", "stray-2"], 12],
    ],
  },
  {
    name: "an unreachable reference cycle is kept too",
    fixture: { "app-1": [1, []], "p-1": [2, ["q-1"]], "q-1": [4, ["p-1"]] },
    roots: ["app-1"],
    expected: [
      [["app-1"], 1],
      [["p-1", "q-1"], 6],
    ],
  },
  { name: "an empty graph has no layers", fixture: {}, roots: [], expected: [] },
];

describe("groupLayers", () => {
  for (const c of cases) {
    test(c.name, () => {
      const popularity = new Map(Object.entries(c.popularity ?? {}));
      const layers = groupLayers(graphOf(c.fixture), c.roots.map(storePath), popularity, c.options);
      const got = named(layers);
      if (c.anyOrder) got.sort(([a], [b]) => a.join().localeCompare(b.join()));
      assert.deepEqual(got, c.expected);
    });
  }
});

// Worked example 2: an empty origin learns from the images it publishes; one client pulls them in
// turn and keeps layers by chain ID.
const pulls: Fixture = {
  "busybox-1.35": [2, []],
  "big-data-1.0": [115, []],
  "uses-big-1.0": [1, ["busybox-1.35", "big-data-1.0"]],
  "huge-data-1.0": [147, []],
  "uses-huge-1.0": [1, ["busybox-1.35", "huge-data-1.0"]],
  "nss-cacert-3.92": [1, []],
  "iana-etc-20230316": [1, []],
};
const always = ["iana-etc-20230316", "nss-cacert-3.92"];

/** Builds each image from the part of `pulls` its roots keep alive; returns layers and costs. */
function pullInTurn(images: string[][], learn: boolean) {
  const counts = new Map<string, number>();
  const client = new ChainIdClient();
  return images.map((roots) => {
    const closure = new Set<string>();
    const visit = (name: string) => {
      if (closure.has(name)) return;
      closure.add(name);
      for (const ref of pulls[name]![1]) visit(ref);
    };
    [...roots, ...always].forEach(visit);
    const fixture = Object.fromEntries([...closure].map((name) => [name, pulls[name]!]));
    const layers = groupLayers(
      graphOf(fixture),
      [...roots, ...always].map(storePath),
      new Map(),
      {},
      learn ? (id) => counts.get(id) ?? 0 : undefined,
    );
    for (const layer of layers) counts.set(layer.id, (counts.get(layer.id) ?? 0) + 1);
    const size = (layer: Layer) => layer.paths.reduce((sum, p) => sum + pulls[nameOf(p)]![0], 0);
    const cost = client.pull(layers.map((layer) => ({ diffId: layer.id, size: size(layer) })));
    return {
      layers: layers.map((layer) => [layer.paths.map(nameOf), layer.popularity, layer.depth]),
      cost,
    };
  });
}

describe("groupLayers with learned popularity (worked example 2)", () => {
  const sequence = [["uses-big-1.0"], ["uses-big-1.0", "uses-huge-1.0"], ["uses-huge-1.0"]];
  const top = [
    [["iana-etc-20230316"], Infinity, 1],
    [["nss-cacert-3.92"], Infinity, 1],
  ];
  const cost = (downloaded: number, missing: number, reusedLayers: number): PullCost => ({
    downloaded,
    missing,
    reusedLayers,
  });

  test("shared layers first, what no image held yet last: each pull downloads only what is new", () => {
    const [usesBig, both, usesHuge] = pullInTurn(sequence, true);
    assert.deepEqual(usesBig, {
      layers: [...top, [["big-data-1.0"], 0, 1], [["busybox-1.35", "uses-big-1.0"], 0, 3]],
      cost: cost(120, 120, 0),
    });
    assert.deepEqual(both, {
      layers: [
        ...top,
        [["big-data-1.0"], 1, 1],
        [["huge-data-1.0"], 0, 1],
        [["busybox-1.35"], 0, 1],
        [["uses-huge-1.0"], 0, 3],
        [["uses-big-1.0"], 0, 3],
      ],
      cost: cost(151, 151, 3),
    });
    // The crossing case: huge-data is held only above big-data, which this image lacks.
    assert.deepEqual(usesHuge, {
      layers: [...top, [["huge-data-1.0"], 1, 1], [["busybox-1.35", "uses-huge-1.0"], 0, 3]],
      cost: cost(150, 3, 2),
    });
  });

  test("without it, equal counts leave the order to the content id, which here breaks the chain", () => {
    const [, both] = pullInTurn(sequence, false);
    assert.deepEqual(both!.cost, cost(266, 151, 2));
    assert.deepEqual(both!.layers[2], [["huge-data-1.0"], 1, 1]);
  });

  test("a rebuild that learned only from itself keeps its order (every count rises by one)", () => {
    const [first, again] = pullInTurn(
      [
        ["uses-big-1.0", "uses-huge-1.0"],
        ["uses-big-1.0", "uses-huge-1.0"],
      ],
      true,
    );
    assert.deepEqual(
      again!.layers.map(([paths]) => paths),
      first!.layers.map(([paths]) => paths),
    );
    assert.deepEqual(again!.cost, cost(0, 0, 7));
  });
});
