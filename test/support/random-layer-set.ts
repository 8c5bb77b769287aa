// A package set of the fixture set plus `randomdata`: one store path of random bytes (as
// incompressible as a real big layer), for measuring and testing transfers of a large blob.

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fixturePackageSet } from "./nix-env.ts";

/** Writes the set's default.nix into `dir` and returns `dir`. */
export async function randomLayerPackageSet(dir: string, megabytes: number): Promise<string> {
  await writeFile(
    join(dir, "default.nix"),
    `args@{ system ? builtins.currentSystem, ... }:
let base = import ${fixturePackageSet}/default.nix args;
in base // {
  randomdata = derivation {
    inherit system;
    name = "randomdata-${megabytes}m-1.0";
    builder = "\${base.busybox}/bin/sh";
    args = [ "-e" "-c" "mkdir -p $out/share/randomdata; head -c ${megabytes * 1024 * 1024} /dev/urandom > $out/share/randomdata/data" ];
    PATH = "\${base.busybox}/bin";
  } // { meta = { }; };
}
`,
  );
  return dir;
}
