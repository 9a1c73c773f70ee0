#!/usr/bin/env python3
"""Check that two programs' answers to a canonical workload agree statistically.

    scripts/compare-peers.py REFERENCE.json OTHER.json

REFERENCE.json must carry standard errors: a file of `saddle bench --out DIR` (DIR/WORK.json)
or of `scripts/peers/baselines.py --out`. OTHER.json may be any program's `--out` file in the
same layout (the baselines', or a peer's `workloads.py --out` in ../shared/peers). Every
comparison is a two-sided z-test at family-wise level 1e-3, Bonferroni over the comparisons of
the workload:

- quad-phase: each cell's escape fraction, two-sample binomial test with the pooled fraction;
- nn-sweep: each learning rate's diverged fraction (two-sample binomial) and mean loss;
- adaptive: mean |w_t| of each variant at each common checkpoint.

OTHER.json need not report standard errors, so a difference of means is allowed z x sqrt(2) x
REFERENCE's standard error (two ensembles of the same size and law) plus 3D/n, what three runs can move a
mean of n runs: these means are often carried by a few runs (AMSGrad's mean |w_t| while the
last runs are absorbed, the loss near the saddle), whose number varies between ensembles, and
there a standard error estimated from one ensemble understates the spread. D is the range of one run's value: 1 for |w_t| (w is clipped
to [-1, 1]), 0.25 for the final loss (a run that has not diverged ends between the valley of
minima, 2.25, and the saddle, 2.5).

Prints one line: the workload, the number of comparisons, the largest difference as a fraction
of its tolerance, and "agree" or "DISAGREE"; exits 1 on disagreement. Uses only the standard
library.
"""
import json
import math
import sys
from statistics import NormalDist


def threshold(m, alpha=1e-3):
    return NormalDist().inv_cdf(1.0 - alpha / (2.0 * max(m, 1)))


def binomial(p1, p2, n, zc):
    """|p1 - p2| over its tolerance: zc pooled two-sample binomial standard errors."""
    p = 0.5 * (p1 + p2)
    tol = zc * math.sqrt(max(p * (1.0 - p), 0.0) * 2.0 / n)
    if tol == 0.0:
        return 0.0 if p1 == p2 else math.inf
    return abs(p1 - p2) / tol


def mean(a, b, se, n, zc, span):
    """|a - b| over its tolerance (see the module doc); None where a value is missing."""
    if a is None or b is None or se is None or not math.isfinite(b):
        return None
    return abs(a - b) / (zc * math.sqrt(2.0) * se + 3.0 * span / n)


def flat(x):
    return [v for row in x for v in flat(row)] if isinstance(x, list) else [x]


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        sys.exit(2)
    s = json.load(open(sys.argv[1]))
    p = json.load(open(sys.argv[2]))
    work = s["work"]
    n = s["runs"]
    if s["work"] != p["work"] or s.get("size", p.get("size")) != p.get("size", s.get("size")):
        print(f"{sys.argv[1]} and {sys.argv[2]} hold different workloads or sizes", file=sys.stderr)
        sys.exit(2)
    pairs = []  # (kind, reference value, other value, reference stderr, span)
    if work == "quad-phase":
        for a, b in zip(flat(s["escape_fraction"]), flat(p["escape_fraction"])):
            pairs.append(("binomial", a, b, None, None))
    elif work == "nn-sweep":
        for a, b in zip(s["diverged"], flat(p["diverged"])):
            pairs.append(("binomial", a, b, None, None))
        for a, b, se in zip(s["mean_loss"], flat(p["mean_loss"]), s["mean_loss_stderr"]):
            pairs.append(("mean", a, b, se, 0.25))
    else:
        at = {t: i for i, t in enumerate(p["t"])}
        for name in ["adam", "amsgrad", "adam_m", "amsgrad_m"]:
            for k, t in enumerate(s["t"]):
                if t in at:
                    pairs.append(("mean", s[name][k], p[name][at[t]], s[name + "_stderr"][k], 1.0))
    zc = threshold(len(pairs))
    ratios = []
    for kind, a, b, se, span in pairs:
        r = binomial(a, b, n, zc) if kind == "binomial" else mean(a, b, se, n, zc, span)
        if r is not None:
            ratios.append(r)
    worst = max(ratios) if ratios else 0.0
    ok = worst <= 1.0
    print(f"{work}: {len(ratios)} comparisons at z = {zc:.2f}, largest difference "
          f"{worst:.2f} x its tolerance: " + ("agree" if ok else "DISAGREE"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
