// The generated package set of the closure benchmark: deterministic, and of the size and shape the
// benchmark claims (issue 21), checked on the plan without building it.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { closureImages, closureSetSeed, generatePackages, shapeOf } from "./closure-set.ts";
import { closureSetFiles } from "./closure-set-nix.ts";

describe("the generated closure set", () => {
  const packages = generatePackages();
  const shape = shapeOf(packages, "");

  it("is the same every time (same Nix text, so the same store paths)", () => {
    const files = closureSetFiles(packages, closureSetSeed);
    assert.deepEqual(closureSetFiles(generatePackages(), closureSetSeed), files);
    assert.ok(files["default.nix"]!.includes(`${packages.length} packages`));
  });

  it("has real size: paths, files, bytes and depth", () => {
    assert.ok(shape.packages >= 1500, `${shape.packages} packages`);
    assert.ok(shape.files >= 50_000, `${shape.files} files`);
    assert.ok(shape.bytes >= 1.5e9, `${shape.bytes} bytes`);
    assert.ok(shape.depth >= 20, `depth ${shape.depth}`);
  });

  it("has a long tail: a glibc-like path nearly everything refers to, most paths rarely", () => {
    const referrers = new Array<number>(packages.length).fill(0);
    for (const pkg of packages) for (const dep of pkg.deps) referrers[dep]!++;
    assert.equal(packages[0]!.attr, "glibc");
    assert.ok(referrers[0]! > 0.9 * packages.length, `glibc has ${referrers[0]} referrers`);
    const rare = referrers.filter((count) => count <= 2).length;
    assert.ok(rare > packages.length / 2, `${rare} packages with at most two referrers`);
  });

  it("has images of the planned closure sizes", () => {
    assert.deepEqual(
      shape.images.map((image) => [image.name, image.paths]),
      closureImages.map((image) => [image.name, image.paths]),
    );
  });

  it("names every dependency before its dependant (a DAG Nix can build)", () => {
    packages.forEach((pkg, i) =>
      assert.ok(
        pkg.deps.every((dep) => dep >= 0 && dep < i),
        pkg.name,
      ),
    );
    assert.equal(new Set(packages.map((pkg) => pkg.attr)).size, packages.length);
  });
});
