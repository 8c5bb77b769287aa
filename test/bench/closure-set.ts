// A package set of real size for the closure benchmark, generated offline and deterministically:
// the same seed writes the same Nix files, so Nix gives the same store paths. Shaped like nixpkgs:
// a glibc-like path nearly everything refers to, a few large shared libraries (LLVM-, Qt- and
// Python-like), about 1,800 small packages whose references follow preferential attachment (a few
// hubs, a long tail) and reach back to recent packages (chains 20+ deep), and top-level images of
// chosen closure sizes. File contents are slices of one corpus that busybox awk writes once
// (text-like and binary-like runs, about 3:1 under gzip -6); a library file starts with its
// dependencies' store paths (an RPATH), so Nix finds the references that make the closure.
//
//   npx tsx test/bench/closure-set.ts [dir]      writes the set (default .cache/closure-set)

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { seededRandom } from "../support/closure-fixtures.ts";
import { closureSetFiles } from "./closure-set-nix.ts";

const MiB = 1024 * 1024;
export const closureSetSeed = 20261207;
const seed = closureSetSeed;
const smallPackages = 1800;

/** Large shared libraries: name, bytes, files, position in the build order. */
const largeLibraries: [string, number, number, number][] = [
  ["glibc-2.40", 36 * MiB, 420, 0],
  ["gcc-lib-13.2.0", 9 * MiB, 60, 1],
  ["perl-5.38.2", 58 * MiB, 2600, 120],
  ["icu4c-74.2", 36 * MiB, 150, 160],
  ["python3-3.12.4", 96 * MiB, 3800, 300],
  ["boost-1.83.0", 62 * MiB, 4200, 420],
  ["llvm-18.1.8-lib", 190 * MiB, 240, 560],
  ["openblas-0.3.27", 54 * MiB, 40, 620],
  ["qtbase-6.7.2", 125 * MiB, 1900, 900],
  ["mesa-24.1.4-drivers", 88 * MiB, 90, 1000],
];
/** Hubs beside glibc and how likely a small package refers to each (zlib-, openssl-like…). */
const hubs: [string, number][] = [
  ["zlib-1.3.1", 0.45],
  ["openssl-3.0.14", 0.25],
  ["ncurses-6.4", 0.12],
  ["libffi-3.4.6", 0.1],
  ["xz-5.4.7", 0.12],
  ["bzip2-1.0.8", 0.08],
];
/** Images: a top-level package whose closure has about `paths` store paths. */
export const closureImages = [
  { name: "small-tool", paths: 20, needs: [] as string[] },
  { name: "desktop-app", paths: 300, needs: ["qtbase-6.7.2", "icu4c-74.2"] },
  { name: "compiler-env", paths: 600, needs: ["llvm-18.1.8-lib", "perl-5.38.2"] },
  {
    name: "data-stack",
    paths: 1300,
    needs: ["python3-3.12.4", "openblas-0.3.27", "llvm-18.1.8-lib", "boost-1.83.0"],
  },
];

export interface Pkg {
  name: string;
  attr: string;
  deps: number[];
  bytes: number;
  files: number;
}

export interface ClosureSetShape {
  dir: string;
  packages: number;
  bytes: number;
  files: number;
  depth: number;
  images: { name: string; paths: number; bytes: number }[];
}

const syllables =
  "ba be bi bo bu ca ce ci co da de di do fa fe fi ga ge go ha he hi jo ka ke ki ko la le li lo lu ma me mi mo na ne ni no pa pe pi po ra re ri ro sa se si so ta te ti to va ve vi vo xa xe za ze zo".split(
    " ",
  );
const kinds = ["lib", "py", "perl", "font", "x", "gst", "hs", "node", "", "", "", ""];

