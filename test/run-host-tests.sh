#!/usr/bin/env bash
# Runs every *.test.ts on the host's Nix in two passes, so that the tests that can share the
# machine do and the rest keep it to themselves:
#   1. beside the code (shared/, origin/, worker/, stack/, deploy/): unit tests, workerd tests on
#      Miniflare's free ports, and the origin's Nix tests on the fixture set in temp dirs of their
#      own. None starts an origin process, a dockerd or an sshd, binds a fixed port or collects
#      the Nix store, so they run several files at once (TEST_CONCURRENCY, default: the CPUs).
#   2. test/: integration and end-to-end tests (origin processes, registry clients, dockerd,
#      sshd, the Nix store's garbage collector, fixed ports, timing against one origin), one file
#      at a time, after the first pass, as before.
# Both passes always run; the exit status is non-zero when either failed.
#
#   TEST_CONCURRENCY  files run at once in the first pass (1: everything one file at a time)
#   arguments         --serial: one pass of every file, one at a time (the old `npm test`)
set -uo pipefail
cd "$(dirname "$0")/.."

all=$(find shared origin worker stack deploy test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ "${1:-}" = --serial ]; then
  exec node --import tsx --test --test-concurrency=1 $all
fi

cpus=$(nproc 2>/dev/null || echo 2)
concurrency=${TEST_CONCURRENCY:-$((cpus < 2 ? 2 : cpus))}
case $concurrency in
  '' | *[!0-9]* | 0)
    echo "TEST_CONCURRENCY must be a positive whole number, got '$concurrency'" >&2
    exit 2
    ;;
esac
beside=$(grep -v '^test/' <<<"$all")
integration=$(grep '^test/' <<<"$all")

status=0
node --import tsx --test --test-concurrency="$concurrency" $beside || status=1
node --import tsx --test --test-concurrency=1 $integration || status=1
exit $status
