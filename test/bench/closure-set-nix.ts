// The Nix side of the generated closure set (closure-set.ts plans the packages): default.nix with
// one derivation per package, the builder script that makes a package's files from its file list,
// the awk program that writes the corpus the files are sliced from, and all.nix, which builds all.

import { seededRandom } from "../support/closure-fixtures.ts";
import type { Pkg } from "./closure-set.ts";

const MiB = 1024 * 1024;
/** The corpus every file is sliced from; pieces of a big file are at most `maxPiece` bytes. */
const corpusBytes = 48 * MiB;
const maxPiece = 8 * MiB;

/** The set's files by name: default.nix, build.sh, corpus.awk and all.nix. */
export function closureSetFiles(pkgs: Pkg[], seed: number): Record<string, string> {
  return {
    "default.nix": closureSetNix(pkgs, seed),
    "build.sh": buildSh,
    "corpus.awk": corpusAwk,
    "all.nix": allNix,
  };
}

/** The file list a package's builder reads: one command a line (see build.sh below). */
function fileList(pkg: Pkg, next: () => number): string {
  const lines: string[] = [];
  const short = pkg.attr;
  const dirs = ["bin", "lib", `share/doc/${short}`, `share/man/man1`, `include/${short}`];
  for (const dir of dirs) lines.push(`d ${dir}`);
  const weights = Array.from({ length: pkg.files }, () => Math.exp(2 * (next() - 0.5) * 2));
  // A library's main file holds a large share, as libLLVM or libQt6Core does.
  weights[0] = weights.reduce((a, b) => a + b, 0) * (pkg.files > 30 ? 1.2 : 0.8);
  const total = weights.reduce((a, b) => a + b, 0);
  const slice = (path: string, size: number, header: boolean) => {
    lines.push(header ? `h ${path}` : `f ${path} 0 0`);
    for (let left = Math.max(1, size); left > 0; left -= maxPiece) {
      const piece = Math.min(left, maxPiece);
      lines.push(`+ ${path} ${Math.floor(next() * (corpusBytes - piece))} ${piece}`);
    }
  };
  for (let k = 0; k < pkg.files; k++) {
    const size = Math.round((pkg.bytes * weights[k]!) / total);
    const r = next();
    if (k === 0 || r < 0.25) {
      const lib = `lib/lib${short.replace(/-/g, "_")}${k || ""}.so`;
      slice(`${lib}.1.2`, size, true);
      if (k === 0 || r < 0.08)
        lines.push(`s ${lib}.1 lib${short.replace(/-/g, "_")}${k || ""}.so.1.2`);
    } else if (r < 0.35) {
      const bin = `bin/${short}${k}`;
      slice(bin, size, true);
      lines.push(`x ${bin}`);
    } else if (r < 0.45) slice(`share/man/man1/${short}${k}.1`, size, false);
    else if (r < 0.6) slice(`include/${short}/h${k}.h`, size, false);
    else slice(`share/doc/${short}/f${k}.txt`, size, false);
  }
  return `${lines.join("\n")}\n`;
}

const corpusAwk = String.raw`# The corpus every file is sliced from: text-like runs (words of a fixed vocabulary, skewed) and
# binary-like runs (byte runs, a table of 4-byte "instructions", random bytes), ~3:1 under gzip -6.
# The generator is exact in doubles (s * 69069 stays below 2^53).
BEGIN {
  s = seed; n = 0
  zeros = "\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1"
  for (i = 1; i < 256; i++) ch[i] = sprintf("%c", i)
  for (i = 0; i < 1024; i++) {
    w = ""; l = 3 + rnd(9)
    for (j = 0; j < l; j++) w = w ch[97 + rnd(26)]
    vocab[i] = w
  }
  for (i = 0; i < 512; i++) op[i] = ch[1 + rnd(255)] ch[1 + rnd(255)] ch[1 + rnd(8)] ch[1 + rnd(255)]
  while (n < total) {
    out = ""
    if (rnd(4) < 3) {
      len = 2048 + rnd(8192)
      while (length(out) < len) {
        k = rnd(1024); k = int(k * k / 1024 * k / 1024)
        out = out vocab[k] (rnd(10) == 0 ? "\n" : " ")
      }
    } else {
      len = 1024 + rnd(4096)
      while (length(out) < len) {
        r = rnd(8)
        if (r < 2) out = out substr(zeros, 1, 1 + rnd(12))
        else if (r < 7) { k = rnd(512); out = out op[int(k * k / 512)] }
        else out = out ch[1 + rnd(255)] ch[1 + rnd(255)]
      }
    }
    printf "%s", out; n += length(out)
  }
}
function rnd(m) { s = (s * 69069 + 1) % 4294967296; return int(s / 4294967296 * m) }
`;

