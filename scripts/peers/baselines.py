#!/usr/bin/env python3
"""NumPy and JAX baselines for saddle's three canonical workloads.

What a researcher reproducing "SGD May Never Escape Saddle Points" would write without saddle:
the runs of an ensemble as one array, a Python loop over steps (NumPy) or a compiled loop
(JAX: `jit` and `lax.fori_loop`, float64). `scripts/bench-vs-peers.sh` times saddle against
them, and `scripts/compare-peers.py` checks that the answers agree.

    scripts/peers/baselines.py --impl numpy|jax --work quad-phase|nn-sweep|adaptive
                               [--size quick|paper] [--seed N (default 1)] [--out FILE]

Prints one JSON line, {"impl", "work", "size", "steps", "seconds", "steps_per_s"}; the time
runs from the first draw to the last answer (JAX's compilation included: what a user waits).
--out FILE also writes that record with the answers, laid out as the `--out` files of
`saddle bench` and of the peer programs in ../shared/peers (`runs`; quad-phase:
`escape_fraction`, NA rows of NL cells; nn-sweep: `diverged`, `mean_loss`; adaptive: `t` and
the mean |w_t| of `adam`, `amsgrad`, `adam_m`, `amsgrad_m`), plus the standard errors of the
means (`mean_loss_stderr`, `adam_stderr`, ...), so a file of this program can stand on either
side of a comparison.

The workloads (docs/performance.md; steps = cells x runs x steps, x 4 variants for adaptive):

quad-phase (Fig. 3 left)   SGD on L(w; x) = x w^2/2, x = 1 or a - 1 with probability 1/2
                           (Eq. 4), w0 ~ U[-1, 1], over a = linspace(-1, 1, NA) (slowest) x
                           lr = linspace(0.02, 2, NL). A run with |w| > 1e12 has diverged: it
                           stops and counts as escaped. Answer: P(|w_T| >= 0.05) per cell.
                           quick NA = NL = 32, R = 1000, T = 500; paper 64, 64, 2000, 1000.
nn-sweep (Fig. 6 right)    SGD on the per-sample loss (w2 w1^2 - y)^2 of the minimal network
                           (x = 1), y = -1 or 2 with probability 1/2, w1 ~ U[-1, 1],
                           w2 ~ U[0, 1], over lr = linspace(0.001, 0.15, NL). A run with a
                           non-finite value or |w_i| > 1e6 has diverged and stops. Answers per
                           lr: the diverged fraction, and the mean over the other runs of the
                           expected loss L(u) = ((u + 1)^2 + (u - 2)^2)/2, u = w2 w1^2 (Eq. 18).
                           quick NL = 40, R = 500, T = 5000; paper 150, 1000, 10^4.
adaptive (Fig. 5)          Adam and AMSGrad as the paper's Fig. 2 (m <- b1 m + (1 - b1) g,
                           v <- b2 v + (1 - b2) g^2, AMSGrad's vmax <- max(vmax, v),
                           w <- w - lr m / sqrt(v or vmax); no bias correction, no eps), then w
                           clipped to [-1, 1]; quadratic with a = -0.1, lr = 0.2, b2 = 0.999,
                           b1 = 0 and 0.9, w0 ~ U[-1, 1]. Answer: mean |w_t| at the distinct
                           integers of 30 log-spaced steps between 1 and T.
                           quick R = 2000, T = 5000; paper R = 2000, T = 5*10^4.
"""
import argparse
import json
import math
import sys
import time

import numpy as np

ESCAPE_DELTA = 0.05
QUAD_BOUND = 1e12
NET_BOUND = 1e6
ADAPTIVE = dict(a=-0.1, lr=0.2, beta2=0.999)
# (name in the answers, beta1, AMSGrad?), in the order saddle and the peers write them.
VARIANTS = [("adam", 0.0, False), ("amsgrad", 0.0, True), ("adam_m", 0.9, False),
            ("amsgrad_m", 0.9, True)]

SIZES = {
    "quick": {"quad-phase": dict(n_a=32, n_lr=32, runs=1000, steps=500),
              "nn-sweep": dict(n_lr=40, runs=500, steps=5000),
              "adaptive": dict(runs=2000, steps=5000)},
    "paper": {"quad-phase": dict(n_a=64, n_lr=64, runs=2000, steps=1000),
              "nn-sweep": dict(n_lr=150, runs=1000, steps=10000),
              "adaptive": dict(runs=2000, steps=50000)},
}


def generator(seed):
    """NumPy's Philox generator (4x64: the counter-based family of saddle's Philox4x32), keyed by
    the seed: a stream of its own, not that of the peer programs (NumPy's default PCG64, seed 0)."""
    return np.random.Generator(np.random.Philox(seed))


def step_count(work, p):
    if work == "quad-phase":
        return p["n_a"] * p["n_lr"] * p["runs"] * p["steps"]
    if work == "nn-sweep":
        return p["n_lr"] * p["runs"] * p["steps"]
    return len(VARIANTS) * p["runs"] * p["steps"]


