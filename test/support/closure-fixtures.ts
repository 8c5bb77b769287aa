// Closure graphs for the layering tests: fake store paths, a compact notation for small graphs,
// and seeded random closures shaped like nixpkgs ones (a few hubs everything uses, a long tail).

import { createHash } from "node:crypto";
import type { StorePathInfo } from "../../origin/layers/graph.ts";

export const MB = 1_000_000;
const nix32 = "0123456789abcdfghijklmnpqrsvwxyz";

/** A store path for a package name, with a fixed fake hash derived from the name. */
export function storePath(name: string): string {
  const digest = createHash("sha256").update(name).digest();
  const hash = Array.from(digest.subarray(0, 32), (byte) => nix32[byte % 32]).join("");
  return `/nix/store/${hash}-${name}`;
}

/** The package name of a path made by storePath. */
export function nameOf(path: string): string {
  return path.slice("/nix/store/".length + 33);
}

/** Package name → [NAR size in MB, referenced names]. */
export type Fixture = Record<string, [number, string[]]>;

/** Every path also refers to itself, as Nix records it. */
export function graphOf(fixture: Fixture): StorePathInfo[] {
  return Object.entries(fixture).map(([name, [size, refs]]) => ({
    path: storePath(name),
    references: [storePath(name), ...refs.map(storePath)],
    narSize: size * MB,
  }));
}

/** A deterministic pseudo-random number generator in [0, 1). */
export function seededRandom(seed: number): () => number {
  return () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

export interface RandomClosure {
  graph: StorePathInfo[];
  roots: string[];
  popularity: Map<string, number>;
}

/**
 * `size` paths; path i refers only to paths after it (a DAG, as Nix guarantees), mostly to the
 * ten hubs at the end (glibc-like) and otherwise to a few random ones. The roots are the paths
 * nothing refers to, so the graph is exactly their closure, as Nix would report it.
 */
export function randomClosure(seed: number, size: number): RandomClosure {
  const next = seededRandom(seed);
  const names = Array.from({ length: size }, (_, i) => `pkg${i}-1.${Math.floor(next() * 9)}`);
  const references = names.map((_, i) => {
    const refs = new Set<number>();
    if (i + 1 < size) refs.add(i + 1 + Math.floor(next() * Math.min(30, size - i - 1)));
    const extra = Math.floor(next() * 8);
    for (let k = 0; k < extra && i + 1 < size; k++) {
      const hub = next() < 0.6;
      const target = hub
        ? size - 1 - Math.floor(next() * 10)
        : i + 1 + Math.floor(next() * (size - i - 1));
      if (target > i) refs.add(target);
    }
    return [...refs];
  });
  const graph = names.map((name, i) => ({
    path: storePath(name),
    references: [storePath(name), ...references[i]!.map((r) => storePath(names[r]!))],
    narSize: Math.floor(next() ** 3 * 200 * MB),
  }));
  const popularity = new Map<string, number>();
  for (const name of names) if (next() < 0.7) popularity.set(name, Math.floor(next() ** 4 * 5000));
  const referenced = new Set(references.flat());
  const roots = graph.filter((_, i) => !referenced.has(i)).map((info) => info.path);
  return { graph, roots, popularity };
}

/** A shuffled copy (Fisher–Yates with a seeded generator). */
export function shuffled<T>(items: readonly T[], next: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

const workedExample: Fixture = {
  "git-2.42": [50, ["curl-8.4", "perl-5.38", "pcre2-10.42", "glibc-2.37"]],
  "curl-8.4": [2, ["openssl-3.0", "zlib-1.3", "glibc-2.37"]],
  "openssl-3.0": [6, ["glibc-2.37"]],
  "zlib-1.3": [1, ["glibc-2.37"]],
  "perl-5.38": [80, ["glibc-2.37"]],
  "pcre2-10.42": [1, ["glibc-2.37"]],
  "htop-3.2": [1, ["ncurses-6.4", "glibc-2.37"]],
  "ncurses-6.4": [3, ["glibc-2.37"]],
  "glibc-2.37": [30, []],
  "nss-cacert-3.92": [2, []],
  "iana-etc-20230316": [1, []],
};
const workedRoots = ["git-2.42", "htop-3.2", "nss-cacert-3.92", "iana-etc-20230316"];
const workedPopularity = {
  "glibc-2.37": 300000,
  "zlib-1.3": 40000,
  "openssl-3.0": 9000,
  "ncurses-6.4": 2000,
  "perl-5.38": 80,
  "curl-8.4": 60,
  "git-2.42": 40,
  "pcre2-10.42": 30,
  "htop-3.2": 5,
};

/** The worked example of the essay in group-layers.ts. */
export const worked = { fixture: workedExample, roots: workedRoots, popularity: workedPopularity };
