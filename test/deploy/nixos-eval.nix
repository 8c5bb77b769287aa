# Evaluates nix/nixos-module.nix in a whole NixOS configuration of the given nixpkgs tree (no
# build, no network): the failed assertions and the generated unit, firewall and Nix settings.
# A stand-in derivation is the package (nix/package.nix needs a newer nixpkgs and the network).
{ nixpkgs, settings ? "{}" }:
let
  stub = derivation { name = "nixery-edge-stub"; builder = "/bin/sh"; system = "x86_64-linux"; };
  nixos = import (nixpkgs + "/nixos/lib/eval-config.nix") {
    system = "x86_64-linux";
    modules = [
      ../../nix/nixos-module.nix
      {
        boot.isContainer = true;
        services.nixery-edge = { enable = true; package = stub; } // builtins.fromJSON settings;
      }
    ];
  };
  inherit (nixos) config;
in {
  failed = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
  unit = config.systemd.units."nixery-edge.service".text;
  firewall = config.networking.firewall.allowedTCPPorts;
  buildMachines = map (m: m.hostName) config.nix.buildMachines;
  distributedBuilds = config.nix.distributedBuilds;
  stub = stub.outPath;
}
