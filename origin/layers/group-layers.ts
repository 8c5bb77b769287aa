// Groups the store paths of an image into layers so that images sharing dependencies share layers
// (Nixery's "improved layering", 2019), and orders them so that clients reuse the layers they
// have; with the essay that explains why the layers look and line up as they do.
//
// # Inputs
//
// - the runtime closure graph: every store path of the image with its references and NAR size;
// - the requested roots: the store paths of the packages the image name asked for;
// - popularity from a file (NIX_POPULARITY_URL): package name (store path name without the hash) →
//   how many nixpkgs packages refer to it; `nss-cacert*` and `iana-etc*` are in every image and
//   count 500000 (glibc has about 300000); names the data does not know count 1. Without a file
//   the map is empty (every name counts 1 but those two) and the order comes from
// - learned popularity (optional): how many images this origin has published that held a layer
//   with exactly these store paths (origin/cache/layer-popularity.ts keeps the counts);
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
// 5. Order the layers by popularity, highest first; ties by depth, lowest first; then by content
//    id (the sha256 of the layer's sorted paths, layer-key.ts). A layer's popularity is, with a
//    file, the least popularity of its heads, the paths no other path of the layer refers to (a
//    subtree's root; a merged layer may have several); with learned popularity, the number of
//    earlier images that held this very layer, and infinite for the layers of cacert and
//    iana-etc, which every image holds. Its depth is the most store paths that any one of its
//    paths keeps alive. The symlink layer goes on top of all (pipeline.ts).
//
// # Why this order
//
// Docker and podman (containers/storage) keep no compressed blobs: they key each unpacked layer by
// its chain ID, a hash of the layer and every layer below it. A pull reuses a layer only while its
// whole chain is present, so it reuses the longest prefix of the new image that some image it
// holds also starts with, and downloads everything from the first difference on, blobs it already
// has included. Three consequences:
// - The order must be a key of the layer alone, never of the image: then two images list their
//   common layers in the same relative order. If the layers they do not share all come after the
//   ones they do, they share a prefix. Popularity does that: when every image holding layer B also
//   holds layer A and some image holds A without B, A counts more images than B and goes first (a
//   file's referrer counts approximate the same). When two images' sets of layers cross (A and B,
//   then A and C, then A, B and C), no order serves all three: the third reuses A and B or A and C.
// - Popularity alone decides, not popularity × size (Nixery's order, and ours before): a big layer
//   particular to the image jumps ahead of a small shared one and breaks every chain behind it.
//   Pulling uses-big (a 115 MB data layer) and then uses-big/uses-huge (plus 147 MB) downloaded
//   263 MB with docker for 148 MB of layers it did not have, because 147 × 1 outrated 115 × 1.
// - Learned popularity counts layers, not store paths: a chain is made of blobs, and a path that
//   earlier images held inside another group of paths is, here, a layer nobody has. Such layers
//   count 0 and go last, behind every layer some earlier image had.
// Depth breaks ties because a path's dependencies keep fewer paths alive than it does: among
// layers equally popular (on a fresh origin, all of them), dependencies come first, and every
// image holding a dependent holds its dependencies, so that order is the one popularity would
// reach anyway. The content id is the last resort: stable, and the same on every origin.
//
// What learned popularity changes, and what not: grouping (steps 1-4) never looks at it (without
// a file, nothing is popular but cacert and iana-etc), so a layer's paths, blob and digest are a
// function of the image's closure alone. The order, and with it the image's config, manifest
// digest and chain IDs, also depends on which images the origin published before; two origins
// with the same history agree on every digest. When a new image changes the counts, a later build
// may list the same blobs in another order: registries and caches keep every blob, but a docker
// client holding the old image downloads the layers above the first one that moved, once.
//
// Merging (step 4) keeps Nixery's rating rather than folding the tail of the order into one layer.
// Folding would keep the shared prefix whole, but it would also merge a big particular package with
// whatever else the image holds, so the next image holding that package could not reuse its blob,
// and without a file it would make blobs depend on history. The rating keeps big layers whole and
// merges small ones: with a file, small unpopular ones, which sort to the end anyway; without one,
// the smallest, whatever their learned popularity (only images of more than 94 dominator subtrees
// merge at all, and nothing is lifted for popularity then, so such images are rare).
//
// Where this departs from Nixery, and why:
// - Layer size. Nixery sums the closure sizes of a layer's paths, which counts shared dependencies
//   many times over and counts bytes that live in other layers. We sum NAR sizes: the bytes that
//   are actually in the layer, which is what a cache hit on it saves.
// - Merging. Nixery sorts once and then folds each merged layer into the next one in the original
//   order; we re-sort after every merge, so it is always the two lowest that merge. For ratings
//   5, 6, 7, 8 and budget 2 Nixery yields {5,6,7} and {8}; we yield {5,6} and {7,8}.
// - Order: popularity, depth and content id, not the merge rating (above).
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
// # Worked example 1: grouping, and the order from a file (group-layers.test.ts; sizes in MB,
// ratings in MB × popularity)
//
// Roots: git, htop, nss-cacert, iana-etc. References (every path also refers to glibc-2.37):
//   git-2.42 (50) → curl-8.4, perl-5.38, pcre2-10.42    curl-8.4 (2) → openssl-3.0, zlib-1.3
//   htop-3.2 (1) → ncurses-6.4     openssl-3.0 (6), zlib-1.3 (1), perl-5.38 (80), pcre2-10.42 (1),
//   ncurses-6.4 (3), glibc-2.37 (30), nss-cacert-3.92 (2), iana-etc-20230316 (1)
// Popularity: glibc 300000, zlib 40000, openssl 9000, ncurses 2000, perl 80, curl 60, git 40,
//   pcre2 30, htop 5.
// Lifted: glibc, zlib, openssl, ncurses, nss-cacert, iana-etc (popular), perl (closure 110 MB > 100)
// and git (170 MB, a root anyway). curl and pcre2 are reached only through git, so git's subtree is
// {curl, git, pcre2}. Merge ratings: glibc 9000000, nss-cacert 1000000, iana-etc 500000, openssl
// 54000, zlib 40000, perl 6400, ncurses 6000, {curl, git, pcre2} 40 × 53 = 2120, htop 5.
// Budget 94 gives nine layers, in order (popularity, depth):
//   iana-etc (500000, 1), nss-cacert (500000, 1; after iana-etc by content id), glibc (300000, 1),
//   zlib (40000, 2), openssl (9000, 2), ncurses (2000, 2), perl (80, 2), {curl, git, pcre2} (40, 7),
//   htop (5, 3)
// (by rating, glibc would lead and openssl come before zlib, which every image with openssl holds).
// Budget 6 merges htop + git (2125), then + ncurses (8125), then + perl (14525):
//   iana-etc, nss-cacert, glibc, zlib, openssl, {curl, git, htop, ncurses, pcre2, perl} (5, 7)
// Budget 3 goes on: + zlib (54525), + openssl (108525), + iana-etc (608525):
//   nss-cacert, glibc, {everything else} (5, 7)
//
// # Worked example 2: learned order over a sequence of pulls (group-layers.test.ts)
//
// No file. busybox (2 MB), big-data (115), huge-data (147), nss-cacert (1), iana-etc (1);
// uses-big (1) → busybox, big-data; uses-huge (1) → busybox, huge-data. An empty origin builds, and
// one docker client pulls, one image after another (each with nss-cacert and iana-etc), listed
// bottom first with (learned popularity, depth):
//   uses-big: iana-etc, nss-cacert (∞), big-data (0, 1), {busybox, uses-big} (0, 3).
//     120 MB downloaded, all of it new.
//   uses-big/uses-huge: iana-etc, nss-cacert, big-data (1, 1), then what no image held yet:
//     huge-data, busybox (0, 1), uses-huge, uses-big (0, 3). The client reuses the first three
//     layers and downloads 151 MB, all of it new; busybox it holds, but inside another layer. Without
//     learned popularity every count is 1 and huge-data sorts before big-data by content id:
//     266 MB downloaded for the same 151 MB.
//   uses-huge: iana-etc, nss-cacert, huge-data (1, 1), {busybox, uses-huge} (0, 3). 150 MB
//     downloaded for 3 MB new: the client holds huge-data only above big-data. The crossing case,
//     which no order avoids without breaking the pull before it.