export function generatePackages(): Pkg[] {
  const next = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const pkgs: Pkg[] = [];
  const used = new Set<string>();
  const inDegree: number[] = [];
  const add = (name: string, deps: number[], bytes: number, files: number) => {
    const attr = name.replace(/-\d.*$/, "").replace(/[^a-z0-9-]/g, "");
    used.add(attr);
    pkgs.push({ name, attr, deps: [...new Set(deps)].sort((a, b) => a - b), bytes, files });
    inDegree.push(0);
    for (const dep of deps) inDegree[dep]!++;
    return pkgs.length - 1;
  };
  const index = (name: string) => pkgs.findIndex((pkg) => pkg.name === name);
  /** A dependency among the first `below` packages, by popularity so far (a long tail). */
  const popular = (below: number) => {
    let total = 0;
    for (let j = 0; j < below; j++) total += (inDegree[j]! + 1) ** 1.1;
    let pick = next() * total;
    for (let j = 0; j < below; j++) if ((pick -= (inDegree[j]! + 1) ** 1.1) <= 0) return j;
    return below - 1;
  };
  const smallDeps = (at: number): number[] => {
    const deps: number[] = [];
    if (next() < 0.97) deps.push(0);
    if (at > 1 && next() < 0.5) deps.push(1);
    for (const [hub, p] of hubs) {
      const j = index(hub);
      if (j >= 0 && j < at && next() < p) deps.push(j);
    }
    const extra = Math.floor(-Math.log(1 - next()) * 1.6);
    for (let k = 0; k < extra && at > 2; k++) deps.push(popular(at));
    // A recent package: the chains that make a closure deep.
    if (at > 10 && next() < 0.75) deps.push(at - 1 - Math.floor(next() * Math.min(40, at - 1)));
    return deps;
  };
  const large = [...largeLibraries];
  const hubQueue = [...hubs];
  for (let i = 0; pkgs.length < smallPackages + largeLibraries.length + hubs.length; i++) {
    const at = pkgs.length;
    if (large[0] && large[0][3] <= at) {
      const [name, bytes, files] = large.shift()!;
      add(name, at === 0 ? [] : smallDeps(at), bytes, files);
      continue;
    }
    if (hubQueue[0] && at >= 2) {
      const [name] = hubQueue.shift()!;
      add(name, [0], Math.round(200_000 + next() * 3 * MiB), 8 + Math.floor(next() * 30));
      continue;
    }
    let attr: string;
    do {
      const kind = kinds[Math.floor(next() * kinds.length)]!;
      const word = Array.from(
        { length: 2 + Math.floor(next() * 3) },
        () => syllables[Math.floor(next() * syllables.length)],
      ).join("");
      attr = kind ? `${kind}-${word}` : word;
    } while (used.has(attr));
    const version = `${Math.floor(next() * 5)}.${Math.floor(next() * 20)}.${Math.floor(next() * 9)}`;
    const bytes = Math.min(40 * MiB, Math.round(220_000 * Math.exp(1.5 * normal())));
    const files = Math.max(2, Math.min(900, Math.round(18 * Math.exp(1.1 * normal()))));
    add(`${attr}-${version}`, smallDeps(at), bytes, files);
  }
  for (const image of closureImages) {
    const order = pkgs.map((_, j) => j).sort(() => next() - 0.5);
    const deps = image.needs.map(index);
    const closure = closureOf(pkgs, deps);
    for (const j of order) {
      if (closure.size >= image.paths - 1) break;
      const extra = closureOf(pkgs, [j]);
      const union = new Set([...closure, ...extra]);
      if (union.size > image.paths - 1) continue;
      deps.push(j);
      for (const path of extra) closure.add(path);
    }
    add(`${image.name}-1.0`, deps, 2 * MiB, 40);
  }
  return pkgs;
}

function closureOf(pkgs: Pkg[], roots: number[]): Set<number> {
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const j = stack.pop()!;
    if (seen.has(j)) continue;
    seen.add(j);
    stack.push(...pkgs[j]!.deps);
  }
  return seen;
}

export function shapeOf(pkgs: Pkg[], dir: string): ClosureSetShape {
  const depth: number[] = [];
  for (const pkg of pkgs) depth.push(1 + Math.max(0, ...pkg.deps.map((j) => depth[j]!)));
  const images = closureImages.map((image) => {
    const closure = closureOf(pkgs, [pkgs.findIndex((pkg) => pkg.attr === image.name)]);
    const bytes = [...closure].reduce((sum, j) => sum + pkgs[j]!.bytes, 0);
    return { name: image.name, paths: closure.size, bytes };
  });
  return {
    dir,
    packages: pkgs.length,
    bytes: pkgs.reduce((sum, pkg) => sum + pkg.bytes, 0),
    files: pkgs.reduce((sum, pkg) => sum + pkg.files, 0),
    depth: Math.max(...depth),
    images,
  };
}

export const defaultClosureSetDir = fileURLToPath(
  new URL("../../.cache/closure-set/", import.meta.url),
);

/** Writes the set's default.nix, build.sh and corpus.awk into `dir`; returns its planned shape. */
export async function writeClosureSet(dir = defaultClosureSetDir): Promise<ClosureSetShape> {
  const pkgs = generatePackages();
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(closureSetFiles(pkgs, seed))) {
    await writeFile(join(dir, name), text);
  }
  return shapeOf(pkgs, dir);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await writeClosureSet(process.argv[2]), null, 2));
}
