// Tests of the dominator tree: textbook graphs with known answers, and random graphs checked
// against a brute-force definition (d dominates v iff removing d cuts v off from the root).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { dominatedSubtrees, immediateDominators } from "./dominators.ts";

/** Builds adjacency lists from "A>B C" lines; returns them with the node names by id. */
function parse(lines: string[]): {
  successors: number[][];
  names: string[];
  id: Map<string, number>;
} {
  const id = new Map<string, number>();
  const node = (name: string) => {
    if (!id.has(name)) id.set(name, id.size);
    return id.get(name)!;
  };
  const edges: [number, number][] = [];
  for (const line of lines) {
    const [from, to = ""] = line.split(">");
    const v = node(from!.trim());
    for (const w of to.split(" ").filter(Boolean)) edges.push([v, node(w)]);
  }
  const successors: number[][] = Array.from({ length: id.size }, () => []);
  for (const [v, w] of edges) successors[v]!.push(w);
  return { successors, names: [...id.keys()], id };
}

/** idom by brute force: strict dominators form a chain; the immediate one is dominated by all others. */
function bruteForceIdom(successors: number[][], root: number): number[] {
  const n = successors.length;
  const reachable = (removed: number) => {
    const seen = new Uint8Array(n);
    if (removed === root) return seen;
    const stack = [root];
    seen[root] = 1;
    for (let v = stack.pop(); v !== undefined; v = stack.pop()) {
      for (const w of successors[v]!) {
        if (!seen[w] && w !== removed) (stack.push(w), (seen[w] = 1));
      }
    }
    return seen;
  };
  const all = reachable(-1);
  const dominators: number[][] = Array.from({ length: n }, () => []);
  for (let d = 0; d < n; d++) {
    const without = reachable(d);
    for (let v = 0; v < n; v++) if (all[v] && (v === d || !without[v])) dominators[v]!.push(d);
  }
  return dominators.map((doms, v) => {
    if (!all[v]) return -1;
    if (v === root) return root;
    const strict = doms.filter((d) => d !== v);
    return strict.reduce((best, d) =>
      dominators[d]!.length > dominators[best]!.length ? d : best,
    );
  });
}

function random(seed: number): () => number {
  return () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

const textbook: { name: string; edges: string[]; root: string; idom: Record<string, string> }[] = [
  {
    name: "Lengauer and Tarjan 1979, figure 1",
    edges: [
      "R>A B C",
      "A>D",
      "B>A D E",
      "C>F G",
      "D>L",
      "E>H",
      "F>I",
      "G>I J",
      "H>E K",
      "I>K",
      "J>I",
      "K>I R",
      "L>H",
    ],
    root: "R",
    idom: {
      R: "R",
      A: "R",
      B: "R",
      C: "R",
      D: "R",
      E: "R",
      F: "C",
      G: "C",
      H: "R",
      I: "R",
      J: "G",
      K: "R",
      L: "D",
    },
  },
  {
    name: "Cooper, Harvey and Kennedy 2001, figure 4 (irreducible)",
    edges: ["6>5 4", "5>1", "4>2 3", "1>2", "2>1 3", "3>2"],
    root: "6",
    idom: { "6": "6", "5": "6", "4": "6", "1": "6", "2": "6", "3": "6" },
  },
  {
    name: "diamond",
    edges: ["r>a b", "a>d", "b>d", "d>e"],
    root: "r",
    idom: { r: "r", a: "r", b: "r", d: "r", e: "d" },
  },
  {
    name: "loop with exit, self loop and duplicate edge",
    edges: ["r>h", "h>b x", "b>h b b", "x>y"],
    root: "r",
    idom: { r: "r", h: "r", b: "h", x: "h", y: "x" },
  },
  {
    name: "unreachable nodes point into the graph",
    edges: ["r>a", "a>b", "u>a b", "v>u"],
    root: "r",
    idom: { r: "r", a: "r", b: "a" },
  },
];

describe("immediateDominators", () => {
  for (const { name, edges, root, idom } of textbook) {
    test(name, () => {
      const g = parse(edges);
      const got = immediateDominators(g.successors, g.id.get(root)!);
      const named = Object.fromEntries(
        [...got].flatMap((d, v) => (d === -1 ? [] : [[g.names[v]!, g.names[d]!]])),
      );
      assert.deepEqual(named, idom);
      assert.deepEqual([...got], bruteForceIdom(g.successors, g.id.get(root)!));
    });
  }

  test("agrees with the brute-force definition on 300 random graphs, in any adjacency order", () => {
    const next = random(7);
    for (let round = 0; round < 300; round++) {
      const n = 1 + Math.floor(next() * 25);
      const successors: number[][] = Array.from({ length: n }, () => []);
      const edgeCount = Math.floor(next() * n * 3);
      for (let e = 0; e < edgeCount; e++) {
        successors[Math.floor(next() * n)]!.push(Math.floor(next() * n));
      }
      const root = Math.floor(next() * n);
      const expected = bruteForceIdom(successors, root);
      assert.deepEqual([...immediateDominators(successors, root)], expected, `round ${round}`);
      const reversed = successors.map((edges) => [...edges].reverse());
      assert.deepEqual(
        [...immediateDominators(reversed, root)],
        expected,
        `round ${round} reversed`,
      );
    }
  });

  test("a long chain does not overflow the stack", () => {
    const n = 200_000;
    const successors = Array.from({ length: n }, (_, v) => (v + 1 < n ? [v + 1] : []));
    const idom = immediateDominators(successors, 0);
    assert.equal(idom[n - 1], n - 2);
  });

  test("rejects edges to nodes that do not exist", () => {
    assert.throws(() => immediateDominators([[1], [2]], 0), RangeError);
    assert.throws(() => immediateDominators([[]], 1), RangeError);
  });
});

describe("dominatedSubtrees", () => {
  test("groups each child of the root with everything it dominates", () => {
    const g = parse(textbook[0]!.edges);
    const root = g.id.get("R")!;
    const subtrees = dominatedSubtrees(immediateDominators(g.successors, root), root).map((s) =>
      s.nodes
        .map((v) => g.names[v])
        .sort()
        .join(""),
    );
    assert.deepEqual(subtrees.sort(), ["A", "B", "CFGJ", "DL", "E", "H", "I", "K"]);
  });

  test("refuses a tree with unreachable nodes", () => {
    const g = parse(textbook[4]!.edges);
    assert.throws(() => dominatedSubtrees(immediateDominators(g.successors, 0), 0), /unreachable/);
  });
});
