#!/usr/bin/env bash
# Runs the tests that drive real Nix once more, on a current Nix: inside a Debian chroot (trixie:
# Nix 2.26, the default; NIX_CURRENT=sid: Nix 2.34) made with debootstrap and cached in
# .cache/nix-current/<suite>, so only the first run pays for it. The host's Nix (Debian 12: 2.8)
# has run the whole suite before this (`npm test`).
#
# The chroot has its own /nix/store: binding the host's store would let the newer Nix upgrade the
# host store's database schema, which the host's older Nix cannot read. The repository is bound
# at the same absolute path, so the host's node_modules and every path in the tests work inside.
# Everything is mounted in a private mount namespace (unshare), so the mounts vanish with this
# script even when it is killed; the trap unmounts them explicitly on a normal exit or Ctrl-C.
#
#   NIX_CURRENT          trixie (default) or sid
#   NIX_CURRENT_MIRROR   Debian mirror (default: the host's apt source for Debian, else deb.debian.org)
#   NIX_CURRENT_REBUILD  1: make the chroot afresh
#   arguments            test files to run instead of the default list, or `-- COMMAND…` to
#                        run one command inside (e.g. `-- bash` for a shell)
set -euo pipefail
# The whole script is one compound command, read before it runs: editing it during a run
# cannot change what the running copy does.
{

suite=${NIX_CURRENT:-trixie}
case $suite in
  trixie | sid) ;;
  *)
    echo "NIX_CURRENT must be trixie or sid, got '$suite'" >&2
    exit 2
    ;;
esac
self=$(realpath "${BASH_SOURCE[0]}")
repo=$(cd "$(dirname "$self")/../.." && pwd)
cd "$repo"
cacheDir=$repo/.cache/nix-current
root=$cacheDir/$suite
stamp=$root/.nixery-chroot-ready
# qemu-user-static runs the arm64 images' binaries; openssh-server is the tests' remote Nix builder
# and the SSH package source.
packages=(nodejs nix-bin busybox-static git skopeo umoci containerd runc podman ca-certificates procps
  openssh-server openssh-client qemu-user-static)
# The stamp holds this line: a chroot made for another list (or layout) is made again.
recipe="layout=1 suite=$suite packages=${packages[*]}"

