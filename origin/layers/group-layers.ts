// Groups the store paths of an image into layers so that images sharing dependencies share layers
// (Nixery's "improved layering", 2019), with the essay that explains why the groups look as they do.
//
// # Inputs
//
// - the runtime closure graph: every store path of the image with its references and NAR size;
// - the requested roots: the store paths of the packages the image name asked for;
// - popularity: package name (store path name without the hash) → how many nixpkgs packages refer
//   to it (see popularity.ts); `nss-cacert*` and `iana-etc*` are in every image and count 500000
//   (glibc has about 300000); names the data does not know count 1;
// - options: the layer budget (94, as Nixery: Docker allows 125, which leaves room for the symlink
//   layer and for layers users add on top) and the big (100 MB) and popular (100) thresholds.
//
// # Algorithm
//
// 1. Make a graph with a synthetic root and an edge from it to each requested root. Self references
//    are ignored. Add a root edge to every path that is big (its closure, itself plus everything it
//    keeps alive, exceeds the big threshold) or popular (popularity ≥ the popular threshold).
// 2. Compute the dominator tree from the root. A path dominated by the root is one that several
//    roots, or the synthetic root itself, reach independently; a path dominated by another path is
//    only ever pulled in through that path, so it belongs with it.
// 3. Each subtree directly under the root is a layer: its store paths, sorted. Its merge rating is
//    the popularity of the subtree's root × the layer's size in bytes (sum of NAR sizes).
// 4. While there are more layers than the budget, merge the two lowest-rated layers (ties: the one
//    whose first path sorts first); the merged rating is the sum.
// 5. Order layers by rating, highest first (ties: first path ascending). Popular shared layers come
//    first, so images built from the same package set share a common prefix of layers.
//
// Where this departs from Nixery, and why:
// - Layer size. Nixery sums the closure sizes of a layer's paths, which counts shared dependencies
//   many times over and counts bytes that live in other layers. We sum NAR sizes: the bytes that
//   are actually in the layer, which is what a cache hit on it saves.
// - Merging. Nixery sorts once and then folds each merged layer into the next one in the original
//   order; we re-sort after every merge, so it is always the two lowest that merge. For ratings
//   5, 6, 7, 8 and budget 2 Nixery yields {5,6,7} and {8}; we yield {5,6} and {7,8}.
// - Paths unreachable from the roots. With a correct closure every path is reachable. Extra paths
//   are not dropped: every path no other path refers to gets a root edge (a no-op for a correct
//   closure, whose unreferenced paths are all requested roots); paths still unreachable (only
//   possible in a reference cycle, which Nix forbids) get one, smallest path first.
// - Everything is numbered by sorted store path, so the result depends only on the inputs, never
//   on their order. References to paths missing from the graph throw IncompleteClosureGraph.
//
// # Thresholds
//
// Nixery picked them by gut feeling and never measured them; we keep them, as options.
//
// # Worked example (a test in group-layers.test.ts; sizes in MB, ratings in MB × popularity)
//
// Roots: git, htop, nss-cacert, iana-etc. References (every path also refers to glibc-2.37):
//   git-2.42 (50) → curl-8.4, perl-5.38, pcre2-10.42    curl-8.4 (2) → openssl-3.0, zlib-1.3
//   htop-3.2 (1) → ncurses-6.4     openssl-3.0 (6), zlib-1.3 (1), perl-5.38 (80), pcre2-10.42 (1),
//   ncurses-6.4 (3), glibc-2.37 (30), nss-cacert-3.92 (2), iana-etc-20230316 (1)
// Popularity: glibc 300000, zlib 40000, openssl 9000, ncurses 2000, perl 80, curl 60, git 40,
//   pcre2 30, htop 5.
// Lifted: glibc, zlib, openssl, ncurses, nss-cacert, iana-etc (popular), perl (closure 110 MB > 100)
// and git (170 MB, a root anyway). curl and pcre2 are reached only through git, so git's subtree is
// {curl, git, pcre2}. Budget 94 gives nine layers:
//   glibc 9000000, nss-cacert 1000000, iana-etc 500000, openssl 54000, zlib 40000, perl 6400,
//   ncurses 6000, {curl, git, pcre2} 40 × 53 = 2120, htop 5
// Budget 6 merges htop + git (2125), then + ncurses (8125), then + perl (14525):
//   glibc, nss-cacert, iana-etc, openssl, zlib, {curl, git, htop, ncurses, pcre2, perl} 14525
// Budget 3 goes on: + zlib (54525), + openssl (108525), + iana-etc (608525):
//   glibc 9000000, nss-cacert 1000000, {everything else} 608525

import { dominatedSubtrees, immediateDominators } from "./dominators.ts";
import {
  buildClosureGraph,
  IncompleteClosureGraph,
  type ClosureGraph,
  type StorePathInfo,
} from "./graph.ts";

