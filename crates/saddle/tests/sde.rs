//! The continuous-time limit (App. C, Eq. 49): the Euler–Maruyama and Milstein steps against
//! an exact solution, and SDE ensembles run by the engine against exact stationary densities.

use saddle::config::Experiment;
use saddle::experiment::{coefficients, run};
use saddle::observe::Histogram;
use saddle::rng::{standard_normal, stream};
use saddle::sde::{Scheme, Stepper};
use saddle::theory::distance::{compare, BinnedCounts};
use saddle::theory::stationary::{stationary_density, QuarticSgd};

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

/// The L1 distance between an ensemble's 1-D histogram and a reference CDF, and the largest it
/// may be: its expectation plus 4 standard deviations under sampling from the reference alone
/// (`theory::distance`).
fn l1_against(h: &Histogram, cdf: impl Fn(f64) -> f64, what: &str) -> f64 {
    let counts = BinnedCounts::from_observed(h).unwrap();
    let c = compare(&counts, cdf, 0.001).unwrap();
    eprintln!(
        "{what}: L1 = {:.4} (sampling alone: {:.4} ± {:.4}), KS = {:.4} (critical {:.4})",
        c.l1, c.l1_mean, c.l1_sd, c.ks, c.ks_critical
    );
    assert!(
        c.l1 < c.l1_mean + 4.0 * c.l1_sd,
        "{what}: L1 = {}, expected {} ± {} from sampling alone",
        c.l1,
        c.l1_mean,
        c.l1_sd
    );
    c.l1
}

/// Eq. 63 (App. C.2): with L = m w²/2 + b w⁴/4, minibatch variance C = v w² and additive noise
/// σ (C = v w² + Sσ², Eq. 62), the stationary density is
/// P ∝ (v w² + Sσ²)^(−1 − Sm/(λv) + S²bσ²/(λv²)) exp(−Sb w²/(λv)) (the paper's v = 1). An SDE
/// ensemble (Gaussian data x ~ N(m, 1), so v = 1) reaches the Fokker–Planck stationary density
/// (Eq. 57, computed numerically from the experiment's own L' and C, and checked here against
/// the closed form): the L1 distance between the final histogram and the density is within 4
/// standard deviations of its expectation under sampling alone, for both schemes. Here
/// m = −1 < −λv/S, so the density is bimodal with modes ±√(−λv/(Sb) − m/b) = ±√0.5 (Eq. 65).
#[test]
fn sde_ensembles_reach_the_stationary_density_of_eq_63() {
    let (m, b, sigma, lr) = (-1.0f64, 1.0f64, 0.3f64, 0.5f64);
    let (lo, hi, bins) = (-2.0, 2.0, 40);
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
        let land = coefficients(&e).unwrap();
        let fp =
            stationary_density(|w| land.grad(w), |w| land.c(w), lr, 1.0, -6.0, 6.0, 4000).unwrap();
        // The numeric density is Eq. 63's closed form.
        let closed = QuarticSgd::new(m, b, 1.0, sigma, lr, 1.0).unwrap();
        let r = |w: f64| fp.density_at(w).ln() - closed.log_density(w);
        for w in [-1.5, -0.7, 0.0, 0.3, 1.2] {
            assert!((r(w) - r(0.5)).abs() < 1e-6, "Eq. 63 at {w}");
        }
        let sum = run(&e, 0, None).unwrap();
        assert_eq!(sum.diverged, 0);
        l1_against(
            &sum.histograms[0],
            |w| fp.cdf_at(w),
            &format!("Eq. 63, {scheme}"),
        );
    }
}

/// Example 2 (Fig. 10, Prop. 10): on L = w²/2 the designed noise of Eq. 117 makes
/// p ∝ exp(−(w − w₀)²) stationary. An SDE ensemble with that noise, reflecting walls on
/// [−1, 3] (where the explicit schemes resolve C; see `experiments/fig10.toml`) and a start
/// U[−1, 1] reaches the target restricted to the box: L1 within 4 standard deviations of
/// sampling noise.
#[test]
fn designed_noise_makes_the_target_stationary() {
    let text = r#"
name = "example2"
seed = 8
runs = 8000
steps = 10000
[model]
kind = "quadratic"
[noise]
kind = "discrete"
values = [1.0]
[optimizer]
kind = "sde"
lr = 0.5
dt = 0.002
clip = [-1.0, 3.0]
boundary = "reflect"
[diffusion]
kind = "designed"
target = "exp(-((w1 - 1)^2))"
[[observe.histogram]]
lo = -1.0
hi = 3.0
bins = 40
"#;
    let e = Experiment::from_toml(text).unwrap();
    let sum = run(&e, 0, None).unwrap();
    assert_eq!(sum.diverged, 0);
    let (lo, hi) = (-1.0f64, 3.0f64);
    let z = statrs::function::erf::erf(hi - 1.0) - statrs::function::erf::erf(lo - 1.0);
    let cdf = |w: f64| {
        (statrs::function::erf::erf(w.clamp(lo, hi) - 1.0) - statrs::function::erf::erf(lo - 1.0))
            / z
    };
    l1_against(&sum.histograms[0], cdf, "Example 2");
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
    l1_against(&h, |w| w.clamp(0.0, 1.0), "reflected");
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
