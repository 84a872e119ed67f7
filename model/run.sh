#!/usr/bin/env bash
# Model-checks model/lease.pml with spin (npm run model; CI runs it): every
# configuration must pass its properties, every mutant must fail the property
# it weakens. One line per check; exits non-zero on any unexpected result.
#
#   bash model/run.sh            all checks, two at a time (MODEL_JOBS=n: n at a time)
#   bash model/run.sh mutant     only the checks whose name contains "mutant"
#   bash model/run.sh --list     the checks, without running them
#
# Needs spin and gcc (scripts/ensure-deps.sh installs them). Each check builds
# spin's verifier in a temporary directory and runs an exhaustive search
# (SAFETY: assertions; depth up to 10 million steps, 2 GB of states at most).
# Mutants are searched breadth-first, so the counter-example is the shortest;
# its steps are counted (spin -t).
set -uo pipefail
cd "$(dirname "$0")"
model="$PWD/lease.pml"
command -v spin >/dev/null 2>&1 || { echo "model: spin is missing (apt-get install spin)" >&2; exit 1; }
command -v "${CC:-gcc}" >/dev/null 2>&1 || { echo "model: gcc is missing" >&2; exit 1; }

# name | spin flags | expected: pass, or the property a mutant must break (A, B, C, liveness)
CHECKS=(
  "A, C: network faults and pauses, 3 clients|"
  "A, C: a restart that loses every key (quarantine), 3 clients|-DFAULT_LOSS -DMAXLOSS=0"
  "A: a restore from an older snapshot (down for TTL), 3 clients|-DFAULT_SNAPSHOT -DMAXLOSS=0"
  "A, B, C, fence: a restart that loses every key, with terms, 2 clients|-DTERMS -DFAULT_LOSS -DMAXLOSS=0 -DN=2"
  "A, B, fence: a restore from an older snapshot, with terms, 2 clients|-DTERMS -DFAULT_SNAPSHOT -DMAXLOSS=0 -DN=2"
  "B: a fail-over to a replica that missed writes, with terms, 2 clients|-DTERMS -DFAULT_FAILOVER -DMAXLOSS=0 -DN=2"
  "liveness: a leader within TTL + 1 ticks despite a pause and a loss, 3 clients|-DLIVENESS"
)
MUTANTS=(
  "mutant 1: the deadline from the reply's arrival|-DMUTANT=1|A"
  "mutant 2: no drift margin|-DMUTANT=2|A"
  "mutant 3: a renewal re-creates an expired lease|-DMUTANT=3|C"
  "mutant 4: term counter + 1 without the time floor, snapshot restore|-DMUTANT=4 -DTERMS -DFAULT_SNAPSHOT -DMAXLOSS=0 -DN=2|B"
  "mutant 5: release by name, no token compare|-DMUTANT=5|A"
  "mutant 6: a timed-out renewal taken as a success|-DMUTANT=6|A"
  "mutant 7: no quarantine after the counter was lost|-DMUTANT=7 -DFAULT_LOSS -DMAXLOSS=0|A"
  "mutant 8: a restored snapshot answers at once|-DMUTANT=8 -DFAULT_SNAPSHOT -DMAXLOSS=0|A"
  "mutant 9: a follower refused once never campaigns again|-DMUTANT=9 -DLIVENESS|liveness"
)

if [ "${1:-}" = "--list" ]; then
  for c in "${CHECKS[@]}" "${MUTANTS[@]}"; do echo "${c%%|*}  [$(echo "$c" | cut -d'|' -f2)]"; done
  exit 0
fi

work="$(mktemp -d /tmp/tenure-model.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Which property an assertion text belongs to.
property() {
  case "$1" in
    *"t>maxGranted"*) echo B ;;
    *"holder==liveTok"*) echo C ;;
    *"quiet<="*) echo liveness ;;
    *"assert(0)"* | *"assertion violated 0"*) echo fence ;;
    *"tk!=0"*) echo "model bound (tokens)" ;;
    *"c[0].mode==2"*) echo A ;;
    *) echo "?" ;;
  esac
}

