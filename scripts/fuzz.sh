#!/usr/bin/env bash
# A longer fuzzing campaign of the `saddle` binary (crates/saddle-cli/tests/fuzz.rs).
#
# The test suite runs 64 cases from a fixed seed; this runs many more, from a random seed, for occasional use (before a
# release, after changing the config reader or the CLI). Each case mutates an experiment file
# of experiments/ (keys, values: huge/negative/NaN/strings/arrays, deletions, truncation,
# garbage bytes), adds random --set overrides and runs run/describe/sweep with a 20 s limit; it
# fails on an exit code other than 0 or 2, a signal, a hang or panic text. A failure prints
# the file and arguments, shrunk to a small reproducing case. The same run fuzzes the theory
# commands (mu, phase-boundary, escape-rate, escape-probability, tail-exponent, sharp-flat,
# amsgrad) with extreme numbers (0, subnormal, 1 ± ulp, ±1e300, overflow, NaN, 2^53 + 1) and
# also fails on a text line over 400 characters.
#
# Usage: scripts/fuzz.sh [CASES] [ROUNDS]
#   CASES   cases per round (default 5000; about 2-5 minutes on 2 cores)
#   ROUNDS  rounds, each with fresh random cases (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-5000}"
rounds="${2:-1}"
for ((r = 1; r <= rounds; r++)); do
    echo "fuzz round $r/$rounds: $cases cases" >&2
    PROPTEST_CASES="$cases" PROPTEST_RNG_SEED=random cargo test -p saddle-cli --test fuzz -- --nocapture
done