# The tests that start real Nix, and the integration tests of the origin with every client
# (skopeo, umoci, containerd's ctr, podman), and a package repository over SSH (sshd).
defaultTests=(origin/nix/*.test.ts origin/builder/pipeline.test.ts test/origin/*.test.ts test/nix-store/*.test.ts)

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then exec sudo -E "$self" "$@"; fi
  echo "test/nix-current/run.sh needs root (debootstrap, mount, chroot)" >&2
  exit 2
fi

# Enter a private mount namespace first: nothing mounted from here on is visible outside, and
# it all goes away when the last process in the namespace exits.
if [ -z "${NIX_CURRENT_NAMESPACE:-}" ]; then
  NIX_CURRENT_NAMESPACE=1 exec unshare --mount --propagation private -- "$self" "$@"
fi

log() { printf 'nix-current[%s]: %s\n' "$suite" "$*" >&2; }

mkdir -p "$cacheDir"
# One run per chroot at a time (a second `npm test` in this worktree waits).
exec 9>"$cacheDir/$suite.lock"
flock 9

mounted=()
unmountAll() {
  local index
  for ((index = ${#mounted[@]} - 1; index >= 0; index--)); do
    umount -R "${mounted[index]}" 2>/dev/null || umount -R -l "${mounted[index]}" || true
  done
  mounted=()
}
trap unmountAll EXIT
trap 'unmountAll; exit 130' INT
trap 'unmountAll; exit 143' TERM

# mountInto SOURCE TARGET [mount options…]: mounts and remembers it for unmountAll.
mountInto() {
  local source=$1 target=$2
  shift 2
  mkdir -p "$target"
  mount "$@" "$source" "$target"
  mounted+=("$target")
}

mountsUnder() { awk -v dir="$1" '$5 == dir || index($5, dir "/") == 1 { print $5 }' /proc/self/mountinfo; }

# The Debian mirror of the host's apt sources (deb822 or one-line format), else deb.debian.org.
hostMirror() {
  local url
  url=$(grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
    grep -v -- '-security' | head -n 1 | tr -d ' ' || true)
  echo "${url:-http://deb.debian.org/debian}"
}

createChroot() {
  local mirror=${NIX_CURRENT_MIRROR:-$(hostMirror)}
  if [ -n "$(mountsUnder "$root")" ]; then
    echo "refusing to remove $root: something is mounted below it:" >&2
    mountsUnder "$root" >&2
    exit 1
  fi
  rm -rf "$root"
  log "creating a Debian $suite chroot in $root from $mirror (about 2 minutes)"
  local started=$SECONDS
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$cacheDir/$suite-debootstrap.log" 2>&1 || {
    tail -n 20 "$cacheDir/$suite-debootstrap.log" >&2
    exit 1
  }
  # Name resolution, and the host's extra CA certificates (TLS-inspecting networks) so that apt,
  # npm and git inside trust what the host trusts.
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  cp /etc/hosts "$root/etc/hosts"
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
  # sid's Release file is valid for a week only; a mirror that is a snapshot (or a machine whose
  # clock is ahead) would refuse it. The signatures are still checked.
  echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99nixery-valid-until"
  # No service may start inside the chroot while packages are installed.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  mountSystem
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends ${packages[*]}" \
    >"$cacheDir/$suite-apt.log" 2>&1 || {
    tail -n 20 "$cacheDir/$suite-apt.log" >&2
    exit 1
  }
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin apt-get clean
  unmountAll
  # Written last: a chroot without it is incomplete (interrupted) and is made again.
  echo "$recipe" >"$stamp"
  log "chroot ready in $((SECONDS - started)) s ($(du -sh "$root" | cut -f1))"
}

mountSystem() {
  # The chroot's / must be a mount point for runc (containerd's `ctr run`): runc remounts / with
  # MS_REC|MS_SLAVE, which fails with EINVAL on a plain directory.
  mountInto "$root" "$root" --bind
  mountInto proc "$root/proc" -t proc
  mountInto /sys "$root/sys" --rbind
  mountInto /dev "$root/dev" --rbind
}

if [ "${NIX_CURRENT_REBUILD:-}" = 1 ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$recipe" ]; then
  createChroot
fi

mountSystem
# /tmp is a fresh tmpfs, mounted first: a checkout under /tmp is bound inside it, not hidden by it.
# The repository is at the same absolute path; its .cache is replaced by the chroot's own (Nix's
# fetcher and git caches of the newer Nix stay apart from the host's).
mountInto tmpfs "$root/tmp" -t tmpfs -o mode=1777
mountInto "$repo" "$root$repo" --bind
mkdir -p "$cacheDir/$suite-cache"
mountInto "$cacheDir/$suite-cache" "$root$repo/.cache" --bind
# A git worktree's .git points into the main checkout's git directory: bind that too (read-only),
# or every git command the tests run from the repository fails with "not a git repository".
gitDir=$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
if [ -n "$gitDir" ] && [ -d "$gitDir" ] && [[ $gitDir != "$repo"/* ]]; then
  mountInto "$gitDir" "$root$gitDir" --bind -o ro
fi
# A worktree's node_modules may be a symlink to the main checkout's: bind its target (read-only)
# at the same path, or nothing of node_modules loads inside.
modules=$(realpath -m "$repo/node_modules")
if [[ $modules != "$repo"/* ]]; then mountInto "$modules" "$root$modules" --bind -o ro; fi

inChroot() {
  chroot "$root" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    NIXERY_TEST_CHROOT="$suite" \
    sh -c 'cd "$0" && exec "$@"' "$repo" "$@"
}

if ! inChroot test -f package.json 2>/dev/null; then
  echo "the repository $repo is not visible inside the $suite chroot at the same path" >&2
  mountsUnder "$root" >&2
  exit 1
fi
log "$(inChroot nix --version), node $(inChroot node --version)"
nodeModulesLoad() {
  inChroot node --import tsx --input-type=module -e \
    "import D from 'better-sqlite3'; new D(':memory:').prepare('select 1').get(); await import('./shared/digest.ts');" \
    2>"$cacheDir/$suite-check.log"
}
# The host's node_modules serve inside when the chroot's Node has the host's native-module ABI
# (trixie: Node 20, like the host). Otherwise (sid: Node 24) better-sqlite3 is compiled inside,
# once, in a copy of its own that is bound over the host's: the host's node_modules stay as they are.
if ! nodeModulesLoad; then
  native=$cacheDir/$suite-native/better-sqlite3
  nativeRecipe="$(inChroot node --version) $(cat "$repo/node_modules/better-sqlite3/package.json" | md5sum)"
  if [ "$(cat "$native/.nixery-built" 2>/dev/null)" != "$nativeRecipe" ]; then
    log "the host's better-sqlite3 does not load here; compiling it for $(inChroot node --version)"
    rm -rf "$native"
    mkdir -p "$native"
    cp -r "$repo/node_modules/better-sqlite3/." "$native/"
    rm -rf "$native/build"
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends node-gyp g++ make python3 >"$cacheDir/$suite-apt.log" 2>&1 || {
      tail -n 20 "$cacheDir/$suite-apt.log" >&2
      exit 1
    }
    mountInto "$native" "$root$modules/better-sqlite3" --bind
    inChroot sh -c 'cd node_modules/better-sqlite3 && node-gyp rebuild --release' >"$cacheDir/$suite-native.log" 2>&1 || {
      tail -n 20 "$cacheDir/$suite-native.log" >&2
      exit 1
    }
    echo "$nativeRecipe" >"$native/.nixery-built"
  else
    mountInto "$native" "$root$modules/better-sqlite3" --bind
  fi
  if ! nodeModulesLoad; then
    cat "$cacheDir/$suite-check.log" >&2
    echo "node_modules do not load in the $suite chroot (see above)" >&2
    exit 1
  fi
fi

# `run.sh -- COMMAND…` runs one command inside instead of the tests (e.g. to record fixtures).
if [ "${1:-}" = -- ]; then
  shift
  inChroot "$@"
  exit
fi

tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=("${defaultTests[@]}")
log "running ${#tests[@]} test files with $(inChroot nix --version)"
started=$SECONDS
status=0
inChroot node --import tsx --test --test-concurrency=1 "${tests[@]}" || status=$?
log "tests finished in $((SECONDS - started)) s with status $status"
exit $status
}
