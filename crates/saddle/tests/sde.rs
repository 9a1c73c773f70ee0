//! The continuous-time limit (App. C, Eq. 49): the Euler–Maruyama and Milstein steps against
//! an exact solution, and SDE ensembles run by the engine against exact stationary densities.

use saddle::config::Experiment;
use saddle::experiment::run;
use saddle::rng::{standard_normal, stream};
use saddle::sde::{Scheme, Stepper};

/// Strong error E|X_T − X(T)| of a scheme on geometric Brownian motion dX = αX dt + βX dW,
/// X₀ = 1, T = 1, whose exact solution on the same Brownian path is
/// X(T) = exp((α − β²/2)T + βW_T). In the form of Eq. 49 (λ = 1, S = 1): L'(w) = −αw,
/// C(w) = β²w², C'(w) = 2β²w. Each path's increments are drawn once at the finest step and
/// summed for the coarser ones, so every level sees the same path.
fn gbm_strong_errors(scheme: Scheme, levels: &[u32], paths: u32) -> Vec<f64> {
    let (alpha, beta) = (0.5f64, 0.5f64);
    let finest = *levels.iter().max().unwrap();
    let n_fine = 1usize << finest;
    let mut err = vec![0.0; levels.len()];
    for p in 0..paths {
        let mut rng = stream(2024, 0, p);
        let dw: Vec<f64> = (0..n_fine)
            .map(|_| standard_normal(&mut rng) / (n_fine as f64).sqrt())
            .collect();
        let w_t: f64 = dw.iter().sum();
        let exact = ((alpha - 0.5 * beta * beta) + beta * w_t).exp();
        for (e, &k) in err.iter_mut().zip(levels) {
            let n = 1usize << k;
            let dt = 1.0 / n as f64;
            let st = Stepper::new(1.0, 1, dt, scheme);
            let group = n_fine / n;
            let mut x = 1.0f64;
            for j in 0..n {
                let dwj: f64 = dw[j * group..(j + 1) * group].iter().sum();
                let xi = dwj / dt.sqrt();
                x += st.increment(-alpha * x, beta * beta * x * x, 2.0 * beta * beta * x, xi);
            }
            *e += (x - exact).abs() / paths as f64;
        }
    }
    err
}

/// Least-squares slope of ln(error) against ln(dt).
fn slope(levels: &[u32], err: &[f64]) -> f64 {
    let xs: Vec<f64> = levels.iter().map(|k| -(*k as f64) * 2f64.ln()).collect();
    let ys: Vec<f64> = err.iter().map(|e| e.ln()).collect();
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    sxy / sxx
}

/// Euler–Maruyama has strong order ½ and Milstein strong order 1 on geometric Brownian
/// motion. With 2000 paths each level's error is known to about 2 % (slope uncertainty about
/// 0.01 over this range of dt); ±0.1 allows for the pre-asymptotic curvature, and the two
/// orders are 0.5 apart, so a scheme of the wrong order fails.
#[test]
fn euler_maruyama_and_milstein_have_strong_orders_one_half_and_one() {
    let levels = [3, 4, 5, 6, 7, 8];
    let em = gbm_strong_errors(Scheme::EulerMaruyama, &levels, 2000);
    let mil = gbm_strong_errors(Scheme::Milstein, &levels, 2000);
    let (s_em, s_mil) = (slope(&levels, &em), slope(&levels, &mil));
    eprintln!("strong order: Euler–Maruyama {s_em:.3}, Milstein {s_mil:.3}");
    assert!(
        (s_em - 0.5).abs() < 0.1,
        "Euler–Maruyama slope {s_em}: {em:?}"
    );
    assert!((s_mil - 1.0).abs() < 0.1, "Milstein slope {s_mil}: {mil:?}");
    assert!(mil[levels.len() - 1] < em[levels.len() - 1] / 4.0);
}

