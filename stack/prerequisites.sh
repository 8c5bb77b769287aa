#!/usr/bin/env bash
# Installs the system packages the origin and the tests need, if any is missing (Debian/Ubuntu).
# Runs before `npm start` and `npm test` (npm's pre-scripts); quick when all is present.
# debootstrap makes the Debian 13 chroot in which `npm test` runs the Nix tests on Nix 2.26 too
# (test/nix-current/run.sh). The private-instance tests log in with docker (docker.io: the tests
# run a private dockerd of their own), make users with apache2-utils' htpasswd, and serve a
# package repository over SSH with a private sshd (openssh-server, openssh-client).
set -euo pipefail

packages=(nix-bin busybox-static git skopeo umoci podman runc containerd docker-registry wrk procps debootstrap
  docker.io apache2-utils openssh-server openssh-client)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing missing system packages: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >&2
