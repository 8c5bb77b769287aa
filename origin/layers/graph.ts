// The runtime closure graph of an image as numbered nodes: store paths sorted, references resolved
// to node ids (self references dropped), and each path's closure size (from NAR sizes) and count.

/** One store path of a runtime closure, as `nix path-info --json` describes it. */
export interface StorePathInfo {
  /** `/nix/store/<32-character hash>-<name>` */
  path: string;
  /** Store paths this path refers to; may include the path itself. */
  references: string[];
  /** Size in bytes of the path's NAR serialisation. */
  narSize: number;
}

export interface ClosureGraph {
  /** Store paths in ascending order; a path's node id is its index here. */
  paths: string[];
  /** Package names: store path names without the hash (`glibc-2.37-8`). */
  names: string[];
  narSizes: number[];
  /** Node ids each path references, ascending, without self references. */
  references: number[][];
  /** How many other paths of the graph refer to each path. */
  referrerCounts: number[];
  /** Sum of the NAR sizes of everything each path keeps alive, itself included. */
  closureSizes: number[];
  /** How many store paths each path keeps alive, itself included (its depth in the layer order). */
  closureCounts: number[];
  /** Node id of a store path, if the graph holds it. */
  ids: ReadonlyMap<string, number>;
}

/** A reference (or a requested root) names a store path the graph does not hold. */
export class IncompleteClosureGraph extends Error {
  constructor(readonly missing: { path: string; referencedBy: string | null }[]) {
    const shown = missing
      .slice(0, 5)
      .map(
        (m) =>
          `${m.path} (${m.referencedBy === null ? "requested" : `referenced by ${m.referencedBy}`})`,
      );
    const more = missing.length > shown.length ? ` and ${missing.length - shown.length} more` : "";
    super(`closure graph is missing ${missing.length} store path(s): ${shown.join(", ")}${more}`);
    this.name = "IncompleteClosureGraph";
  }
}

/** A store path entry is malformed or contradicts another entry for the same path. */
export class InvalidClosureGraph extends Error {
  constructor(message: string) {
    super(`invalid closure graph: ${message}`);
    this.name = "InvalidClosureGraph";
  }
}

const storePathName = /^[0-9a-z]{32}-(.+)$/;

/** The package name of a store path: its last component without the hash (`/nix/store/…-zlib-1.3` → `zlib-1.3`). */
export function packageName(path: string): string {
  const match = storePathName.exec(path.slice(path.lastIndexOf("/") + 1));
  if (!path.startsWith("/") || !match) {
    throw new InvalidClosureGraph(`${JSON.stringify(path)} is not a store path`);
  }
  return match[1]!;
}

/** Numbers the graph by sorted path, so everything computed from it is independent of input order. */
export function buildClosureGraph(infos: readonly StorePathInfo[]): ClosureGraph {
  const byPath = new Map<string, StorePathInfo>();
  for (const info of infos) {
    const seen = byPath.get(info.path);
    if (seen && !sameInfo(seen, info)) {
      throw new InvalidClosureGraph(
        `${info.path} appears twice with different sizes or references`,
      );
    }
    byPath.set(info.path, info);
  }
  const paths = [...byPath.keys()].sort();
  const ids = new Map(paths.map((path, id) => [path, id]));
  const missing: { path: string; referencedBy: string }[] = [];
  const referrerCounts = new Array<number>(paths.length).fill(0);

  const narSizes = paths.map((path) => {
    const size = byPath.get(path)!.narSize;
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new InvalidClosureGraph(`${path} has narSize ${size}, not a byte count`);
    }
    return size;
  });
  const references = paths.map((path, id) => {
    const refs = new Set<number>();
    for (const ref of byPath.get(path)!.references) {
      const refId = ids.get(ref);
      if (refId === undefined) missing.push({ path: ref, referencedBy: path });
      else if (refId !== id) refs.add(refId);
    }
    for (const refId of refs) referrerCounts[refId]!++;
    return [...refs].sort((a, b) => a - b);
  });
  if (missing.length > 0) {
    missing.sort((a, b) => compare(a.path, b.path) || compare(a.referencedBy, b.referencedBy));
    throw new IncompleteClosureGraph(missing);
  }

  const names = paths.map(packageName);
  const closureSizes = computeClosureSizes(references, narSizes);
  const closureCounts = computeClosureSizes(references, new Array<number>(paths.length).fill(1));
  return { paths, names, narSizes, references, referrerCounts, closureSizes, closureCounts, ids };
}

/**
 * Closure size of every node. Nix forbids reference cycles between distinct paths, but the input is
 * not trusted to obey, so closures are computed per strongly connected component (Tarjan, iterative)
 * as bitsets: a component's closure is its members plus the closures of the components it refers
 * to, which Tarjan's algorithm always finishes first. Memory is n²/8 bytes (0.5 MB for 2000 paths).
 */
export function computeClosureSizes(
  references: readonly (readonly number[])[],
  narSizes: readonly number[],
): number[] {
  const n = references.length;
  const words = Math.ceil(n / 32);
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const component = new Int32Array(n).fill(-1);
  const nextEdge = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const componentBits: Uint32Array[] = [];
  const sizes = new Array<number>(n).fill(0);
  const sccStack: number[] = [];
  const callStack: number[] = [];
  let counter = 0;
  const visit = (v: number) => {
    index[v] = low[v] = counter++;
    sccStack.push(v);
    onStack[v] = 1;
    callStack.push(v);
  };

  for (let start = 0; start < n; start++) {
    if (index[start] !== -1) continue;
    visit(start);
    while (callStack.length > 0) {
      const v = callStack[callStack.length - 1]!;
      const refs = references[v]!;
      if (nextEdge[v]! < refs.length) {
        const w = refs[nextEdge[v]!++]!;
        if (index[w] === -1) visit(w);
        else if (onStack[w]) low[v] = Math.min(low[v]!, index[w]!);
        continue;
      }
      callStack.pop();
      const parent = callStack[callStack.length - 1];
      if (parent !== undefined) low[parent] = Math.min(low[parent]!, low[v]!);
      if (low[v] !== index[v]) continue;

      const id = componentBits.length;
      const bits = new Uint32Array(words);
      const members: number[] = [];
      let w: number;
      do {
        w = sccStack.pop()!;
        onStack[w] = 0;
        component[w] = id;
        members.push(w);
        bits[w >>> 5]! |= 1 << (w & 31);
      } while (w !== v);
      for (const m of members) {
        for (const r of references[m]!) {
          const other = component[r]!;
          if (other === id) continue;
          const otherBits = componentBits[other]!;
          for (let i = 0; i < words; i++) bits[i]! |= otherBits[i]!;
        }
      }
      componentBits.push(bits);
      let total = 0;
      for (let i = 0; i < words; i++) {
        for (let word = bits[i]!; word !== 0; word &= word - 1) {
          total += narSizes[i * 32 + (31 - Math.clz32(word & -word))]!;
        }
      }
      for (const m of members) sizes[m] = total;
    }
  }
  return sizes;
}

function sameInfo(a: StorePathInfo, b: StorePathInfo): boolean {
  const refs = (info: StorePathInfo) => [...new Set(info.references)].sort().join("\n");
  return a.narSize === b.narSize && refs(a) === refs(b);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
