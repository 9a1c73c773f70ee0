#!/usr/bin/env bash
# Time `saddle reproduce` at both scales: builds the release binary, then runs each scale
# REPEATS times (default 3) into a temporary directory and prints every wall time with the
# minimum and median, and the machine's core count. The targets (README, docs/performance.md):
# paper scale at most 60 s and quick at most 10 s on a 2-core machine.
#
#   scripts/bench-report.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats="${1:-3}"
cargo build --release -q -p saddle-cli
bin=target/release/saddle
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for scale in quick paper; do
    times=()
    for _ in $(seq "$repeats"); do
        start=$(date +%s.%N)
        status=0
        "$bin" reproduce --scale "$scale" --out "$out/$scale" -q >/dev/null || status=$?
        end=$(date +%s.%N)
        if [[ $status -ne 0 ]]; then
            echo "error: saddle reproduce --scale $scale exited with $status" >&2
            exit 1
        fi
        times+=("$(echo "$end - $start" | bc -l)")
    done
    sorted=$(printf '%s\n' "${times[@]}" | sort -g)
    min=$(echo "$sorted" | head -1)
    median=$(echo "$sorted" | sed -n "$(( (repeats + 1) / 2 ))p")
    printf '%-6s runs: %s s; min %.2f s, median %.2f s\n' "$scale" \
        "$(printf '%.2f ' "${times[@]}")" "$min" "$median"
done
