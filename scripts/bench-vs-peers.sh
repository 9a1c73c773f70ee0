#!/usr/bin/env bash
# Time saddle against NumPy (and, with --jax, JAX) programs on the canonical
# workloads, in one run on this machine, print steps/s and ratios, and check that the answers
# agree statistically (scripts/compare-peers.py: escape and divergence fractions within
# binomial bounds, mean losses and mean |w_t| within standard errors, Bonferroni at 1e-3).
# Exits 1 if any answer disagrees.
#
#   scripts/bench-vs-peers.sh [--size quick|paper] [--jax] [--repeat N] [--shared-peers [DIR]]
#
# Each program runs N times (default 3) per workload, in interleaved rounds; the median
# steps/s is reported, and each round's rate is listed.
#
# The NumPy and JAX programs are the project's own baselines, scripts/peers/baselines.py, so a
# fresh clone runs the script as is. --shared-peers times the external peer programs instead:
# DIR/workloads.py, DIR defaulting to $SADDLE_PEERS or ../shared/peers (same interface and
# answers; scripts/peers/agree.py checks that the two agree). $SADDLE_BIN, if set, is the
# saddle binary to time (default: build target/release/saddle). Python's dependencies (NumPy, and
# JAX with --jax) are installed with pip into .venv-peers on first use (needs python3 with its
# venv module, and access to PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
size=quick
jax=0
repeat=3
program=scripts/peers/baselines.py
usage="usage: $0 [--size quick|paper] [--jax] [--repeat N] [--shared-peers [DIR]]"
while [ $# -gt 0 ]; do
  case "$1" in
    --size) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; size="$2"; shift 2 ;;
    --jax) jax=1; shift ;;
    --repeat) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; repeat="$2"; shift 2 ;;
    --shared-peers)
      if [ $# -ge 2 ] && [ "${2#--}" = "$2" ]; then peers="$2"; shift 2
      else peers="${SADDLE_PEERS:-../shared/peers}"; shift; fi
      program="$peers/workloads.py"
      [ -f "$program" ] || { echo "--shared-peers: $program not found (give DIR or set SADDLE_PEERS)" >&2; exit 2; } ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
case "$size" in quick|paper) ;; *) echo "--size: '$size' is not quick or paper" >&2; exit 2 ;; esac
case "$repeat" in ''|*[!0-9]*|0) echo "--repeat: '$repeat' is not a positive integer" >&2; exit 2 ;; esac
if [ ! -x .venv-peers/bin/python3 ]; then
  python3 -m venv .venv-peers
fi
if ! .venv-peers/bin/python3 -c "import numpy" 2>/dev/null; then
  .venv-peers/bin/pip install -q numpy
fi
if [ "$jax" = 1 ] && ! .venv-peers/bin/python3 -c "import jax" 2>/dev/null; then
  .venv-peers/bin/pip install -q "jax[cpu]"
fi
echo "NumPy/JAX programs: $program" >&2
# $SADDLE_BIN: a saddle binary built already (otherwise this builds target/release/saddle).
saddle="${SADDLE_BIN:-}"
if [ -z "$saddle" ]; then
  cargo build --release -q -p saddle-cli
  saddle=./target/release/saddle
fi
impls="numpy"
[ "$jax" = 1 ] && impls="numpy jax"
# steps_per_s of a command printing one JSON line. The line is parsed after the command has
# finished, so no interpreter starts up beside a timed run.
rate() {
  local line
  line=$("$@" | head -n 1)
  python3 -c "import json,sys; print('%.4g' % json.loads(sys.argv[1])['steps_per_s'])" "$line"
}
median() {
  python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"
}
answers="$(mktemp -d)"
trap 'rm -rf "$answers"' EXIT
status=0
printf "%-11s %-8s %14s %14s %9s  %s\n" workload impl "steps/s" "saddle steps/s" ratio answers
for w in quad-phase nn-sweep adaptive; do
  # Rounds interleave the programs (saddle, NumPy, JAX, saddle, ...), so a slow spell of this
  # shared machine falls on all of them rather than on one. Every program writes its answers
  # after its timing ends; the last round's are compared.
  declare -A rates=()
  for _ in $(seq "$repeat"); do
    rates[saddle]+=" $(rate "$saddle" bench --size "$size" --work "$w" --json --out "$answers")"
    for impl in $impls; do
      rates[$impl]+=" $(rate .venv-peers/bin/python3 "$program" --impl "$impl" --work "$w" --size "$size" --out "$answers/$impl-$w.json")"
    done
  done
  s=$(median ${rates[saddle]})
  for impl in $impls; do
    p=$(median ${rates[$impl]})
    verdict=$(python3 scripts/compare-peers.py "$answers/$w.json" "$answers/$impl-$w.json") || status=1
    python3 -c "import sys; s,p=float(sys.argv[1]),float(sys.argv[2]); print('%-11s %-8s %14.3e %14.3e %8.1fx  %s' % (sys.argv[3], sys.argv[4], p, s, s/p, sys.argv[5]))" "$s" "$p" "$w" "$impl" "$verdict"
  done
  echo "  ($w, steps/s of each round: saddle${rates[saddle]}; $(for i in $impls; do printf '%s%s; ' "$i" "${rates[$i]}"; done))"
  unset rates
done
exit $status
