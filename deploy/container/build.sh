#!/usr/bin/env bash
# Builds the origin's container image without pulling any base image: a Debian 13 (trixie) root
# file system made with debootstrap (as test/nix-current/run.sh makes its chroot) with Node, Nix,
# git, ssh and curl, plus this checkout's origin and its runtime npm dependencies, imported into
# podman (or docker) as one layer. The root file system is cached in .cache/container/ and made
# again only when the package list changes.
#
#   deploy/container/build.sh [IMAGE]     default IMAGE: localhost/nixery-edge-origin:latest
#
#   NIXERY_IMAGE_ENGINE   podman (default when installed) or docker: where the image is imported
#   NIXERY_IMAGE_MIRROR   Debian mirror (default: the host's apt source for Debian, else deb.debian.org)
#   NIXERY_IMAGE_TAR      also keep the image's root file system as this tarball
#
# Run it: docs/deploy.md, "Container image".
set -euo pipefail
{

image=${1:-localhost/nixery-edge-origin:latest}
self=$(realpath "${BASH_SOURCE[0]}")
repo=$(cd "$(dirname "$self")/../.." && pwd)
cacheDir=$repo/.cache/container
base=$cacheDir/trixie-base
stamp=$base/.nixery-base-ready
packages=(nodejs nix-bin git openssh-client curl ca-certificates)
recipe="layout=1 suite=trixie packages=${packages[*]}"
engine=${NIXERY_IMAGE_ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}

log() { printf 'container: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then exec sudo -E "$self" "$@"; fi
  echo "deploy/container/build.sh needs root (debootstrap, chroot)" >&2
  exit 2
fi
for tool in debootstrap "$engine" node npm; do
  command -v "$tool" >/dev/null || {
    echo "deploy/container/build.sh needs $tool" >&2
    exit 2
  }
done

# The Debian mirror of the host's apt sources (deb822 or one-line format), else deb.debian.org.
hostMirror() {
  local url
  url=$(grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
    grep -v -- '-security' | head -n 1 | tr -d ' ' || true)
  echo "${url:-http://deb.debian.org/debian}"
}

mkdir -p "$cacheDir"
exec 9>"$cacheDir/build.lock"
flock 9

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$recipe" ]; then
  mirror=${NIXERY_IMAGE_MIRROR:-$(hostMirror)}
  log "making a Debian trixie root file system in $base from $mirror (a few minutes, once)"
  rm -rf "$base"
  debootstrap --variant=minbase trixie "$base" "$mirror" >"$cacheDir/debootstrap.log" 2>&1 || {
    tail -n 20 "$cacheDir/debootstrap.log" >&2
    exit 1
  }
  cp /etc/resolv.conf "$base/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' >"$base/usr/sbin/policy-rc.d"
  chmod 755 "$base/usr/sbin/policy-rc.d"
  mount -t proc proc "$base/proc"
  trap 'umount "$base/proc" 2>/dev/null || true' EXIT
  chroot "$base" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends ${packages[*]} && apt-get clean" \
    >"$cacheDir/apt.log" 2>&1 || {
    tail -n 20 "$cacheDir/apt.log" >&2
    exit 1
  }
  umount "$base/proc"
  trap - EXIT
  rm -f "$base/usr/sbin/policy-rc.d" "$base/etc/resolv.conf"
  rm -rf "$base/var/lib/apt/lists"/* "$base/var/cache/apt"/*
  echo "$recipe" >"$stamp"
fi
# The host's node_modules are copied as they are, so their native module (better-sqlite3) must
# load with the image's Node: the same major version (ABI) is required.
hostNode=$(node -p 'process.versions.modules')
imageNode=$(chroot "$base" /usr/bin/node -p 'process.versions.modules')
if [ "$hostNode" != "$imageNode" ]; then
  echo "the image's Node (ABI $imageNode) cannot load this checkout's native modules (ABI $hostNode): run npm ci with Node $(chroot "$base" /usr/bin/node --version)" >&2
  exit 2
fi

# The application: sources and the runtime dependencies only.
app=$cacheDir/app
rm -rf "$app"
mkdir -p "$app/opt/nixery-edge/node_modules" "$app/etc/nixery-edge/nix" "$app/var/lib/nixery-edge"
cd "$repo"
cp -r package.json package-lock.json tsconfig.base.json bin origin shared nix "$app/opt/nixery-edge/"
find "$app/opt/nixery-edge" -name '*.test.ts' -delete
# The runtime packages as package-lock.json lists them (those not marked dev), where installed
# (platform packages of other systems are not).
modules=$(realpath "$repo/node_modules")
node -e '
  const { packages } = JSON.parse(require("fs").readFileSync("package-lock.json", "utf8"));
  for (const [key, entry] of Object.entries(packages))
    if (key.startsWith("node_modules/") && !entry.dev) console.log(key.slice("node_modules/".length));
' | while read -r package; do
  target=$app/opt/nixery-edge/node_modules/$package
  # Another platform's optional package is not installed; a nested one came with its parent.
  [ -e "$modules/$package" ] || continue
  [ -e "$target" ] && continue
  mkdir -p "$(dirname "$target")"
  cp -r "$modules/$package" "$target"
done
# Nix as root in the container, without build users or a build sandbox: the container is the
# isolation, and an unprivileged container cannot make the sandbox's namespaces. With
# --privileged, NIX_CONFIG="sandbox = true" turns it on.
cat >"$app/etc/nixery-edge/nix/nix.conf" <<'CONF'
build-users-group =
sandbox = false
CONF

rootfs=$cacheDir/rootfs.tar
tar -C "$base" --exclude=./.nixery-base-ready -cf "$rootfs" .
# Only the new directories: a path in both tars (./etc) is refused by podman's layer import.
tar -C "$app" -rf "$rootfs" ./opt/nixery-edge ./etc/nixery-edge ./var/lib/nixery-edge
log "importing $(du -h "$rootfs" | cut -f1) as $image into $engine"
"$engine" import \
  --change 'ENV NIXERY_DATA_DIR=/var/lib/nixery-edge' \
  --change 'ENV HOME=/var/lib/nixery-edge' \
  --change 'ENV HOST=0.0.0.0' \
  --change 'ENV PORT=8081' \
  --change 'ENV NIX_CONF_DIR=/etc/nixery-edge/nix' \
  --change 'ENV NODE_ENV=production' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'WORKDIR /opt/nixery-edge' \
  --change 'EXPOSE 8081' \
  --change 'VOLUME /var/lib/nixery-edge' \
  --change 'CMD ["/usr/bin/node", "/opt/nixery-edge/bin/nixery-edge-origin.js"]' \
  "$rootfs" "$image" >/dev/null
if [ -n "${NIXERY_IMAGE_TAR:-}" ]; then mv "$rootfs" "$NIXERY_IMAGE_TAR"; else rm -f "$rootfs"; fi
log "built $image"
}