def record_steps(steps, count=30):
    """The distinct integers among `count` log-spaced points from 1 to `steps`."""
    return sorted({int(t) for t in np.rint(np.geomspace(1, steps, count))})


def quad_factors(n_a, n_lr):
    """Per cell (a slowest), the factors 1 - lr x of one SGD step for x = 1 and x = a - 1."""
    a, lr = np.meshgrid(np.linspace(-1.0, 1.0, n_a), np.linspace(0.02, 2.0, n_lr), indexing="ij")
    return (1.0 - lr).reshape(-1, 1), (1.0 - lr * (a - 1.0)).reshape(-1, 1)


def net_answers(w1, w2, dead):
    """Diverged fraction, and mean expected loss (Eq. 18) with its standard error, per row."""
    u = w2 * w1 * w1
    loss = 0.5 * ((u + 1.0) ** 2 + (u - 2.0) ** 2)
    diverged, mean, stderr = [], [], []
    for row, gone in zip(loss, dead):
        kept = row[~gone]
        diverged.append(float(gone.mean()))
        mean.append(float(kept.mean()) if kept.size else None)
        stderr.append(float(kept.std(ddof=1) / math.sqrt(kept.size)) if kept.size > 1 else None)
    return {"diverged": diverged, "mean_loss": mean, "mean_loss_stderr": stderr}


def abs_mean(w):
    a = np.abs(np.asarray(w))
    return float(a.mean()), float(a.std(ddof=1) / math.sqrt(a.size))


# ------------------------------------------------------------------------------------ NumPy

def numpy_quad_phase(n_a, n_lr, runs, steps, seed):
    rng = generator(seed)
    up, down = quad_factors(n_a, n_lr)
    w = rng.uniform(-1.0, 1.0, (up.shape[0], runs))
    gone = np.zeros(w.shape, dtype=bool)
    u = np.empty(w.shape)
    for _ in range(steps):
        rng.random(out=u)
        w *= np.where(u < 0.5, up, down)
        over = np.abs(w) > QUAD_BOUND
        if over.any():
            gone |= over
            w[over] = 0.0  # 0 is a fixed point: the run stops there
    escaped = gone | (np.abs(w) >= ESCAPE_DELTA)
    return {"escape_fraction": escaped.mean(axis=1).reshape(n_a, n_lr).tolist()}