const buildSh = `# Builds one package of the generated set from its file list ($filesPath): d makes a directory,
# f an empty file, h a file that starts like an ELF library (its dependencies' store paths as an
# RPATH, so Nix records the references), + appends a slice of the corpus, x makes it executable,
# s makes a symlink. nix-support/runtime-deps names every dependency too.
mkdir -p $out/nix-support
while read -r kind path a b; do
  case "$kind" in
    d) mkdir -p "$out/$path" ;;
    f) : > "$out/$path" ;;
    h) { printf '\\177ELF\\2\\1\\1\\0'; for d in $deps; do printf '%s/lib:' "$d"; done; printf '\\0'; } > "$out/$path" ;;
    +) dd if="$corpus" bs="$b" count=1 skip="$a" iflag=skip_bytes 2>/dev/null >> "$out/$path" ;;
    x) chmod 555 "$out/$path" ;;
    s) ln -s "$a" "$out/$path" ;;
  esac
done < "$filesPath"
for d in $deps; do echo "$d"; done > $out/nix-support/runtime-deps
`;

export function closureSetNix(pkgs: Pkg[], seed: number): string {
  const next = seededRandom(seed + 1);
  const attrs = pkgs.map((pkg) => {
    const deps = pkg.deps.map((j) => pkgs[j]!.attr).join(" ");
    return `  ${pkg.attr} = mk "${pkg.name}" [ ${deps} ] ''\n${fileList(pkg, next)}'';`;
  });
  return `# Generated by test/bench/closure-set.ts (seed ${seed}); do not edit. ${pkgs.length} packages.
{ system ? builtins.currentSystem, ... }:
let
  busyboxImport = builtins.path {
    name = "busybox-static";
    path = /usr/bin;
    filter = path: type: baseNameOf path == "busybox";
  };
  busybox = derivation {
    inherit system;
    name = "busybox-1.35.0";
    builder = "\${busyboxImport}/busybox";
    args = [ "sh" "-e" "-c" "eval \\"$buildScript\\"" ];
    bb = "\${busyboxImport}/busybox";
    buildScript = ''
      $bb mkdir -p $out/bin
      $bb cp $bb $out/bin/busybox
      for applet in $($bb --list); do
        [ "$applet" = busybox ] || $bb ln -s busybox $out/bin/$applet
      done
    '';
  };
  corpus = derivation {
    inherit system;
    name = "closure-corpus";
    builder = "\${busybox}/bin/sh";
    args = [ "-e" "-c" "awk -v seed=${seed} -v total=${corpusBytes} -f \${./corpus.awk} > $out" ];
    PATH = "\${busybox}/bin";
  };
  mk = name: deps: files: derivation {
    inherit name system corpus deps files;
    builder = "\${busybox}/bin/sh";
    args = [ "-e" ./build.sh ];
    PATH = "\${busybox}/bin";
    passAsFile = [ "files" ];
  };
in
rec {
${attrs.join("\n")}
}
`;
}

/** One derivation that refers to every package: building it builds the set, one GC root keeps it. */
const allNix = `# Generated by test/bench/closure-set.ts: every package of the set, for one nix-build and one root.
let
  set = import ./. { };
  busybox = builtins.path {
    name = "busybox-static";
    path = /usr/bin;
    filter = path: type: baseNameOf path == "busybox";
  };
in
derivation {
  name = "closure-set-all";
  system = builtins.currentSystem;
  builder = "\${busybox}/busybox";
  args = [ "sh" "-c" "echo $paths > $out" ];
  paths = builtins.attrValues set;
}
`;
