#!/usr/bin/env bash
# Installs the system packages the origin and the tests need, if any is missing (Debian/Ubuntu),
# and the arm64 busybox that the fixture package set's aarch64-linux images hold.
# Runs before `npm start` and `npm test` (npm's pre-scripts); quick when all is present.
# debootstrap makes the Debian 13 chroot in which `npm test` runs the Nix tests on Nix 2.26 too
# (test/nix-current/run.sh). The private-instance tests log in with docker (docker.io: the tests
# run a private dockerd of their own), make users with apache2-utils' htpasswd, and serve a
# package repository over SSH with a private sshd (openssh-server, openssh-client).
set -euo pipefail

cd "$(dirname "$0")/.."
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

# chromium is the headless browser of the page tests (test/web, driven by playwright-core, which
# never downloads a browser of its own). qemu-user-static runs the arm64 images' binaries in tests; openssh-server is also the remote Nix
# builder the tests start on 127.0.0.1 (its own config, key and port; Debian's service is not used).
packages=(nix-bin busybox-static git skopeo umoci podman runc containerd docker-registry wrk procps debootstrap
  docker.io apache2-utils openssh-server openssh-client qemu-user-static chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing missing system packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${missing[@]}" >&2
fi

# Debian's arm64 busybox-static .deb, only downloaded (never installed), for the fixture's
# aarch64-linux busybox (test/fixtures/pkgs). Git-ignored: neither the .deb nor its contents are
# committed.
deb=test/fixtures/foreign/busybox-static_arm64.deb
if [ ! -s "$deb" ]; then
  echo "downloading Debian's busybox-static:arm64 into $deb" >&2
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64
    $sudo apt-get update -qq
  fi
  download=$(mktemp -d)
  chmod 755 "$download"
  (cd "$download" && apt-get download -qq busybox-static:arm64 2>/dev/null) ||
    { $sudo apt-get update -qq && (cd "$download" && apt-get download -qq busybox-static:arm64); }
  mkdir -p "$(dirname "$deb")"
  mv "$download"/busybox-static_*_arm64.deb "$deb"
  rm -rf "$download"
fi