export interface Layer {
  /** Store paths, ascending. */
  paths: string[];
  /** Popularity of the layer's root × its size in bytes, summed when layers merge (exact below 2^53). */
  mergeRating: number;
}

export interface LayerOptions {
  /** Most layers an image may have. */
  budget: number;
  /** Bytes; a path whose closure is larger gets its own subtree. */
  bigThreshold: number;
  /** A path at least this popular gets its own subtree. */
  popularThreshold: number;
}

export const defaultLayerOptions: LayerOptions = {
  budget: 94,
  bigThreshold: 100 * 1000 * 1000,
  popularThreshold: 100,
};

const everywhere = ["nss-cacert", "iana-etc"];
const everywherePopularity = 500000;

export function groupLayers(
  graph: StorePathInfo[],
  roots: string[],
  popularity: Map<string, number>,
  options: Partial<LayerOptions> = {},
): Layer[] {
  const { budget, bigThreshold, popularThreshold } = checkOptions({
    ...defaultLayerOptions,
    ...options,
  });
  const g = buildClosureGraph(graph);
  const n = g.paths.length;
  const popularityOf = g.names.map((name) =>
    everywhere.some((prefix) => name.startsWith(prefix))
      ? everywherePopularity
      : (popularity.get(name) ?? 1),
  );

  const rootEdges = new Set<number>();
  const missing = roots.filter((path) => !g.ids.has(path)).sort();
  if (missing.length > 0)
    throw new IncompleteClosureGraph(missing.map((path) => ({ path, referencedBy: null })));
  for (const path of roots) rootEdges.add(g.ids.get(path)!);
  for (let v = 0; v < n; v++) {
    const lifted = g.closureSizes[v]! > bigThreshold || popularityOf[v]! >= popularThreshold;
    if (lifted || g.referrerCounts[v] === 0) rootEdges.add(v);
  }
  addEdgesToUnreachable(g, rootEdges);

  const root = n;
  const idom = immediateDominators([...g.references, [...rootEdges].sort((a, b) => a - b)], root);
  const layers: Draft[] = dominatedSubtrees(idom, root).map(({ top, nodes: ids }) => {
    const size = ids.reduce((sum, v) => sum + g.narSizes[v]!, 0);
    return { ids, first: ids[0]!, rating: popularityOf[top]! * size };
  });

  // Lowest first: by rating, then by first path (ids are in path order). Merges are re-inserted
  // in order, so each round merges the two lowest-rated layers of the moment.
  const lowerFirst = (a: Draft, b: Draft) => a.rating - b.rating || a.first - b.first;
  layers.sort(lowerFirst);
  while (layers.length > budget) {
    const [a, b] = layers.splice(0, 2) as [Draft, Draft];
    const first = Math.min(a.first, b.first);
    const merged = { ids: a.ids.concat(b.ids), first, rating: a.rating + b.rating };
    const at = layers.findIndex((layer) => lowerFirst(layer, merged) > 0);
    layers.splice(at === -1 ? layers.length : at, 0, merged);
  }

  return layers
    .sort((a, b) => b.rating - a.rating || a.first - b.first)
    .map((layer) => ({
      paths: layer.ids.sort((a, b) => a - b).map((v) => g.paths[v]!),
      mergeRating: layer.rating,
    }));
}

interface Draft {
  ids: number[];
  first: number;
  rating: number;
}

/** Gives root edges to paths the roots do not reach, smallest path first (only cycles remain by now). */
function addEdgesToUnreachable(g: ClosureGraph, rootEdges: Set<number>): void {
  const reached = new Uint8Array(g.paths.length);
  const reach = (from: number) => {
    const stack = [from];
    reached[from] = 1;
    for (let v = stack.pop(); v !== undefined; v = stack.pop()) {
      for (const w of g.references[v]!) {
        if (reached[w] === 0) {
          reached[w] = 1;
          stack.push(w);
        }
      }
    }
  };
  for (const v of rootEdges) if (reached[v] === 0) reach(v);
  for (let v = 0; v < g.paths.length; v++) {
    if (reached[v] === 0) {
      rootEdges.add(v);
      reach(v);
    }
  }
}

function checkOptions(options: LayerOptions): LayerOptions {
  const { budget, bigThreshold, popularThreshold } = options;
  if (!Number.isSafeInteger(budget) || budget < 1)
    throw new RangeError(`layer budget must be a whole number ≥ 1, got ${budget}`);
  for (const [name, value] of Object.entries({ bigThreshold, popularThreshold })) {
    if (!Number.isFinite(value) || value < 0)
      throw new RangeError(`${name} must be a number ≥ 0, got ${value}`);
  }
  return options;
}