import { dominatedSubtrees, immediateDominators } from "./dominators.ts";
import {
  buildClosureGraph,
  IncompleteClosureGraph,
  type ClosureGraph,
  type StorePathInfo,
} from "./graph.ts";
import { layerContentId } from "./layer-key.ts";
import { orderLayers, type OrderKey } from "./order-layers.ts";

export interface Layer extends OrderKey {
  /** Store paths, ascending. */
  paths: string[];
  /** The content id of `paths` (layer-key.ts). */
  id: string;
  /**
   * What ordered the layer: the least popularity of its heads (the paths no other path of the
   * layer refers to: a subtree's root) in the popularity data, or, with learned popularity, how
   * many earlier images held this very layer (Infinity for cacert and iana-etc).
   */
  popularity: number;
  /** Most store paths that any one of its paths keeps alive, itself included. */
  depth: number;
  /** Popularity of the layer's root × its size in bytes, summed when layers merge (exact below 2^53). */
  mergeRating: number;
}

/** Learned popularity: how many images published before held the layer with this content id. */
export type LearnedPopularity = (id: string) => number;

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

/**
 * The store-path layers of an image, in pull order. `popularity` (package name → count) decides
 * grouping, and the order too unless `learned` is given: then the order follows learned
 * popularity and `popularity` should be empty, so that history never changes a layer's contents.
 */