def numpy_nn_sweep(n_lr, runs, steps, seed):
    rng = generator(seed)
    lr = np.linspace(0.001, 0.15, n_lr)[:, None]
    w1 = rng.uniform(-1.0, 1.0, (n_lr, runs))
    w2 = rng.uniform(0.0, 1.0, (n_lr, runs))
    dead = np.zeros(w1.shape, dtype=bool)
    u = np.empty(w1.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            rng.random(out=u)
            y = np.where(u < 0.5, -1.0, 2.0)
            sq = w1 * w1
            r = 2.0 * (w2 * sq - y)          # d(f - y)^2 / df
            g1 = r * 2.0 * w1 * w2           # df/dw1 = 2 w1 w2
            w2 -= lr * (r * sq)              # df/dw2 = w1^2
            w1 -= lr * g1
            bad = ~((np.abs(w1) <= NET_BOUND) & (np.abs(w2) <= NET_BOUND))
            if bad.any():
                dead |= bad
                w1[bad] = 0.0  # (0, 0) is a fixed point: the run stops there
                w2[bad] = 0.0
    return net_answers(w1, w2, dead)


def numpy_adaptive(runs, steps, seed):
    rng = generator(seed)
    a, lr, beta2 = ADAPTIVE["a"], ADAPTIVE["lr"], ADAPTIVE["beta2"]
    stops = record_steps(steps)
    out = {"t": stops}
    u = np.empty(runs)
    for name, beta1, ams in VARIANTS:
        w = rng.uniform(-1.0, 1.0, runs)
        m, v, vmax = np.zeros(runs), np.zeros(runs), np.zeros(runs)
        means, errs, t = [], [], 0
        with np.errstate(divide="ignore", invalid="ignore"):
            for stop in stops:
                for t in range(t + 1, stop + 1):
                    rng.random(out=u)
                    g = np.where(u < 0.5, 1.0, a - 1.0) * w
                    m *= beta1
                    m += (1.0 - beta1) * g
                    v *= beta2
                    v += (1.0 - beta2) * g * g
                    scale = np.maximum(vmax, v, out=vmax) if ams else v
                    w -= lr * m / np.sqrt(scale)
                    np.clip(w, -1.0, 1.0, out=w)
                mean, err = abs_mean(w)
                means.append(mean)
                errs.append(err)
        out[name], out[name + "_stderr"] = means, errs
    return out


# -------------------------------------------------------------------------------------- JAX

def jax_workloads():
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax import lax, random

    def quad_phase(n_a, n_lr, runs, steps, seed):
        up, down = (jnp.asarray(f) for f in quad_factors(n_a, n_lr))
        key, init = random.split(random.PRNGKey(seed))
        w0 = random.uniform(init, (up.shape[0], runs), jnp.float64, -1.0, 1.0)

        @jax.jit
        def run(w):
            def step(t, state):
                w, gone = state
                heads = random.bernoulli(random.fold_in(key, t), 0.5, w.shape)
                w = w * jnp.where(heads, up, down)
                over = jnp.abs(w) > QUAD_BOUND
                return jnp.where(over, 0.0, w), gone | over

            w, gone = lax.fori_loop(0, steps, step, (w, jnp.zeros(w.shape, bool)))
            return jnp.mean(gone | (jnp.abs(w) >= ESCAPE_DELTA), axis=1)

        esc = np.asarray(run(w0))
        return {"escape_fraction": esc.reshape(n_a, n_lr).tolist()}

    def nn_sweep(n_lr, runs, steps, seed):
        lr = jnp.linspace(0.001, 0.15, n_lr)[:, None]
        key, k1, k2 = random.split(random.PRNGKey(seed), 3)
        w1 = random.uniform(k1, (n_lr, runs), jnp.float64, -1.0, 1.0)
        w2 = random.uniform(k2, (n_lr, runs), jnp.float64, 0.0, 1.0)

        @jax.jit
        def run(w1, w2):
            def step(t, state):
                w1, w2, dead = state
                y = jnp.where(random.bernoulli(random.fold_in(key, t), 0.5, w1.shape), -1.0, 2.0)
                sq = w1 * w1
                r = 2.0 * (w2 * sq - y)
                n1 = w1 - lr * (r * 2.0 * w1 * w2)
                n2 = w2 - lr * (r * sq)
                dead = dead | ~((jnp.abs(n1) <= NET_BOUND) & (jnp.abs(n2) <= NET_BOUND))
                return jnp.where(dead, 0.0, n1), jnp.where(dead, 0.0, n2), dead

            return lax.fori_loop(0, steps, step, (w1, w2, jnp.zeros(w1.shape, bool)))

        w1, w2, dead = (np.asarray(x) for x in run(w1, w2))
        return net_answers(w1, w2, dead)

    def adaptive(runs, steps, seed):
        a, lr, beta2 = ADAPTIVE["a"], ADAPTIVE["lr"], ADAPTIVE["beta2"]
        stops = record_steps(steps)
        out = {"t": stops}
        key = random.PRNGKey(seed)
        for i, (name, beta1, ams) in enumerate(VARIANTS):
            vkey, init = random.split(random.fold_in(key, i))

            # Steps t0+1 .. t1 (traced bounds: one compilation serves every segment).
            @jax.jit
            def advance(state, t0, t1):
                def step(t, s):
                    w, m, v, vmax = s
                    x = jnp.where(random.bernoulli(random.fold_in(vkey, t), 0.5, w.shape),
                                  1.0, a - 1.0)
                    g = x * w
                    m = beta1 * m + (1.0 - beta1) * g
                    v = beta2 * v + (1.0 - beta2) * g * g
                    vmax = jnp.maximum(vmax, v) if ams else v
                    w = jnp.clip(w - lr * m / jnp.sqrt(vmax), -1.0, 1.0)
                    return w, m, v, vmax

                return lax.fori_loop(t0 + 1, t1 + 1, step, state)

            z = jnp.zeros(runs)
            state = (random.uniform(init, (runs,), jnp.float64, -1.0, 1.0), z, z, z)
            means, errs, t = [], [], 0
            for stop in stops:
                state = advance(state, t, stop)
                t = stop
                mean, err = abs_mean(state[0])
                means.append(mean)
                errs.append(err)
            out[name], out[name + "_stderr"] = means, errs
        return out

    return {"quad-phase": quad_phase, "nn-sweep": nn_sweep, "adaptive": adaptive}


NUMPY = {"quad-phase": numpy_quad_phase, "nn-sweep": numpy_nn_sweep, "adaptive": numpy_adaptive}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--impl", choices=["numpy", "jax"], default="numpy")
    ap.add_argument("--work", choices=list(NUMPY), required=True)
    ap.add_argument("--size", choices=list(SIZES), default="quick")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", metavar="FILE", help="also write the answers here (JSON)")
    args = ap.parse_args(argv)
    p = SIZES[args.size][args.work]
    impls = NUMPY if args.impl == "numpy" else jax_workloads()
    t0 = time.perf_counter()
    answers = impls[args.work](**p, seed=args.seed)
    seconds = time.perf_counter() - t0
    steps = step_count(args.work, p)
    rec = {"impl": args.impl, "work": args.work, "size": args.size, "steps": steps,
           "seconds": seconds, "steps_per_s": steps / seconds}
    print(json.dumps(rec))
    sys.stdout.flush()
    if args.out:
        with open(args.out, "w") as f:
            json.dump({**rec, "runs": p["runs"], **answers}, f)
            f.write("\n")


if __name__ == "__main__":
    main()
