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

A difference of means is allowed z x sqrt(se_ref^2 + se_other^2) where OTHER.json reports
standard errors too (the baselines and saddle do), else z x sqrt(2) x REFERENCE's standard
error (two ensembles of the same size and law), plus 3D/n, what three runs can move a
mean of n runs: these means are often carried by a few runs (AMSGrad's mean |w_t| while the
last runs are absorbed, the loss near the saddle), whose number varies between ensembles, and
there a standard error estimated from one ensemble understates the spread. D is the range of
one run's value: 1 for |w_t| (w is clipped to [-1, 1]), 0.25 for the final loss (a run that has
not diverged mostly ends between the valley of minima, 2.25, and the saddle, 2.5; near the
onset of divergence a run still on its way out at step T can end far above, which its
program's standard error then shows, hence the use of both standard errors).

Prints one line: the workload, the number of comparisons, the largest difference as a fraction
of its tolerance and where it is, and "agree" or "DISAGREE"; exits 1 on disagreement. Uses only the standard
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


def finite(x):
    return x is not None and math.isfinite(x)


def mean(a, b, se, se_b, n, zc, span):
    """|a - b| over its tolerance (see the module doc); None where a value is missing."""
    if a is None or not finite(b) or not finite(se):
        return None
    spread = math.hypot(se, se_b) if finite(se_b) else math.sqrt(2.0) * se
    return abs(a - b) / (zc * spread + 3.0 * span / n)


def flat(x):
    return [v for row in x for v in flat(row)] if isinstance(x, list) else [x]


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        sys.exit(2)
    s = json.load(open(sys.argv[1]))
    p = json.load(open(sys.argv[2]))
    if "runs" not in s:
        print(f"{sys.argv[1]} has no runs and standard errors: it cannot be the reference "
              "(use saddle bench --out or scripts/peers/baselines.py --out)", file=sys.stderr)
        sys.exit(2)
    work = s["work"]
    n = s["runs"]
    if s["work"] != p["work"] or s.get("size", p.get("size")) != p.get("size", s.get("size")):
        print(f"{sys.argv[1]} and {sys.argv[2]} hold different workloads or sizes", file=sys.stderr)
        sys.exit(2)
    # (what, kind, reference value, other value, reference stderr, other stderr, span)
    pairs = []
    if work == "quad-phase":
        for i, (a, b) in enumerate(zip(flat(s["escape_fraction"]), flat(p["escape_fraction"]))):
            pairs.append((f"escape_fraction of cell {i}", "binomial", a, b, None, None, None))
    elif work == "nn-sweep":
        for i, (a, b) in enumerate(zip(s["diverged"], flat(p["diverged"]))):
            pairs.append((f"diverged of cell {i}", "binomial", a, b, None, None, None))
        other_se = flat(p.get("mean_loss_stderr", [None] * len(s["mean_loss"])))
        for i, (a, b, se, se_b) in enumerate(
                zip(s["mean_loss"], flat(p["mean_loss"]), s["mean_loss_stderr"], other_se)):
            pairs.append((f"mean_loss of cell {i}", "mean", a, b, se, se_b, 0.25))
    else:
        at = {t: i for i, t in enumerate(p["t"])}
        for name in ["adam", "amsgrad", "adam_m", "amsgrad_m"]:
            other_se = p.get(name + "_stderr", [None] * len(p["t"]))
            for k, t in enumerate(s["t"]):
                if t in at:
                    pairs.append((f"{name} at t = {t}", "mean", s[name][k], p[name][at[t]],
                                  s[name + "_stderr"][k], other_se[at[t]], 1.0))
    zc = threshold(len(pairs))
    ratios = []
    for what, kind, a, b, se, se_b, span in pairs:
        r = binomial(a, b, n, zc) if kind == "binomial" else mean(a, b, se, se_b, n, zc, span)
        if r is not None:
            ratios.append((r, what))
    worst, where = max(ratios) if ratios else (0.0, "none")
    ok = worst <= 1.0
    print(f"{work}: {len(ratios)} comparisons at z = {zc:.2f}, largest difference "
          f"{worst:.2f} x its tolerance ({where}): " + ("agree" if ok else "DISAGREE"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
