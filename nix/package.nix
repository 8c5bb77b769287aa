# The origin as a Nix package: the TypeScript sources run by tsx (a runtime dependency), with the
# npm dependencies fetched by importNpmLock from package-lock.json's integrity hashes (no
# npmDepsHash to keep in step) and better-sqlite3 built from source. Needs nixpkgs 24.05 or newer
# (importNpmLock) and network access to the npm registry while building (fixed-output fetches).
#
#   nix-build -E 'with import <nixpkgs> {}; callPackage ./nix/package.nix {}'
#
# The wrapper puts git and ssh on PATH after the caller's PATH, so a host's own Nix (the one its
# daemon runs) comes first; the package's Nix is the fallback.
{ lib, stdenv, buildNpmPackage, importNpmLock, nodejs, python3, makeWrapper, nix, git, openssh }:

buildNpmPackage {
  pname = "nixery-edge";
  version = (lib.importJSON ../package.json).version;

  src = lib.cleanSourceWith {
    src = ../.;
    filter = path: type:
      let base = baseNameOf path;
      in !(lib.elem base [ "node_modules" "data" ".cache" ".tsbuild" ".wrangler" "test" ]);
  };

  inherit nodejs;
  npmDeps = importNpmLock { npmRoot = ../.; };
  npmConfigHook = importNpmLock.npmConfigHook;
  # Runtime dependencies only: the edge's tooling (wrangler, workerd, miniflare) is not needed.
  npmFlags = [ "--omit=dev" ];
  nativeBuildInputs = [ makeWrapper python3 ];
  dontNpmBuild = true;

  installPhase = ''
    runHook preInstall
    dir=$out/lib/nixery-edge
    mkdir -p $dir $out/bin
    cp -r package.json bin origin shared nix tsconfig.base.json node_modules $dir/
    makeWrapper ${nodejs}/bin/node $out/bin/nixery-edge-origin \
      --add-flags $dir/bin/nixery-edge-origin.js \
      --suffix PATH : ${lib.makeBinPath [ nix git openssh ]}
    runHook postInstall
  '';

  meta = {
    description = "Container images built on demand from Nix packages (the origin of nixery-edge)";
    platforms = lib.platforms.linux;
    mainProgram = "nixery-edge-origin";
  };
}
