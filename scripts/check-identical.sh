#!/usr/bin/env bash
# Check that two builds of saddle give byte-identical results: `saddle run --json` of every
# file in experiments/, the sweep.csv of every file with a [sweep] grid, `saddle bench --out`
# answers, and the report's checks.json and data/ (`saddle reproduce`). Version and timing
# fields are left out of the comparison; everything else must match exactly.
#
#   scripts/check-identical.sh OLD_SADDLE NEW_SADDLE [WORKDIR]
#
# OLD_SADDLE and NEW_SADDLE are paths to `saddle` binaries (e.g. a release build of the
# previous commit kept aside, and target/release/saddle). Exit status 0 when every output
# agrees, 1 when one differs (the differing files are listed), 2 on bad arguments.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 OLD_SADDLE NEW_SADDLE [WORKDIR]" >&2
    exit 2
fi
old="$(realpath "$1")"
new="$(realpath "$2")"
for b in "$old" "$new"; do
    [[ -x "$b" ]] || { echo "error: $b is not an executable" >&2; exit 2; }
done
cd "$(dirname "$0")/.."
work="${3:-$(mktemp -d)}"
mkdir -p "$work"
scale="${CHECK_SCALE:-paper}"

produce() {
    local bin="$1" out="$2"
    rm -rf "$out"
    mkdir -p "$out/run" "$out/sweep" "$out/bench"
    for f in experiments/*.toml; do
        local n
        n="$(basename "$f" .toml)"
        "$bin" run --json "$f" >"$out/run/$n.json" 2>/dev/null
        if grep -q '^\[\[\?sweep' "$f"; then
            "$bin" sweep -q --out "$out/sweep/$n" "$f" >/dev/null 2>&1
        fi
    done
    "$bin" bench -q --out "$out/bench" >/dev/null
    "$bin" reproduce -q --scale "$scale" --out "$out/report" >/dev/null 2>&1 || true
}

echo "old: $old" >&2
produce "$old" "$work/old"
echo "new: $new" >&2
produce "$new" "$work/new"

python3 - "$work/old" "$work/new" <<'EOF'
import json, pathlib, sys

old, new = map(pathlib.Path, sys.argv[1:3])
# Fields that name the build or measure time, not results.
SKIP = {"version", "elapsed_s", "seconds", "wall_s", "time_s", "generated", "steps_per_s",
        "duration_s", "date"}

def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in SKIP}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v

def load(p):
    text = p.read_text()
    try:
        return [strip(json.loads(l)) for l in text.splitlines() if l.strip()]
    except json.JSONDecodeError:
        return text

files = []
for p in sorted(old.rglob("*")):
    r = p.relative_to(old)
    if p.is_dir():
        continue
    if r.parts[0] == "report" and not (r.name == "checks.json" or r.parts[1:2] == ("data",)):
        continue
    # A sweep's journals are written as cells finish (in any order); its results are these.
    if r.parts[0] == "sweep" and r.name not in ("sweep.csv", "sweep.jsonl"):
        continue
    files.append(r)
bad = []
for r in files:
    q = new / r
    if not q.exists():
        bad.append(f"{r}: missing in the new build's output")
        continue
    a, b = old / r, q
    if r.suffix in (".json", ".jsonl"):
        same = load(a) == load(b)
    else:
        same = a.read_bytes() == b.read_bytes()
    if not same:
        bad.append(f"{r}: differs")
print(f"{len(files)} files compared, {len(bad)} differ")
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF
