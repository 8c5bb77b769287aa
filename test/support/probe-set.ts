// A package set that is the fixture set plus packages no earlier test run has built: each call
// writes one with a fresh salt, so its `probe` derivations are new to the shared /nix/store and a
// test can see where and whether they get built (a remote builder, a platform Nix cannot build).

import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixturePackageSet } from "./nix-env.ts";

export interface ProbeSet {
  path: string;
  salt: string;
  remove(): Promise<void>;
}

/**
 * `probe` and `probe2`: $out/bin/<name> is a script for the set's system (its busybox) that
 * prints the salt; $out/share/built-on holds the hostname the builder saw.
 */
export async function writeProbeSet(): Promise<ProbeSet> {
  const dir = await mkdtemp(join(tmpdir(), "nixery-probe-set-"));
  const salt = randomUUID();
  const probe = (name: string) => `
  ${name} = derivation {
    name = "${name}-1.0";
    inherit system;
    builder = "\${hostBusybox}/busybox";
    args = [ "sh" "-e" "-c" "eval \\"$buildScript\\"" ];
    bb = "\${hostBusybox}/busybox";
    buildScript = ''
      $bb mkdir -p $out/bin $out/share
      $bb hostname > $out/share/built-on
      $bb printf '#!\${base.busybox}/bin/sh\\necho "${name} ${salt}"\\n' > $out/bin/${name}
      $bb chmod 555 $out/bin/${name}
    '';
  } // { meta = { }; };`;
  await writeFile(
    join(dir, "default.nix"),
    `# Written by test/support/probe-set.ts: the fixture set plus two never-built probes.
args@{ system ? builtins.currentSystem, ... }:
let
  base = import ${fixturePackageSet} args;
  hostBusybox = builtins.path {
    name = "busybox-static";
    path = /usr/bin;
    filter = path: type: baseNameOf path == "busybox";
  };
in
base // {${probe("probe")}${probe("probe2")}
}
`,
  );
  return { path: dir, salt, remove: () => rm(dir, { recursive: true, force: true }) };
}
