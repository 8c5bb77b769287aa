// "Did you mean …?": the known names closest to one the package set does not have, by edit
// distance (insertions, deletions, substitutions and swaps of neighbours each cost 1), allowing
// about one edit per four characters. Names of very different length are not compared at all,
// so a pass over the ~80,000 names of a nixpkgs revision takes milliseconds.

export function closestNames(wanted: string, known: Iterable<string>, limit = 3): string[] {
  const target = wanted.toLowerCase();
  const allowed = Math.max(1, Math.min(3, Math.floor(target.length / 4)));
  const scored: { name: string; distance: number }[] = [];
  for (const name of known) {
    if (Math.abs(name.length - target.length) > allowed || name === target) continue;
    const distance = editDistance(target, name, allowed);
    if (distance <= allowed) scored.push({ name, distance });
  }
  scored.sort(
    (a, b) =>
      a.distance - b.distance || a.name.length - b.name.length || (a.name < b.name ? -1 : 1),
  );
  return [...new Set(scored.map((entry) => entry.name))].slice(0, limit);
}

/** Optimal-string-alignment distance, giving up (returning bound + 1) once it exceeds `bound`. */
export function editDistance(a: string, b: string, bound = Infinity): number {
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, before[j - 2]! + 1);
      }
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > bound) return bound + 1;
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}
