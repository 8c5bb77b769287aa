// Immediate dominators of a directed graph whose nodes are the numbers 0..n-1, computed with the
// iterative algorithm of Cooper, Harvey and Kennedy ("A Simple, Fast Dominance Algorithm", 2001).

/**
 * Returns `idom`, where `idom[v]` is the immediate dominator of `v`: the last node that every path
 * from `root` to `v` passes through. `idom[root] === root`; nodes unreachable from `root` get -1.
 *
 * `successors[v]` lists the edges leaving `v`. Duplicates and self loops are allowed. The dominator
 * tree of a graph is unique, so the result does not depend on the order of the adjacency lists; the
 * traversal order only affects how many passes the iteration takes.
 */
export function immediateDominators(
  successors: readonly (readonly number[])[],
  root: number,
): Int32Array {
  const n = successors.length;
  checkNode(root, n, "root");
  for (const [v, edges] of successors.entries()) {
    for (const w of edges) checkNode(w, n, `successor of ${v}`);
  }

  const { postorder, reversePostorder } = depthFirstOrder(successors, root);
  const predecessors: number[][] = Array.from({ length: n }, () => []);
  for (const v of reversePostorder) {
    for (const w of successors[v]!) predecessors[w]!.push(v);
  }

  const idom = new Int32Array(n).fill(-1);
  idom[root] = root;

  // Walks both fingers up the current tree until they meet; postorder numbers grow towards the root.
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (postorder[a]! < postorder[b]!) a = idom[a]!;
      while (postorder[b]! < postorder[a]!) b = idom[b]!;
    }
    return a;
  };

  let changed = true;
  while (changed) {
    changed = false;
    for (const v of reversePostorder) {
      if (v === root) continue;
      let candidate = -1;
      for (const p of predecessors[v]!) {
        if (idom[p] === -1) continue; // not processed yet in this pass
        candidate = candidate === -1 ? p : intersect(p, candidate);
      }
      if (candidate !== -1 && idom[v] !== candidate) {
        idom[v] = candidate;
        changed = true;
      }
    }
  }
  return idom;
}

/**
 * The subtrees hanging directly under `root` in the dominator tree `idom`: for each child of the
 * root (ascending), that child and every node it dominates (ascending). Every node must be reachable.
 */
export function dominatedSubtrees(
  idom: Int32Array,
  root: number,
): { top: number; nodes: number[] }[] {
  const topOf = new Int32Array(idom.length).fill(-1);
  const subtrees = new Map<number, { top: number; nodes: number[] }>();
  for (let v = 0; v < idom.length; v++) {
    if (v === root) continue;
    const chain: number[] = [];
    let u = v;
    while (topOf[u] === -1 && idom[u] !== root) {
      if (idom[u] === -1) throw new RangeError(`dominators: node ${u} is unreachable from ${root}`);
      chain.push(u);
      u = idom[u]!;
    }
    const top = topOf[u] === -1 ? u : topOf[u]!;
    for (const c of chain) topOf[c] = top;
    topOf[u] = top;
    let subtree = subtrees.get(top);
    if (!subtree) subtrees.set(top, (subtree = { top, nodes: [] }));
    subtree.nodes.push(v);
  }
  return [...subtrees.values()].sort((a, b) => a.top - b.top);
}

/** Nodes reachable from `root` in reverse postorder, and each node's postorder number (-1 if unreachable). */
function depthFirstOrder(
  successors: readonly (readonly number[])[],
  root: number,
): { postorder: Int32Array; reversePostorder: number[] } {
  const postorder = new Int32Array(successors.length).fill(-1);
  const visited = new Uint8Array(successors.length);
  const nextEdge = new Int32Array(successors.length);
  const finished: number[] = [];
  const stack = [root];
  visited[root] = 1;
  while (stack.length > 0) {
    const v = stack[stack.length - 1]!;
    const edges = successors[v]!;
    if (nextEdge[v]! < edges.length) {
      const w = edges[nextEdge[v]!++]!;
      if (visited[w] === 0) {
        visited[w] = 1;
        stack.push(w);
      }
      continue;
    }
    stack.pop();
    postorder[v] = finished.length;
    finished.push(v);
  }
  return { postorder, reversePostorder: finished.reverse() };
}

function checkNode(v: number, n: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v >= n) {
    throw new RangeError(`dominators: ${what} is ${v}, not a node of a graph with ${n} nodes`);
  }
}
