#!/usr/bin/env bash
# Runs CI (`bash .ci/run`) N times in a row, each on a fresh clone of the
# committed HEAD (as CI does: nothing uncommitted, no node_modules, no
# .build), and reports each run's time, closing line and failed tests.
#
#   bash scripts/ci-repeat.sh N [--busy K]
#
# --busy K: during runs K, K+1, … (every run from the K-th on; default none)
# one extra process keeps a core busy with a bounded busy loop that ends
# with the run (the "other work on the machine" under which CI once failed).
# Logs stay in .tmp/ci-repeat/<stamp>/run-<i>.log; the summary is printed and
# written to summary.txt there. Exits non-zero if any run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${1:?usage: ci-repeat.sh N [--busy K]}"
busy_from=0
if [ "${2:-}" = "--busy" ]; then busy_from="${3:?--busy needs a run number}"; fi
root="$PWD"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="$root/.tmp/ci-repeat/$stamp"
mkdir -p "$out"
head="$(git rev-parse HEAD)"
# shared/ beside the clone, as CI lays it (../shared from the clone), when there is one.
shared="$(cd .. && pwd)/shared"
failures=0
echo "ci-repeat: $runs run(s) of .ci/run on clean clones of $head; logs in $out" | tee "$out/summary.txt"
for i in $(seq 1 "$runs"); do
  work="$(mktemp -d /tmp/tenure-ci-repeat.XXXXXX)"
  git clone -q "$root" "$work/main"
  git -C "$work/main" checkout -q "$head"
  [ -d "$shared" ] && cp -r "$shared" "$work/shared"
  busy_pid=""
  if [ "$busy_from" -gt 0 ] && [ "$i" -ge "$busy_from" ]; then
    # One core busy, bounded: at most 60 minutes, killed when the run ends.
    timeout 3600 sh -c 'while :; do :; done' &
    busy_pid=$!
  fi
  start=$(date +%s)
  (cd "$work/main" && CI=true bash .ci/run </dev/null) >"$out/run-$i.log" 2>&1
  status=$?
  took=$(($(date +%s) - start))
  [ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null
  closing="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/run-$i.log" | tail -1)"
  # Failed tests as vitest names them (the '×' lines), without colour codes.
  failed_tests="$(sed -e 's/\x1b\[[0-9;]*m//g' "$out/run-$i.log" | grep -E '^\s+×' | sed -e 's/^\s*//' | head -20)"
  line="run $i/$runs: exit $status in ${took}s${busy_pid:+ (a core kept busy)}: ${closing:-no closing line}"
  echo "$line" | tee -a "$out/summary.txt"
  if [ -n "$failed_tests" ]; then
    echo "$failed_tests" | sed -e 's/^/    /' | tee -a "$out/summary.txt"
  fi
  [ "$status" -ne 0 ] && failures=$((failures + 1))
  rm -rf "$work"
done
echo "ci-repeat: $((runs - failures)) of $runs run(s) passed" | tee -a "$out/summary.txt"
[ "$failures" -eq 0 ]
