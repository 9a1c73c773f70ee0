#!/usr/bin/env python3
"""Check that the shipped baselines (scripts/peers/baselines.py) answer each canonical workload
as the peer programs of ../shared/peers/workloads.py do, where those are present.

    scripts/peers/agree.py [--peers DIR] [--impl numpy,jax] [--work W,...] [--size quick|paper]

Runs both programs on each workload with each implementation (independent random streams: the
baselines use Philox, the peers NumPy's default generator or JAX's key splits), then compares
the answers with scripts/compare-peers.py, the baseline's file as the reference (it carries the
standard errors): every escape and diverged fraction by a two-sample binomial test, every mean
loss and mean |w_t| within z·√2 standard errors (+ 3 runs' worth), Bonferroni at family-wise
level 1e-3. Also prints the workload's headline numbers side by side and both programs' rates.
Run it with the interpreter that has NumPy (and JAX): `.venv-peers/bin/python3` once
scripts/bench-vs-peers.sh has made it. Exits 1 if any workload disagrees, 2 if the peers are
missing.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(cmd):
    """Run a program that prints one JSON line; return that record."""
    line = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(line.splitlines()[0])


def headline(work, d):
    """A few numbers that summarise a workload's answers."""
    if work == "quad-phase":
        cells = [x for row in d["escape_fraction"] for x in row]
        return f"mean escape fraction {sum(cells) / len(cells):.4f}"
    if work == "nn-sweep":
        div = sum(d["diverged"]) / len(d["diverged"])
        kept = [x for x in d["mean_loss"] if x is not None and x == x]
        return (f"mean diverged fraction {div:.4f}, loss at the smallest lr {kept[0]:.4f}, "
                f"mean loss over lr {sum(kept) / len(kept):.4f}")
    return "mean |w_T| " + ", ".join(f"{k} {d[k][-1]:.4g}" for k in
                                     ["adam", "amsgrad", "adam_m", "amsgrad_m"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peers", default=os.environ.get(
        "SADDLE_PEERS", os.path.join(ROOT, "..", "shared", "peers")))
    ap.add_argument("--impl", default="numpy")
    ap.add_argument("--work", default="quad-phase,nn-sweep,adaptive")
    ap.add_argument("--size", default="quick", choices=["quick", "paper"])
    args = ap.parse_args()
    peer = os.path.join(args.peers, "workloads.py")
    if not os.path.isfile(peer):
        print(f"peer programs not found: {peer} (set --peers or SADDLE_PEERS)", file=sys.stderr)
        sys.exit(2)
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        for work in args.work.split(","):
            for impl in args.impl.split(","):
                mine, theirs = (os.path.join(tmp, f"{who}-{impl}-{work}.json")
                                for who in ("baseline", "peer"))
                common = ["--impl", impl, "--work", work, "--size", args.size]
                r1 = run([sys.executable, os.path.join(HERE, "baselines.py"), *common, "--out", mine])
                r2 = run([sys.executable, peer, *common, "--out", theirs])
                verdict = subprocess.run(
                    [sys.executable, os.path.join(ROOT, "scripts", "compare-peers.py"), mine, theirs],
                    stdout=subprocess.PIPE, text=True)
                status |= verdict.returncode
                print(f"{work} ({impl}, {args.size}): {verdict.stdout.strip()}")
                for who, path, r in (("baseline", mine, r1), ("peer    ", theirs, r2)):
                    with open(path) as f:
                        d = json.load(f)
                    print(f"  {who} {r['steps_per_s']:.3g} steps/s; {headline(work, d)}")
    sys.exit(status)


if __name__ == "__main__":
    main()