# run <index> <flags> <expect>: writes one result line to $work/<index>.out
run() {
  local i="$1" flags="$2" expect="$3" dir="$work/$1"
  mkdir -p "$dir" && cp "$model" "$dir/" && cd "$dir" || return
  local start end secs
  start=$(date +%s%N)
  # shellcheck disable=SC2086
  if ! spin -a $flags lease.pml >spin.log 2>&1; then
    echo "ERROR|spin: $(head -3 spin.log | tr '\n' ' ')" >"$work/$i.out"; return
  fi
  # A property check searches depth-first; a mutant breadth-first, so its counter-example
  # is the shortest one (and a mutant that is not caught is a full search either way).
  # (-O1 for mutants: their searches are short, the build is most of their time.)
  local search="-O2"
  [ "$expect" = "pass" ] || search="-O1 -DBFS"
  # shellcheck disable=SC2086
  "${CC:-gcc}" $search -DSAFETY -DMEMLIM=2048 -o pan pan.c 2>gcc.log || {
    echo "ERROR|gcc: $(head -3 gcc.log | tr '\n' ' ')" >"$work/$i.out"; return
  }
  ./pan -m10000000 -w24 >pan.log 2>&1
  end=$(date +%s%N)
  secs="$(((end - start) / 1000000000)).$((((end - start) / 100000000) % 10))"
  local states depth errors violated
  states=$(grep -oE '^ *[0-9]+ states, stored' pan.log | grep -oE '[0-9]+')
  depth=$(grep -oE 'depth reached [0-9]+' pan.log | grep -oE '[0-9]+')
  errors=$(grep -oE 'errors: [0-9]+' pan.log | grep -oE '[0-9]+')
  violated=$(grep -m1 'assertion violated' pan.log || true)
  if grep -qE 'MEMLIM|max search depth too small|out of memory' pan.log; then
    echo "ERROR|search incomplete (memory or depth bound): $(grep -m1 -E 'MEMLIM|too small|memory' pan.log)" >"$work/$i.out"
    return
  fi
  if [ "$expect" = "pass" ]; then
    if [ "${errors:-1}" = "0" ]; then
      printf 'ok|%s states, depth %s, %s s\n' "$states" "$depth" "$secs" >"$work/$i.out"
    else
      echo "FAIL|violated: $(property "$violated") ($violated)" >"$work/$i.out"
    fi
    return
  fi
  if [ "${errors:-0}" = "0" ]; then
    printf 'FAIL|not caught: %s states explored, no violation\n' "$states" >"$work/$i.out"
    return
  fi
  local got steps
  got=$(property "$violated")
  # shellcheck disable=SC2086
  steps=$([ -f lease.pml.trail ] && spin -t $flags lease.pml 2>/dev/null | grep -cE '^ *(tick|client|store|reply|pause|resume|lost|restored|failed over|data lost|snapshot taken|replica copied)' || echo '?')
  if [ "$got" = "$expect" ]; then
    printf 'caught|%s violated, shortest trail %s steps, %s s\n' "$got" "$steps" "$secs" >"$work/$i.out"
  else
    echo "FAIL|expected $expect to be violated, got $got ($violated)" >"$work/$i.out"
  fi
}

only="${1:-}"
jobs_list=()
n=0
for c in "${CHECKS[@]}"; do
  [[ "${c%%|*}" == *"$only"* ]] || continue
  jobs_list+=("$n|${c#*|}|pass|${c%%|*}"); n=$((n + 1))
done
for m in "${MUTANTS[@]}"; do
  name="${m%%|*}"; rest="${m#*|}"; flags="${rest%%|*}"; expect="${rest##*|}"
  [[ "$name" == *"$only"* ]] || continue
  jobs_list+=("$n|$flags|$expect|$name"); n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "model: no check matches \"$only\"" >&2; exit 1; }

total_start=$(date +%s)
running=0
for j in "${jobs_list[@]}"; do
  IFS='|' read -r idx flags expect _ <<<"$j"
  (run "$idx" "$flags" "$expect") &
  running=$((running + 1))
  if [ "$running" -ge "${MODEL_JOBS:-2}" ]; then wait -n; running=$((running - 1)); fi
done
wait

failed=0
for j in "${jobs_list[@]}"; do
  IFS='|' read -r idx flags expect name <<<"$j"
  IFS='|' read -r verdict detail <"$work/$idx.out" || { verdict=ERROR; detail="no result"; }
  case "$verdict" in ok | caught) mark="ok  " ;; *) mark="FAIL"; failed=$((failed + 1)) ;; esac
  printf '%s %-72s %s\n' "$mark" "$name" "$detail"
done
echo "model: $((n - failed)) of $n checks as expected in $(($(date +%s) - total_start)) s"
[ "$failed" -eq 0 ]