export function groupLayers(
  graph: StorePathInfo[],
  roots: string[],
  popularity: ReadonlyMap<string, number>,
  options: Partial<LayerOptions> = {},
  learned?: LearnedPopularity,
): Layer[] {
  const { budget, bigThreshold, popularThreshold } = checkOptions({
    ...defaultLayerOptions,
    ...options,
  });
  const g = buildClosureGraph(graph);
  const n = g.paths.length;
  const isEverywhere = g.names.map((name) => everywhere.some((prefix) => name.startsWith(prefix)));
  const popularityOf = g.names.map((name, v) =>
    isEverywhere[v] ? everywherePopularity : (popularity.get(name) ?? 1),
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

  const layerOf = new Int32Array(n);
  layers.forEach((layer, i) => layer.ids.forEach((v) => (layerOf[v] = i)));
  const referredWithin = new Uint8Array(n);
  for (let v = 0; v < n; v++) {
    for (const w of g.references[v]!) if (layerOf[w] === layerOf[v]) referredWithin[w] = 1;
  }
  return orderLayers(
    layers.map(({ ids, rating }): Layer => {
      const paths = ids.sort((a, b) => a - b).map((v) => g.paths[v]!);
      const id = layerContentId(paths);
      // Heads: the paths no other path of the layer refers to; a subtree's root, or the roots of
      // merged subtrees (all paths of a reference cycle, which has none). A function of the paths
      // alone, so the same layer ranks alike in every image.
      const unreferred = ids.filter((v) => referredWithin[v] === 0);
      const heads = unreferred.length > 0 ? unreferred : ids;
      const layerPopularity = learned
        ? heads.every((v) => isEverywhere[v])
          ? Infinity
          : learned(id)
        : Math.min(...heads.map((v) => popularityOf[v]!));
      const depth = Math.max(...ids.map((v) => g.closureCounts[v]!));
      return { paths, id, popularity: layerPopularity, depth, mergeRating: rating };
    }),
  );
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
