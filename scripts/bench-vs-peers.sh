#!/usr/bin/env bash
# Time saddle against the NumPy (and, with --jax, JAX) peer programs on the canonical
# workloads, in one run on this machine, print steps/s and ratios, and check that the answers
# agree statistically (scripts/compare-peers.py: escape and divergence fractions within
# binomial bounds, mean losses and mean |w_t| within standard errors, Bonferroni at 1e-3).
# Exits 1 if any answer disagrees.
#
#   scripts/bench-vs-peers.sh [--size quick|paper] [--jax] [--repeat N]
#
# Each program runs N times (default 3) per workload, in interleaved rounds; the median
# steps/s is reported, and each round's rate is listed.
#
# The peers live in ../shared/peers (or $SADDLE_PEERS). Their Python dependencies are
# installed into .venv-peers on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
size=quick
jax=0
repeat=3
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size="$2"; shift 2 ;;
    --jax) jax=1; shift ;;
    --repeat) repeat="$2"; shift 2 ;;
    *) echo "usage: $0 [--size quick|paper] [--jax] [--repeat N]" >&2; exit 2 ;;
  esac
done
peers="${SADDLE_PEERS:-../shared/peers}"
[ -f "$peers/workloads.py" ] || { echo "peer programs not found in $peers (set SADDLE_PEERS)" >&2; exit 2; }
if [ ! -x .venv-peers/bin/python3 ]; then
  python3 -m venv .venv-peers
  .venv-peers/bin/pip install -q numpy
fi
if [ "$jax" = 1 ] && ! .venv-peers/bin/python3 -c "import jax" 2>/dev/null; then
  .venv-peers/bin/pip install -q "jax[cpu]"
fi
cargo build --release -q -p saddle-cli
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
    rates[saddle]+=" $(rate ./target/release/saddle bench --size "$size" --work "$w" --json --out "$answers")"
    for impl in $impls; do
      rates[$impl]+=" $(rate .venv-peers/bin/python3 "$peers/workloads.py" --impl "$impl" --work "$w" --size "$size" --out "$answers/$impl-$w.json")"
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
