#!/usr/bin/env bash
# Compare the speed of two builds of saddle on the canonical workloads: `saddle bench` of each
# build in interleaved rounds (A B A B ...) on the same machine, then the median steps per
# second of each build and workload and the ratio NEW / OLD.
#
#   scripts/bench-compare.sh OLD_SADDLE NEW_SADDLE [ROUNDS] [--work LIST] [--size quick|paper]
#
# ROUNDS defaults to 7. Absolute rates drift on shared machines; the interleaving keeps the
# ratio meaningful. Exit status 2 on bad arguments.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 OLD_SADDLE NEW_SADDLE [ROUNDS] [--work LIST] [--size quick|paper]" >&2
    exit 2
fi
old="$1"
new="$2"
shift 2
rounds=7
if [[ $# -gt 0 && "$1" != --* ]]; then
    rounds="$1"
    shift
fi
for b in "$old" "$new"; do
    [[ -x "$b" ]] || { echo "error: $b is not an executable" >&2; exit 2; }
done
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for ((i = 1; i <= rounds; i++)); do
    "$old" bench --json -q "$@" | sed 's/^/old /' >>"$out"
    "$new" bench --json -q "$@" | sed 's/^/new /' >>"$out"
done
python3 - "$out" <<'EOF'
import json, statistics, sys
rates = {}
for line in open(sys.argv[1]):
    build, doc = line.split(" ", 1)
    r = json.loads(doc)
    rates.setdefault((r["work"], build), []).append(r["steps_per_s"])
works = sorted({w for w, _ in rates})
print(f"{'workload':<12} {'old (steps/s)':>14} {'new (steps/s)':>14} {'new/old':>8}  rounds")
for w in works:
    o, n = statistics.median(rates[(w, "old")]), statistics.median(rates[(w, "new")])
    print(f"{w:<12} {o:>14.4g} {n:>14.4g} {n / o:>8.3f}  {len(rates[(w, 'old')])}")
EOF