/// Probability of each bin of [lo, hi] (n bins) under the density `f` (not normalised), and
/// the mass outside, by composite Simpson on a fine grid over [a, b] ⊃ [lo, hi].
fn bin_probabilities(
    f: impl Fn(f64) -> f64,
    (a, b): (f64, f64),
    (lo, hi, n): (f64, f64, usize),
) -> (Vec<f64>, f64) {
    let per_unit = 4000.0;
    let simpson = |x0: f64, x1: f64| {
        let m = (((x1 - x0) * per_unit).ceil() as usize).max(2) & !1;
        let h = (x1 - x0) / m as f64;
        let mut s = f(x0) + f(x1);
        for i in 1..m {
            s += f(x0 + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        s * h / 3.0
    };
    let total = simpson(a, b);
    let width = (hi - lo) / n as f64;
    let p: Vec<f64> = (0..n)
        .map(|i| simpson(lo + i as f64 * width, lo + (i + 1) as f64 * width) / total)
        .collect();
    let outside = 1.0 - p.iter().sum::<f64>();
    (p, outside.max(0.0))
}

/// L1 distance between a histogram of `n` samples and bin probabilities (mass outside the
/// range as one more bin), with its mean and standard deviation under multinomial sampling
/// (normal approximation per bin: E|X| = σ√(2/π), Var|X| = σ²(1 − 2/π)).
fn l1_with_bounds(counts: &[u64], outside: u64, p: &[f64], p_out: f64) -> (f64, f64, f64) {
    let n = (counts.iter().sum::<u64>() + outside) as f64;
    let cells = counts
        .iter()
        .map(|c| *c as f64)
        .zip(p.iter().copied())
        .chain(std::iter::once((outside as f64, p_out)));
    let (mut l1, mut mean, mut var) = (0.0, 0.0, 0.0);
    for (c, q) in cells {
        l1 += (c / n - q).abs();
        let s2 = q * (1.0 - q) / n;
        mean += (2.0 * s2 / std::f64::consts::PI).sqrt();
        var += s2 * (1.0 - 2.0 / std::f64::consts::PI);
    }
    (l1, mean, var.sqrt())
}

/// Eq. 63 (App. C.2): with L = m w²/2 + b w⁴/4, minibatch variance C = v w² and additive noise
/// σ (C = v w² + Sσ², Eq. 62), the stationary density is
/// P ∝ (v w² + Sσ²)^(−1 − Sm/(λv) + S²bσ²/(λv²)) exp(−Sb w²/(λv)) (the paper's v = 1). An SDE
/// ensemble (Gaussian data x ~ N(m, 1), so v = 1) reaches it: the L1 distance between the final
/// histogram and the density's bin probabilities is within 4 standard deviations of its
/// expectation under sampling alone, for both schemes. Here m = −1 < −λv/S, so the density is
/// bimodal with modes ±√(−λv/(Sb) − m/b) = ±√0.5 (Eq. 65).
#[test]
fn sde_ensembles_reach_the_stationary_density_of_eq_63() {
    let (m, v, b, sigma, lr, s) = (-1.0f64, 1.0f64, 1.0f64, 0.3f64, 0.5f64, 1.0f64);
    let expo = -1.0 - s * m / (lr * v) + s * s * b * sigma * sigma / (lr * v * v);
    let density =
        |w: f64| (v * w * w + s * sigma * sigma).powf(expo) * (-s * b * w * w / (lr * v)).exp();
    let (lo, hi, bins) = (-2.0, 2.0, 40);
    let (p, p_out) = bin_probabilities(density, (-6.0, 6.0), (lo, hi, bins));
    for scheme in ["milstein", "euler-maruyama"] {
        let text = format!(
            r#"
name = "eq63"
seed = 11
runs = 20000
steps = 3000
[model]
kind = "quartic"
b = {b}
[noise]
kind = "gaussian"
mean = {m}
std = 1.0
injected_sigma = {sigma}
[optimizer]
kind = "sde"
lr = {lr}
dt = 0.01
scheme = "{scheme}"
[[observe.histogram]]
lo = {lo}
hi = {hi}
bins = {bins}
"#
        );
        let e = Experiment::from_toml(&text).unwrap();
        let sum = run(&e, 0, None).unwrap();
        assert_eq!(sum.diverged, 0);
        let h = &sum.histograms[0];
        let (l1, mean, sd) = l1_with_bounds(&h.counts, h.underflow + h.overflow, &p, p_out);
        eprintln!("Eq. 63, {scheme}: L1 = {l1:.4} (sampling alone: {mean:.4} ± {sd:.4})");
        assert!(
            l1 < mean + 4.0 * sd,
            "{scheme}: L1 = {l1}, expected {mean} ± {sd} from sampling alone"
        );
    }
}

/// Reflecting walls (`boundary = "reflect"`) keep the stationary density of Eq. 57 on the box
/// (zero flux at the walls), while truncation piles mass on them. With no drift and constant
/// C, reflected Brownian motion on [0, 1] tends to the uniform law.
#[test]
fn reflected_brownian_motion_becomes_uniform_and_truncation_piles_up_at_the_walls() {
    let text = |boundary: &str| {
        format!(
            r#"
name = "reflected"
seed = 4
runs = 20000
steps = 400
[model]
kind = "formula"
loss = "0*w1"
params = 1
[noise]
kind = "discrete"
values = [1.0]
[init]
kind = "point"
w = 0.9
[optimizer]
kind = "sde"
lr = 1.0
dt = 0.005
clip = [0.0, 1.0]
boundary = "{boundary}"
[diffusion]
kind = "formula"
c = "1"
[[observe.histogram]]
lo = 0.0
hi = 1.0
bins = 20
"#
        )
    };
    let e = Experiment::from_toml(&text("reflect")).unwrap();
    let h = run(&e, 0, None).unwrap().histograms.remove(0);
    let p = vec![1.0 / 20.0; 20];
    let (l1, mean, sd) = l1_with_bounds(&h.counts, h.underflow + h.overflow, &p, 0.0);
    eprintln!("reflected: L1 = {l1:.4} (sampling alone: {mean:.4} ± {sd:.4})");
    assert!(l1 < mean + 4.0 * sd, "L1 = {l1}, expected {mean} ± {sd}");
    // Truncated: each step from the wall at 0 or 1 lands on the wall with probability ½, so
    // the end bins hold far more than 1/20 of the runs.
    let e = Experiment::from_toml(&text("truncate")).unwrap();
    let h = run(&e, 0, None).unwrap().histograms.remove(0);
    let n = h.counts.iter().sum::<u64>() as f64;
    eprintln!(
        "truncated: end bins {} and {} of {n}",
        h.counts[0], h.counts[19]
    );
    assert!(h.counts[0] as f64 / n > 0.07 && h.counts[19] as f64 / n > 0.07);
}
