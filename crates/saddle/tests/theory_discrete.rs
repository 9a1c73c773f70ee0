//! The discrete-time theory (`saddle::theory::{log_moments, phase, escape_rate,
//! escape_probability, sharp_flat, amsgrad, kesten}`) against independent references: the
//! paper's closed forms, closed forms derived here (uniform and triangular laws, the centred
//! Gaussian, the golden-ratio Kesten equation), brute-force enumeration of all noise sequences,
//! central differences of the engine's models, and Monte Carlo ensembles of the engine
//! (`experiment::run`) with fixed seeds and tolerances of k = 4 binomial or sample standard
//! errors (two-sided false-alarm rate 6·10⁻⁵ per check under normality).

use saddle::config::Experiment;
use saddle::experiment::{run, Summary};
use saddle::model::{Field, Model, Moments, Sample, SharpFlat};
use saddle::noise::{Law, NoiseLaw};
use saddle::theory::amsgrad::amsgrad_trap;
use saddle::theory::escape_probability::{escape_probability, escape_probability_with_cap, Init};
use saddle::theory::escape_rate::{
    eq91_bound, gamma_star, numeric_optimum, slow_escape, two_point_optimum,
};
use saddle::theory::kesten::tail_exponent;
use saddle::theory::log_moments::{log_moments, two_point_mu, BatchMean, Method};
use saddle::theory::phase::{
    boundary_line, eq7_bounds, linspace, numeric_phase, two_point_phase, two_point_roots, Phase,
};
use saddle::theory::sharp_flat::{contraction, lr_bound, lr_bound_paper, sharp_flat, MinimumKind};
use saddle::theory::TheoryError;

// ---------------------------------------------------------------- helpers

fn two_point(a: f64, batch: usize) -> NoiseLaw {
    NoiseLaw {
        law: Law::TwoPoint { a },
        field: Field::X,
        batch,
    }
}

fn discrete(values: &[f64], probs: &[f64], batch: usize) -> NoiseLaw {
    NoiseLaw {
        law: Law::Discrete {
            values: values.to_vec(),
            probs: probs.to_vec(),
        },
        field: Field::X,
        batch,
    }
}

fn gaussian(mean: f64, std: f64, batch: usize) -> NoiseLaw {
    NoiseLaw {
        law: Law::Gaussian { mean, std },
        field: Field::X,
        batch,
    }
}

fn uniform(lo: f64, hi: f64, batch: usize) -> NoiseLaw {
    NoiseLaw {
        law: Law::Uniform { lo, hi },
        field: Field::X,
        batch,
    }
}

fn arg_name(r: Result<impl std::fmt::Debug, TheoryError>) -> String {
    match r {
        Err(TheoryError::InvalidArgument { name, .. }) => name,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol
}

/// Every sequence of `len` indices into `n` values (n^len of them), in order.
fn sequences(n: usize, len: usize) -> Vec<Vec<usize>> {
    let total = n.pow(len as u32);
    (0..total)
        .map(|mut k| {
            (0..len)
                .map(|_| {
                    let d = k % n;
                    k /= n;
                    d
                })
                .collect()
        })
        .collect()
}

fn go(toml: &str) -> Summary {
    let exp = Experiment::from_toml(toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    run(&exp, 0, None).expect("experiment runs")
}

// ---------------------------------------------------------------- log-moments (Lemma 1)

/// Two-point noise: the exact sum equals Eq. 83, ½ ln|(1 − λ)(1 − λ(a − 1))|, and s² the
/// variance of a two-valued variable, ¼(ln|1 − λ| − ln|1 − λ(a − 1)|)².
#[test]
fn log_moments_two_point_match_eq_83() {
    for a in [-3.0, -1.0, -0.25, 0.0, 0.5, 1.1, 7.0] {
        for lr in [0.01, 0.3, 0.8, 1.3, 2.5] {
            let m = log_moments(&two_point(a, 1), lr).unwrap();
            let l1 = (1.0f64 - lr).abs().ln();
            let l2 = (1.0 - lr * (a - 1.0)).abs().ln();
            assert_eq!(m.method, Method::Exact);
            assert!(
                close(m.mu, two_point_mu(a, lr), 1e-15),
                "a={a} λ={lr} {m:?}"
            );
            let s2 = 0.25 * (l1 - l2) * (l1 - l2);
            assert!(
                close(m.s2.unwrap(), s2, 1e-14 * (1.0 + s2)),
                "a={a} λ={lr} {m:?}"
            );
            assert!(m.mu_error < 1e-14);
        }
    }
    // Fig. 1: a = −1, λ = 0.8: μ = ½ ln 0.52.
    let m = log_moments(&two_point(-1.0, 1), 0.8).unwrap();
    assert!(close(m.mu, 0.5 * 0.52f64.ln(), 1e-15));
}

/// Prop. 1: at λ = 1 the atom x = 1 gives 1 − λx = 0 with probability ½, so μ = −∞ and s²
/// does not exist; JSON writes −∞ as "-inf" (never null) and s² as null (does not exist).
#[test]
fn log_moments_atom_at_zero_is_minus_infinity() {
    let m = log_moments(&two_point(-1.0, 1), 1.0).unwrap();
    assert_eq!(m.mu, f64::NEG_INFINITY);
    assert_eq!(m.s2, None);
    assert_eq!(m.zero_probability, 0.5);
    let json = serde_json::to_value(&m).unwrap();
    assert!(json["mu"] == "-inf" && json["s2"].is_null());
    assert_eq!(json["method"], "exact");
    // With batch 2 the mean is 1 only when both draws are 1: probability ¼.
    let m = log_moments(&two_point(-1.0, 2), 1.0).unwrap();
    assert!(close(m.zero_probability, 0.25, 1e-15));
}

/// Batch S > 1: the multinomial law of x̄ against brute force over all n^S draws.
#[test]
fn log_moments_minibatch_match_brute_force() {
    let cases: Vec<(NoiseLaw, Vec<f64>, Vec<f64>)> = vec![
        (two_point(-1.0, 5), vec![1.0, -2.0], vec![0.5, 0.5]),
        (
            discrete(&[1.0, -0.5, 2.5], &[0.5, 0.3, 0.2], 4),
            vec![1.0, -0.5, 2.5],
            vec![0.5, 0.3, 0.2],
        ),
    ];
    for (noise, vals, probs) in cases {
        let s = noise.batch;
        for lr in [0.3, 0.7, 1.6] {
            let (mut mu, mut m2) = (0.0, 0.0);
            for seq in sequences(vals.len(), s) {
                let p: f64 = seq.iter().map(|&i| probs[i]).product();
                let xbar = seq.iter().map(|&i| vals[i]).sum::<f64>() / s as f64;
                let l = (1.0 - lr * xbar).abs().ln();
                mu += p * l;
                m2 += p * l * l;
            }
            let m = log_moments(&noise, lr).unwrap();
            assert_eq!(m.batch, s);
            if mu == f64::NEG_INFINITY {
                // λ = 1.6, x̄ = 0.625 (e.g. 1, 1, 1, −0.5) sets w to 0.
                assert_eq!(m.mu, mu);
                assert!(m.s2.is_none() && m.zero_probability > 0.0);
                continue;
            }
            assert!(close(m.mu, mu, 1e-13), "S={s} λ={lr}: {} vs {mu}", m.mu);
            assert!(close(m.s2.unwrap(), m2 - mu * mu, 1e-12), "S={s} λ={lr}");
        }
    }
}

/// A dataset with replacement is the discrete law of its x values (duplicates merged); a law on
/// the field y leaves x = 1, so μ = ln|1 − λ| and s² = 0.
#[test]
fn log_moments_dataset_and_field_y() {
    let ds = NoiseLaw {
        law: Law::Dataset {
            samples: [1.0, 1.0, -2.0]
                .iter()
                .map(|x| Sample { x: *x, y: 0.0 })
                .collect(),
            replacement: true,
        },
        field: Field::X,
        batch: 2,
    };
    let d = discrete(&[1.0, -2.0], &[2.0 / 3.0, 1.0 / 3.0], 2);
    let (a, b) = (
        log_moments(&ds, 0.4).unwrap(),
        log_moments(&d, 0.4).unwrap(),
    );
    assert!(close(a.mu, b.mu, 1e-15) && close(a.s2.unwrap(), b.s2.unwrap(), 1e-15));
    assert_eq!(a.atoms, Some(3));

    let y = NoiseLaw {
        law: Law::Gaussian {
            mean: 0.0,
            std: 1.0,
        },
        field: Field::Y,
        batch: 3,
    };
    let m = log_moments(&y, 0.3).unwrap();
    assert!(close(m.mu, 0.7f64.ln(), 1e-15) && m.s2 == Some(0.0));

    let no_repl = NoiseLaw {
        law: Law::Dataset {
            samples: vec![Sample { x: 1.0, y: 0.0 }],
            replacement: false,
        },
        field: Field::X,
        batch: 1,
    };
    assert_eq!(arg_name(log_moments(&no_repl, 0.1)), "replacement");
}

/// ∫ ln|y| dy = y ln|y| − y and ∫ ln²|y| dy = y(ln²|y| − 2 ln|y| + 2).
fn p0(y: f64) -> f64 {
    if y == 0.0 {
        0.0
    } else {
        y * y.abs().ln() - y
    }
}
fn p2(y: f64) -> f64 {
    if y == 0.0 {
        0.0
    } else {
        let l = y.abs().ln();
        y * (l * l - 2.0 * l + 2.0)
    }
}
/// ∫ y ln|y| dy = y²/2 ln|y| − y²/4.
fn p1(y: f64) -> f64 {
    if y == 0.0 {
        0.0
    } else {
        0.5 * y * y * y.abs().ln() - 0.25 * y * y
    }
}

/// Uniform data, S = 1: y = 1 − λx is uniform on [1 − λhi, 1 − λlo], so
/// μ = [P₀(y)]/(y_hi − y_lo) with P₀(y) = y ln|y| − y, and E ln² likewise with
/// P₂(y) = y(ln²|y| − 2 ln|y| + 2); the quadrature must match, also when y = 0 is inside.
#[test]
fn log_moments_uniform_match_closed_form() {
    for (lo, hi, lr) in [
        (-1.0, 1.0, 0.5),
        (-1.0, 3.0, 0.8),
        (0.5, 2.0, 1.2),
        (-3.0, -1.0, 0.3),
    ] {
        let (yl, yh) = (1.0 - lr * hi, 1.0 - lr * lo);
        let w = yh - yl;
        let mu = (p0(yh) - p0(yl)) / w;
        let m2 = (p2(yh) - p2(yl)) / w;
        let m = log_moments(&uniform(lo, hi, 1), lr).unwrap();
        assert_eq!(m.method, Method::Quadrature);
        assert!(
            close(m.mu, mu, 1e-11),
            "U[{lo},{hi}] λ={lr}: {} vs {mu}",
            m.mu
        );
        assert!(
            close(m.s2.unwrap(), m2 - mu * mu, 1e-10),
            "U[{lo},{hi}] λ={lr}"
        );
        assert!(m.mu_error < 1e-10);
    }
}

/// Uniform data, S = 2: x̄ has the triangular (Irwin–Hall 2) law, so y = 1 − λx̄ has a
/// triangular density on [y_lo, y_hi] with peak at the midpoint y_m, height 1/h (h = half
/// width), and E ln|y| = (1/h²)[∫_{y_lo}^{y_m}(y − y_lo) ln|y| + ∫_{y_m}^{y_hi}(y_hi − y) ln|y|]
/// in closed form with ∫(y − c) ln|y| = P₁ − cP₀.
#[test]
fn log_moments_uniform_batch_two_match_triangle() {
    for (lo, hi, lr) in [(-1.0, 1.0, 0.7), (0.0, 4.0, 0.6), (-2.0, 1.0, 0.25)] {
        let (yl, yh) = (1.0 - lr * hi, 1.0 - lr * lo);
        let h = 0.5 * (yh - yl);
        let ym = yl + h;
        let left = (p1(ym) - yl * p0(ym)) - (p1(yl) - yl * p0(yl));
        let right = -((p1(yh) - yh * p0(yh)) - (p1(ym) - yh * p0(ym)));
        let mu = (left + right) / (h * h);
        let m = log_moments(&uniform(lo, hi, 2), lr).unwrap();
        assert!(
            close(m.mu, mu, 1e-11),
            "U[{lo},{hi}] S=2 λ={lr}: {} vs {mu}",
            m.mu
        );
    }
}

/// Gaussian data centred so that 1 − λx̄ has mean 0: y ~ N(0, τ²), τ = λσ/√S, and
/// E ln|y| = ln τ − (γ_E + ln 2)/2, Var ln|y| = π²/8 (ln|Z| = ½ ln χ²₁, ψ′(½) = π²/2).
#[test]
fn log_moments_centred_gaussian_closed_form() {
    const EULER: f64 = 0.577_215_664_901_532_9;
    for (lr, sigma, s) in [(0.5, 1.0, 1usize), (0.8, 2.5, 4), (2.0, 0.1, 1)] {
        let m = log_moments(&gaussian(1.0 / lr, sigma, s), lr).unwrap();
        let tau = lr * sigma / (s as f64).sqrt();
        let mu = tau.ln() - 0.5 * (EULER + 2f64.ln());
        let pi = std::f64::consts::PI;
        assert!(
            close(m.mu, mu, 1e-11),
            "λ={lr} σ={sigma} S={s}: {} vs {mu}",
            m.mu
        );
        assert!(close(m.s2.unwrap(), pi * pi / 8.0, 1e-10), "{m:?}");
    }
}

/// Narrow Gaussian away from the singularity: with y = ν(1 + εZ),
/// E ln|y| = ln ν − ε²/2 − 3ε⁴/4 − 5ε⁶/2 − … (the moments of Z; the next term, 105ε⁸/8, is
/// 3·10⁻¹³ at ε = 0.02, and the singularity's share ~e^{−1/(2ε²)} is nil).
#[test]
fn log_moments_narrow_gaussian_series() {
    let (lr, mean) = (0.5, -1.0); // ν = 1.5
    let nu: f64 = 1.0 - lr * mean;
    let eps = 0.02;
    let std = eps * nu / lr;
    let series = nu.ln() - eps.powi(2) / 2.0 - 0.75 * eps.powi(4) - 2.5 * eps.powi(6);
    let m = log_moments(&gaussian(mean, std, 1), lr).unwrap();
    assert!(close(m.mu, series, 1e-12), "{} vs {series}", m.mu);
    // Var ln(1 + εZ) = ε² + (5/2)ε⁴ + O(ε⁶).
    let var = eps.powi(2) + 2.5 * eps.powi(4);
    assert!(close(m.s2.unwrap(), var, 1e-9), "{:?} vs {var}", m.s2);
}

#[test]
fn log_moments_reject_bad_arguments() {
    assert_eq!(arg_name(log_moments(&two_point(-1.0, 1), 0.0)), "lr");
    assert_eq!(arg_name(log_moments(&two_point(-1.0, 1), -0.1)), "lr");
    assert_eq!(arg_name(log_moments(&two_point(-1.0, 1), f64::NAN)), "lr");
    assert_eq!(arg_name(log_moments(&two_point(f64::NAN, 1), 0.5)), "a");
    assert_eq!(arg_name(log_moments(&two_point(-1.0, 0), 0.5)), "batch");
    assert_eq!(
        arg_name(log_moments(&discrete(&[1.0], &[0.5], 1), 0.5)),
        "probs"
    );
    assert_eq!(arg_name(log_moments(&gaussian(0.0, -1.0, 1), 0.5)), "std");
    assert_eq!(arg_name(log_moments(&uniform(1.0, 1.0, 1), 0.5)), "hi");
    assert!(matches!(
        log_moments(&uniform(0.0, 1.0, 25), 0.5),
        Err(TheoryError::TooLarge(_))
    ));
    let big = discrete(
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
        &[0.1; 10],
        16,
    );
    assert!(matches!(
        log_moments(&big, 0.5),
        Err(TheoryError::TooLarge(_))
    ));
    assert_eq!(
        BatchMean::from_noise(&big)
            .unwrap_err()
            .to_string()
            .split(':')
            .next(),
        Some("batch")
    );
}

// ---------------------------------------------------------------- phase (Prop. 2)

/// The closed-form roots (Eqs 85–87 and the cases a ≥ 1) and the numeric scan of μ(λ) agree to
/// 10⁻¹⁰ over a grid of a in [−1, 1] and beyond, with the same phases in between. The grid
/// keeps away from a = 4 − 2√2 ≈ 1.1716, where two roots merge into a tangential one that a
/// scan cannot see (and are closer than the scan step just below it).
#[test]
fn phase_closed_form_matches_numeric_scan() {
    let mut grid: Vec<f64> = linspace(-1.0, 1.0, 41);
    grid.extend([
        -5.0, -2.0, -1.5, 1.02, 1.05, 1.1, 1.15, 1.3, 2.0, 3.0, 6.0, 7.0, 8.0, 12.0,
    ]);
    for a in grid {
        let closed = two_point_phase(a, 0.0, 12.0).unwrap();
        let numeric = numeric_phase(&two_point(a, 1), 0.0, 12.0, 4000).unwrap();
        assert_eq!(
            closed.roots.len(),
            numeric.roots.len(),
            "a={a}: {:?} vs {:?}",
            closed.roots,
            numeric.roots
        );
        for (c, n) in closed.roots.iter().zip(&numeric.roots) {
            assert!(close(*c, *n, 1e-10 * c.max(1.0)), "a={a}: {c} vs {n}");
            assert!(two_point_mu(a, *c).abs() < 1e-13, "a={a}: μ({c}) ≠ 0");
        }
        assert_eq!(closed.poles, numeric.poles, "a={a}");
        let phases = |d: &saddle::theory::phase::PhaseDiagram| -> Vec<Phase> {
            d.intervals.iter().map(|i| i.phase).collect()
        };
        assert_eq!(phases(&closed), phases(&numeric), "a={a}");
        // The labels are the sign of μ inside each interval.
        for iv in &closed.intervals {
            for f in [0.1, 0.5, 0.9] {
                let l = iv.lo + f * (iv.hi - iv.lo);
                let m = two_point_mu(a, l);
                if l > 0.0 && m.abs() > 1e-12 {
                    assert_eq!(m > 0.0, iv.phase == Phase::Escape, "a={a} λ={l} μ={m}");
                }
            }
        }
    }
}

/// For a < 0 the trapped set is exactly Eq. 7's interval; a = −1 gives (½, (1 + √17)/4).
#[test]
fn phase_eq7_for_negative_a() {
    let (lo, hi) = eq7_bounds(-1.0).unwrap();
    assert!(close(lo, 0.5, 1e-16) && close(hi, (1.0 + 17f64.sqrt()) / 4.0, 1e-15));
    for a in linspace(-3.0, -0.01, 30) {
        let d = two_point_phase(a, 0.0, 20.0).unwrap();
        let (lo, hi) = eq7_bounds(a).unwrap();
        assert_eq!(d.roots.len(), 2, "a={a}");
        assert!(
            close(d.roots[0], lo, 1e-14) && close(d.roots[1], hi, 1e-14),
            "a={a}"
        );
        let ph: Vec<Phase> = d.intervals.iter().map(|i| i.phase).collect();
        assert_eq!(
            ph,
            vec![Phase::Escape, Phase::Trapped, Phase::Escape],
            "a={a}"
        );
        assert_eq!(d.poles, vec![1.0]);
    }
    // 0 ≤ a < 1: the lower bound is ≤ 0, small λ is trapped.
    let d = two_point_phase(0.5, 0.0, 5.0).unwrap();
    assert_eq!(d.intervals[0].phase, Phase::Trapped);
    assert_eq!(d.roots.len(), 1);
    // a = 1: the q = −1 equation is linear, λ = 2.
    assert_eq!(two_point_roots(1.0).unwrap(), vec![2.0]);
    // Between 4 − 2√2 and 4 + 2√2 only λ = a/(a − 1) remains.
    assert_eq!(two_point_roots(3.0).unwrap(), vec![1.5]);
    assert_eq!(arg_name(eq7_bounds(1.0)), "a");
    assert_eq!(arg_name(two_point_phase(-1.0, 2.0, 1.0)), "range");
}

/// The orange line of Figs 3 and 7 on the grid of experiments/fig3-left.toml.
#[test]
fn phase_boundary_line_of_fig3() {
    let pts = boundary_line(&linspace(-1.0, 1.0, 64), 0.02, 2.0).unwrap();
    assert_eq!(pts.len(), 64);
    for p in &pts {
        if p.a < 0.0 {
            let (lo, hi) = eq7_bounds(p.a).unwrap();
            let want: Vec<f64> = [lo, hi].into_iter().filter(|r| *r >= 0.02).collect();
            assert_eq!(p.roots.len(), want.len(), "a={}", p.a);
            for (r, w) in p.roots.iter().zip(&want) {
                assert!(close(*r, *w, 1e-15), "a={}: {r} vs {w}", p.a);
            }
        } else {
            // One root: (a − √D)/(2(a − 1)) ∈ (√2, 2] for 0 ≤ a ≤ 1.
            assert_eq!(p.roots.len(), 1, "a={}: {:?}", p.a, p.roots);
        }
    }
    assert!(close(pts[0].roots[0], 0.5, 1e-15));
}

/// Any noise: the scan finds the roots of μ for Gaussian data (quadrature), where μ changes
/// sign. x ~ N(−0.2, 1): w = 0 is a maximum, yet μ < 0 for λ between about 0.4 and 1.2 (App.
/// B.2, Prop. 7).
#[test]
fn phase_numeric_for_gaussian_noise() {
    let noise = gaussian(-0.2, 1.0, 1);
    let d = numeric_phase(&noise, 0.0, 3.0, 300).unwrap();
    assert_eq!(d.roots.len(), 2, "{:?}", d.roots);
    let ph: Vec<Phase> = d.intervals.iter().map(|i| i.phase).collect();
    assert_eq!(ph, vec![Phase::Escape, Phase::Trapped, Phase::Escape]);
    let law = BatchMean::from_noise(&noise).unwrap();
    for r in &d.roots {
        let m = law.mu(*r).unwrap();
        assert!(m.abs() < 1e-10, "μ({r}) = {m}");
        let (l, h) = (law.mu(r - 1e-4).unwrap(), law.mu(r + 1e-4).unwrap());
        assert!(l * h < 0.0, "no sign change at {r}");
    }
}

// ---------------------------------------------------------------- escape rate (Prop. 3)

/// Eqs 89–90 against numeric maximisation of the exact μ over (0, 1].
#[test]
fn escape_rate_closed_matches_numeric() {
    for a in [-3.0, -1.0, -0.5, -0.25, -0.1, -0.05] {
        let c = two_point_optimum(a).unwrap();
        let n = numeric_optimum(&two_point(a, 1), 1.0, 2000).unwrap();
        assert!(n.interior);
        assert!(
            close(c.lr_star, n.lr_star, 1e-10),
            "a={a}: {} vs {}",
            c.lr_star,
            n.lr_star
        );
        assert!(close(c.gamma_star, n.gamma_star, 1e-14), "a={a}");
        assert!(close(c.gamma_star, two_point_mu(a, c.lr_star), 1e-15));
    }
    // The numbers quoted in experiments/fig3-right.toml.
    // (a, γ* as quoted, half a unit of its last digit, λ*)
    for (a, g, tol, l) in [
        (-1.0, 0.0589, 5e-5, 0.25),
        (-0.5, 0.0204, 5e-5, 1.0 / 6.0),
        (-0.25, 0.0062, 5e-5, 0.1),
        (-0.1, 0.00114, 5e-6, 0.1 / 2.2),
    ] {
        let c = two_point_optimum(a).unwrap();
        assert!(close(c.gamma_star, g, tol), "a={a}: {}", c.gamma_star);
        assert!(close(c.lr_star, l, 1e-15), "a={a}");
    }
    assert!(matches!(
        two_point_optimum(0.0),
        Err(TheoryError::NoSolution(_))
    ));
    assert!(matches!(
        two_point_optimum(0.5),
        Err(TheoryError::NoSolution(_))
    ));
    // For a ≥ 0 the numeric maximum sits at the lower end, just below 0.
    let n = numeric_optimum(&two_point(0.5, 1), 1.0, 500).unwrap();
    assert!(!n.interior && n.gamma_star < 0.0 && n.gamma_star > -1e-8);
}

/// Eq. 91 is exact: γ*(−bound(ε)) = ε, below it γ* < ε, above it γ* > ε.
#[test]
fn escape_rate_eq91_boundary() {
    for eps in [1e-6, 1e-4, 1e-2, 0.1, 1.0] {
        let b = eq91_bound(eps).unwrap();
        assert!(
            close(gamma_star(-b), eps, 1e-12 * eps),
            "ε={eps}: {}",
            gamma_star(-b)
        );
        assert!(gamma_star(-0.99 * b) < eps && gamma_star(-1.01 * b) > eps);
        let s = slow_escape(eps).unwrap();
        assert!(close(s.gamma_star_at_bound, eps, 1e-12 * eps));
    }
    assert_eq!(arg_name(eq91_bound(0.0)), "epsilon");
}

/// Gaussian data: the numeric optimum is a maximum of μ (quadrature).
#[test]
fn escape_rate_numeric_gaussian() {
    let noise = gaussian(-0.5, 1.0, 1);
    let n = numeric_optimum(&noise, 1.0, 200).unwrap();
    assert_eq!(n.method, Method::Quadrature);
    let law = BatchMean::from_noise(&noise).unwrap();
    if n.interior {
        for h in [1e-3, 1e-2] {
            assert!(law.mu(n.lr_star - h).unwrap() <= n.gamma_star);
            assert!(law.mu(n.lr_star + h).unwrap() <= n.gamma_star);
        }
    }
    assert!(n.gamma_star > 0.0);
}

// ---------------------------------------------------------------- escape probability

/// The exact count-vector sum against all n^t sequences of noise, simulated by multiplying
/// w by 1 − λx̄ step by step (point and uniform w₀).
#[test]
fn escape_probability_matches_brute_force() {
    struct Case {
        noise: NoiseLaw,
        // values and probabilities of x̄ per step
        xbar: Vec<(f64, f64)>,
        lr: f64,
        t: usize,
    }
    let cases = vec![
        Case {
            noise: two_point(-1.0, 1),
            xbar: vec![(1.0, 0.5), (-2.0, 0.5)],
            lr: 0.8,
            t: 12,
        },
        Case {
            noise: discrete(&[1.0, -0.5, 2.5], &[0.5, 0.3, 0.2], 1),
            xbar: vec![(1.0, 0.5), (-0.5, 0.3), (2.5, 0.2)],
            lr: 0.6,
            t: 8,
        },
        Case {
            // batch 2: x̄ ∈ {1, −0.5, −2} with probabilities ¼, ½, ¼.
            noise: two_point(-1.0, 2),
            xbar: vec![(1.0, 0.25), (-0.5, 0.5), (-2.0, 0.25)],
            lr: 0.7,
            t: 8,
        },
        Case {
            // λ = 1: x = 1 sets w to 0 (never escaped).
            noise: two_point(-0.5, 1),
            xbar: vec![(1.0, 0.5), (-1.5, 0.5)],
            lr: 1.0,
            t: 10,
        },
    ];
    for c in cases {
        for (init, delta) in [
            (Init::Point { w0: 0.7 }, 0.3),
            (Init::Point { w0: -0.2 }, 1.1),
            (Init::Uniform { lo: -1.0, hi: 1.0 }, 0.05),
            (Init::Uniform { lo: -0.3, hi: 1.7 }, 0.5),
        ] {
            let mut want = 0.0;
            for seq in sequences(c.xbar.len(), c.t) {
                let mut f = 1.0f64;
                let mut p = 1.0;
                for &i in &seq {
                    f *= 1.0 - c.lr * c.xbar[i].0;
                    p *= c.xbar[i].1;
                }
                let f = f.abs();
                want += p * if f == 0.0 { 0.0 } else { init.tail(delta / f) };
            }
            let got = escape_probability(&c.noise, c.lr, c.t as u64, delta, &init).unwrap();
            let e = got.exact.unwrap();
            assert!(
                close(e, want, 1e-13),
                "λ={} t={} {init:?} δ={delta}: {e} vs {want}",
                c.lr,
                c.t
            );
            assert!(got.exact_error.unwrap() < 1e-11);
        }
    }
    let z =
        escape_probability(&two_point(-0.5, 1), 1.0, 10, 0.1, &Init::Point { w0: 1.0 }).unwrap();
    assert!(close(z.zero_probability, 1.0 - 0.5f64.powi(10), 1e-15));
    assert_eq!(z.lognormal, None);
}

/// The exact P(|w_T| ≥ δ) against the engine (`[observe] escape`), which counts a diverged run
/// as escaped and an exact 0 as not, within 4 binomial standard errors √(p(1 − p)/R) of the
/// exact p. Divergence (bound 10⁵⁰) and absorption (2⁻⁹⁶⁹) cannot happen in 20 steps with
/// factors in [0.1, 2.8].
#[test]
fn escape_probability_matches_engine() {
    let runs = 20_000u64;
    let cases = [
        (
            "kind = \"two-point\"\na = -1.0",
            two_point(-1.0, 1),
            0.8,
            "kind = \"uniform\"\nlo = -1.0\nhi = 1.0",
            Init::Uniform { lo: -1.0, hi: 1.0 },
            0.05,
        ),
        (
            "kind = \"discrete\"\nvalues = [1.0, -1.5, 0.5]\nprobs = [0.5, 0.3, 0.2]",
            discrete(&[1.0, -1.5, 0.5], &[0.5, 0.3, 0.2], 1),
            0.5,
            "kind = \"uniform\"\nlo = -1.0\nhi = 1.0",
            Init::Uniform { lo: -1.0, hi: 1.0 },
            0.05,
        ),
        (
            "kind = \"discrete\"\nvalues = [1.0, -1.5, 0.5]\nprobs = [0.5, 0.3, 0.2]",
            discrete(&[1.0, -1.5, 0.5], &[0.5, 0.3, 0.2], 1),
            0.5,
            "kind = \"point\"\nw = 0.5",
            Init::Point { w0: 0.5 },
            0.1,
        ),
        (
            "kind = \"two-point\"\na = -1.0\nbatch = 2",
            two_point(-1.0, 2),
            0.9,
            "kind = \"uniform\"\nlo = -1.0\nhi = 1.0",
            Init::Uniform { lo: -1.0, hi: 1.0 },
            0.05,
        ),
    ];
    let steps = 20u64;
    for (k, (noise_toml, noise, lr, init_toml, init, delta)) in cases.into_iter().enumerate() {
        let toml = format!(
            "seed = {}\nruns = {runs}\nsteps = {steps}\n[model]\nkind = \"quadratic\"\n\
             [noise]\n{noise_toml}\n[init]\n{init_toml}\n[optimizer]\nkind = \"sgd\"\nlr = {lr}\n\
             [observe]\nescape = {{ delta = {delta} }}\n",
            100 + k
        );
        let s = go(&toml);
        let mc = s.escape.as_ref().unwrap().value;
        let p = escape_probability(&noise, lr, steps, delta, &init)
            .unwrap()
            .exact
            .unwrap();
        let se = (p * (1.0 - p) / runs as f64).sqrt();
        assert!(
            p > 0.05 && p < 0.95,
            "case {k}: p = {p} too extreme for a useful check"
        );
        assert!(
            (mc - p).abs() <= 4.0 * se,
            "case {k}: engine {mc} vs exact {p} (4 se = {})",
            4.0 * se
        );
        assert_eq!(s.diverged, 0);
    }
}

/// Lemma 1's log-normal approximation against the exact probability, within the Berry–Esseen
/// bound: for a point w₀, P(|w_t| ≥ δ) = P(S_t ≥ ln(δ/|w₀|)) with S_t a sum of t i.i.d. steps,
/// and sup_x |P(S_t ≤ x) − Φ((x − tμ)/(s√t))| ≤ 0.4748·ρ/(s³√t), ρ = E|ln|1 − λx̄| − μ|³
/// (Shevtsova 2011); the bound holds for both P(S < x) and P(S ≤ x), so for "≥" too, and
/// averages over w₀.
#[test]
fn escape_probability_lognormal_within_berry_esseen() {
    let vals = [1.0, -1.5, 0.5];
    let probs = [0.5, 0.3, 0.2];
    let lr = 0.5;
    let noise = discrete(&vals, &probs, 1);
    let m = log_moments(&noise, lr).unwrap();
    let s = m.s2.unwrap().sqrt();
    let rho: f64 = vals
        .iter()
        .zip(probs)
        .map(|(v, p)| p * ((1.0f64 - lr * v).abs().ln() - m.mu).abs().powi(3))
        .sum();
    for t in [50u64, 200, 400] {
        let bound = 0.4748 * rho / (s.powi(3) * (t as f64).sqrt());
        // δ where the probability is about Φ̄(½) ≈ 0.3, so that the comparison is not between
        // two numbers near 0 or 1.
        let delta = (t as f64 * m.mu + 0.5 * s * (t as f64).sqrt()).exp();
        for init in [Init::Point { w0: 1.0 }, Init::Uniform { lo: -1.0, hi: 1.0 }] {
            let r = escape_probability(&noise, lr, t, delta, &init).unwrap();
            let (e, l) = (r.exact.unwrap(), r.lognormal.unwrap());
            assert!(e > 0.05 && e < 0.95, "t={t}: {e}");
            assert!(
                (e - l).abs() <= bound,
                "t={t} {init:?}: exact {e} vs log-normal {l}, bound {bound}"
            );
        }
    }
    // Continuous data: no exact sum, the approximation only.
    let g = escape_probability(
        &gaussian(-0.5, 1.0, 1),
        0.5,
        10,
        0.1,
        &Init::Point { w0: 1.0 },
    )
    .unwrap();
    assert!(g.exact.is_none() && g.lognormal.is_some());
}

#[test]
fn escape_probability_rejects_bad_arguments() {
    let n = two_point(-1.0, 1);
    let init = Init::Point { w0: 1.0 };
    assert_eq!(
        arg_name(escape_probability(&n, 0.5, 10, 0.0, &init)),
        "delta"
    );
    assert_eq!(arg_name(escape_probability(&n, 0.0, 10, 0.1, &init)), "lr");
    assert_eq!(
        arg_name(escape_probability(
            &n,
            0.5,
            10,
            0.1,
            &Init::Point { w0: f64::NAN }
        )),
        "w0"
    );
    assert_eq!(
        arg_name(escape_probability(
            &n,
            0.5,
            10,
            0.1,
            &Init::Uniform { lo: 1.0, hi: 0.0 }
        )),
        "hi"
    );
    let three = discrete(&[1.0, -0.5, 2.5], &[0.5, 0.3, 0.2], 1);
    assert!(matches!(
        escape_probability_with_cap(&three, 0.5, 100, 0.1, &init, 1000),
        Err(TheoryError::TooLarge(_))
    ));
}

// ---------------------------------------------------------------- sharp vs flat (Prop. 4)

/// Eq. 11's minima, Hessians and sharpnesses against central differences of the engine's model
/// (`SharpFlat::expected_loss` with E x = 0): gradient 0, Hessian to 10⁻⁵ (h = 10⁻³: truncation
/// h²·L⁗/12 ≈ 2·10⁻⁶, rounding ε/h² ≈ 2·10⁻¹⁰).
#[test]
fn sharp_flat_minima_and_hessians() {
    let a = 0.5;
    let th = sharp_flat(a, Some(0.05)).unwrap();
    let model = SharpFlat { a, b: 14.0 };
    let mom = Moments {
        mean_x: 0.0,
        m2_x: 1.0,
        mean_y: 0.0,
        m2_y: 0.0,
    };
    let l = |w: [f64; 2]| model.expected_loss(&w, &mom).unwrap();
    let h = 1e-3;
    for m in &th.minima {
        let w = m.w;
        assert!(close(l(w), m.loss, 1e-15), "{m:?}");
        for i in 0..2 {
            let mut wp = w;
            let mut wm = w;
            wp[i] += h;
            wm[i] -= h;
            let g = (l(wp) - l(wm)) / (2.0 * h);
            assert!(g.abs() < 1e-5, "gradient at {w:?}: {g}");
            for j in 0..2 {
                let e = |si: f64, sj: f64| {
                    let mut x = w;
                    x[i] += si * h;
                    x[j] += sj * h;
                    l(x)
                };
                let d = (e(1.0, 1.0) - e(1.0, -1.0) - e(-1.0, 1.0) + e(-1.0, -1.0)) / (4.0 * h * h);
                assert!(
                    close(d, m.hessian[i][j], 1e-5),
                    "H[{i}][{j}] at {w:?}: {d} vs {}",
                    m.hessian[i][j]
                );
            }
        }
        match m.kind {
            MinimumKind::Flat => {
                assert!(
                    close(m.eq11_sharpness, 4.0, 1e-14) && close(m.trace, 8.0 - 2.0 * a, 1e-14)
                );
                assert!(close(m.loss, -0.25, 1e-15));
            }
            MinimumKind::Sharp => {
                assert!(close(m.eq11_sharpness, 4.0 + 4.0 * a, 1e-14));
                assert!(close(m.trace, 8.0 + 10.0 * a, 1e-14));
                assert!(close(m.w[1].abs(), (0.5 * (1.0 + a)).sqrt(), 1e-15));
            }
        }
    }
    assert_eq!(arg_name(sharp_flat(2.5, None)), "a");
}

/// Prop. 4's bounds: Eq. 99 as printed, (1 + √6)/20, is the root of Eq. 98 as printed; the bound
/// that follows from Eq. 97's factors is (2 − √2)/8; both closed forms equal the numeric roots.
#[test]
fn sharp_flat_learning_rate_bounds() {
    let th = sharp_flat(0.5, None).unwrap();
    assert!(close(th.lr_bound_paper, 0.172_474_487_139_158_9, 1e-15));
    assert!(close(th.lr_bound, 0.073_223_304_703_363_13, 1e-15));
    assert!(
        close(th.lr_bound_numeric, lr_bound(), 1e-13),
        "{}",
        th.lr_bound_numeric
    );
    assert!(close(th.lr_bound_paper_numeric, lr_bound_paper(), 1e-13));
    // Fig. 4's λ = 0.05 (b = 14): r₊ = 0.4, r₋ = 1.8, E ln r = ½ ln 0.72 < 0.
    let c = contraction(0.05).unwrap();
    assert!(close(c.b, 14.0, 1e-13) && close(c.r_plus, 0.4, 1e-15) && close(c.r_minus, 1.8, 1e-15));
    assert!(close(c.mean_ln_r, 0.5 * 0.72f64.ln(), 1e-15) && c.sharp_guaranteed);
    // λ = 0.1: Eq. 98 as printed says contracting (½ ln 0.64), Eq. 97's factors do not (½ ln 1.28).
    let c = contraction(0.1).unwrap();
    assert!(c.mean_ln_r_eq98 < 0.0 && c.mean_ln_r > 0.0 && !c.sharp_guaranteed);
}

/// Eqs 94–97: one SGD step of the engine's model multiplies w₁ by at most r(x) in absolute value
/// over the box |w₁|, |w₂| ≤ 1, and the bound is attained at its corners.
#[test]
fn sharp_flat_contraction_bounds_the_step() {
    for lr in [0.03, 0.05, 0.1] {
        let c = contraction(lr).unwrap();
        let model = SharpFlat { a: 0.5, b: c.b };
        for (x, r) in [(1.0, c.r_plus), (-1.0, c.r_minus)] {
            let mut worst = 0.0f64;
            // The sup over w₁ ≠ 0 is approached as w₁ → 0: include w₁ = 10⁻⁹.
            let mut axis = linspace(-1.0, 1.0, 41);
            axis.push(1e-9);
            for w in axis.iter().flat_map(|u| {
                linspace(-1.0, 1.0, 41)
                    .into_iter()
                    .map(move |v| [*u, v])
                    .collect::<Vec<_>>()
            }) {
                if w[0] == 0.0 {
                    continue;
                }
                let mut g = [0.0; 2];
                model.grad_acc(&w, &Sample { x, y: 0.0 }, 1.0, &mut g);
                let ratio = ((w[0] - lr * g[0]) / w[0]).abs();
                assert!(ratio <= r + 1e-12, "λ={lr} x={x} w={w:?}: {ratio} > {r}");
                worst = worst.max(ratio);
            }
            assert!(close(worst, r, 1e-12), "λ={lr} x={x}: max {worst} vs r {r}");
        }
    }
}

// ---------------------------------------------------------------- AMSGrad (Prop. 5)

/// Eq. 115's interval in λ′ is Prop. 2's trapped interval, found by the numeric scan; for
/// Fig. 5's a = −0.1, λ = 0.2 the trapping c lie in [(0.2/λ′_hi)², (0.2/λ′_lo)²] ∩ (0, 1.1²].
#[test]
fn amsgrad_interval_is_the_trapped_interval() {
    for a in [-3.0, -1.0, -0.5, -0.1, -0.01] {
        let t = amsgrad_trap(a, None).unwrap();
        let d = numeric_phase(&two_point(a, 1), 0.0, 10.0, 2000).unwrap();
        let trapped: Vec<_> = d
            .intervals
            .iter()
            .filter(|i| i.phase == Phase::Trapped)
            .collect();
        assert_eq!(trapped.len(), 1, "a={a}");
        assert!(close(trapped[0].lo, t.lr_prime_lo, 1e-10), "a={a}");
        assert!(close(trapped[0].hi, t.lr_prime_hi, 1e-10), "a={a}");
        assert!(close(t.grad_bound, 1.0 - a, 1e-15) && close(t.grad_bound_eq100, 1.0 + a, 1e-15));
    }
    let t = amsgrad_trap(-0.1, Some(0.2)).unwrap();
    let (lo, hi): (f64, f64) = (0.1 / 1.1, 4.0 / (-0.1 + 8.81f64.sqrt()));
    let [c_lo, c_hi] = t.c_range.unwrap();
    assert!(close(c_lo, (0.2 / hi).powi(2), 1e-15) && close(c_hi, 1.21, 1e-15));
    assert!((0.2 / lo).powi(2) > 1.21);
    // Every λ′ = λ/√c with c in the range has μ(λ′) ≤ 0.
    for c in linspace(c_lo, c_hi, 50) {
        assert!(two_point_mu(-0.1, 0.2 / c.sqrt()) <= 1e-14, "c={c}");
    }
    // A λ so large that even c_max leaves λ′ above the interval: nothing traps.
    assert_eq!(amsgrad_trap(-0.1, Some(2.0)).unwrap().c_range, None);
    assert_eq!(arg_name(amsgrad_trap(1.0, None)), "a");
    assert_eq!(arg_name(amsgrad_trap(-0.1, Some(-1.0))), "lr");
}

// ---------------------------------------------------------------- Kesten tail exponent

/// |1 − λx| ∈ {¼, 2} with probability ½: ½(4^{−κ} + 2^κ) = 1, z = 2^κ solves
/// z³ − 2z² + 1 = (z − 1)(z² − z − 1) = 0, so 2^κ is the golden ratio.
#[test]
fn kesten_golden_ratio() {
    // λ = ½: x = 1.5 gives ¼, x = 6 gives −2.
    let k = tail_exponent(&discrete(&[1.5, 6.0], &[0.5, 0.5], 1), 0.5).unwrap();
    let want = ((1.0 + 5f64.sqrt()) / 2.0).log2();
    assert!(close(k.kappa, want, 1e-14), "{} vs {want}", k.kappa);
    assert_eq!(k.method, Method::Exact);
    assert!(close(k.expanding_probability, 0.5, 0.0));
}

/// Fig. 9 (a = −1, λ = 0.8): ½(0.2^κ + 2.6^κ) = 1 at κ ≈ 0.416.
#[test]
fn kesten_fig9() {
    let k = tail_exponent(&two_point(-1.0, 1), 0.8).unwrap();
    assert!(close(k.kappa, 0.416, 5e-4), "{}", k.kappa);
    let resid = 0.5 * (0.2f64.powf(k.kappa) + 2.6f64.powf(k.kappa)) - 1.0;
    assert!(resid.abs() < 1e-15, "{resid}");
    assert!(close(k.mu, 0.5 * 0.52f64.ln(), 1e-15));
}

/// Centred Gaussian y ~ N(0, τ²): E|y|^κ = τ^κ 2^{κ/2} Γ((κ + 1)/2)/√π, solved independently by
/// bisection on the log of this closed form, against the quadrature-based root.
#[test]
fn kesten_centred_gaussian_closed_form() {
    use statrs::function::gamma::ln_gamma;
    for (lr, sigma) in [(0.5, 2.4), (1.0, 1.5), (0.25, 4.0)] {
        let tau: f64 = lr * sigma;
        let g = |k: f64| {
            k * tau.ln() + 0.5 * k * 2f64.ln() + ln_gamma(0.5 * (k + 1.0))
                - 0.5 * std::f64::consts::PI.ln()
        };
        // μ = ln τ − (γ_E + ln 2)/2 < 0 here; g(0) = 0, g < 0 then > 0.
        let (mut lo, mut hi) = (1e-6, 50.0);
        assert!(g(lo) < 0.0 && g(hi) > 0.0);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if g(mid) < 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let k = tail_exponent(&gaussian(1.0 / lr, sigma, 1), lr).unwrap();
        assert_eq!(k.method, Method::Quadrature);
        assert!(close(k.kappa, lo, 1e-9), "τ={tau}: {} vs {lo}", k.kappa);
        assert!(k.kappa_error < 1e-9);
    }
}

#[test]
fn kesten_errors() {
    // Escape phase (μ > 0 at a = −1, λ = 0.25): no stationary law.
    assert!(matches!(
        tail_exponent(&two_point(-1.0, 1), 0.25),
        Err(TheoryError::NoSolution(_))
    ));
    // |1 − λx| ∈ {0, ½}: never expanding, κ = ∞.
    assert!(matches!(
        tail_exponent(&discrete(&[1.0, 0.5], &[0.5, 0.5], 1), 1.0),
        Err(TheoryError::NoSolution(_))
    ));
    // Uniform data with |1 − λx| ≤ 1 everywhere.
    assert!(matches!(
        tail_exponent(&uniform(0.5, 1.5, 1), 1.0),
        Err(TheoryError::NoSolution(_))
    ));
    assert_eq!(arg_name(tail_exponent(&two_point(-1.0, 1), 0.0)), "lr");
}

/// Without injected noise, |w_t|^κ is a martingale: E|w_t|^κ = |w₀|^κ (E|1 − λx|^κ)^t = |w₀|^κ.
/// The engine's ensemble mean of |w_T|^κ (w₀ = 1, T = 10, a = −1, λ = 0.8) must be 1 within 4
/// sample standard errors; at T = 10 the variance (E|A|^{2κ})^T − 1 ≈ 7.5 is finite and the
/// fourth moment too, so the CLT applies. A κ off by 0.01 would shift the mean by
/// ≈ e^{10·0.01·f′(κ)} − 1 ≈ 3%, about 3.5 standard errors.
#[test]
fn kesten_martingale_in_the_engine() {
    let k = tail_exponent(&two_point(-1.0, 1), 0.8).unwrap().kappa;
    let s = go(
        "seed = 7\nruns = 100000\nsteps = 10\n[model]\nkind = \"quadratic\"\n\
         [noise]\nkind = \"two-point\"\na = -1.0\n[init]\nkind = \"point\"\nw = 1.0\n\
         [optimizer]\nkind = \"sgd\"\nlr = 0.8\n[observe]\nfinal_states = true\n",
    );
    let v: Vec<f64> = s
        .final_states
        .unwrap()
        .iter()
        .map(|f| f.w[0].abs().powf(k))
        .collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    let se = (var / n).sqrt();
    assert!(
        (mean - 1.0).abs() <= 4.0 * se,
        "mean |w_T|^κ = {mean} ± {se}"
    );
    // The exact variance (E|A|^{2κ})^T − 1, as a check that the standard error is the right
    // size (the sample variance's own standard error, from E|A|^{4κ}, is about 4%).
    let m2 = (0.5 * (0.2f64.powf(2.0 * k) + 2.6f64.powf(2.0 * k))).powi(10) - 1.0;
    assert!(close(var, m2, 0.5 * m2), "sample variance {var} vs {m2}");
}

// ---------------------------------------------------------------- extreme inputs

/// The positive roots of |(1 − λ)(1 − λ(a − 1))| = 1 (Eqs 85–86), from mpmath at 50 digits.
#[allow(clippy::excessive_precision, clippy::redundant_guards)] // mpmath's digits; float keys
fn closed_roots_reference(a: f64) -> Vec<f64> {
    match a {
        x if x == 1e10 => vec![
            2.0000000004000000001e-10,
            0.99999999989999999997,
            1.0000000001,
        ],
        x if x == -1e10 => vec![0.99999999990000000001, 1.0000000001],
        x if x == 1e-10 => vec![1.4142135623938057269],
        x if x == -1e-10 => vec![9.9999999990000000001e-11, 1.4142135623523843707],
        x if x == -1.0 => vec![0.5, 1.2807764064044151375],
        x if x == 0.5 => vec![1.5615528128088302749],
        x if x == 10.0 => vec![
            0.26158318765948993439,
            0.84952792345162117672,
            1.1111111111111111111,
        ],
        _ => unreachable!(),
    }
}

/// The numeric scan finds every root of the closed form, to rounding, at any scale of a: the
/// roots 10⁻¹⁰ apart around the pole λ = 1 for a = ±10¹⁰, the root 2·10⁻¹⁰ next to the pole
/// 10⁻¹⁰, the root 10⁻¹⁰ near λ = 0 for a = −10⁻¹⁰.
///
/// The closed form is held to 10⁻¹⁴ relative. A scan of μ can place a root no closer than
/// μ's own rounding allows: μ = Σ p ln|1 − λx| is summed with an absolute error up to
/// ~ε Σ p |ln|1 − λx||, which moves the sign change by that over |μ'(λ)|. At λ = 10⁻¹⁰
/// (a = −10⁻¹⁰) the two terms are ±10⁻¹⁰ and cancel to 10⁻²⁰, so that bound is ~10⁻⁵
/// relative; elsewhere it is below 10⁻¹⁴.
#[test]
fn phase_scan_finds_closed_form_roots_at_every_scale() {
    for a in [1e10, -1e10, 1e-10, -1e-10, -1.0, 0.5, 10.0] {
        let want = closed_roots_reference(a);
        let closed = two_point_phase(a, 0.0, 2.0).unwrap();
        let law = BatchMean::from_noise(&two_point(a, 1)).unwrap();
        let num = numeric_phase(&two_point(a, 1), 0.0, 2.0, 4000).unwrap();
        let (values, probs) = law.atoms().unwrap();
        let rounding = |l: f64| {
            let terms: f64 = values
                .iter()
                .zip(probs)
                .map(|(x, p)| p * (1.0 - l * x).abs().ln().abs())
                .sum();
            16.0 * f64::EPSILON * terms / law.mu_derivative(l).unwrap().abs()
        };
        for (name, got) in [("closed", &closed.roots), ("numeric", &num.roots)] {
            assert_eq!(
                got.len(),
                want.len(),
                "a = {a}, {name}: {got:?} vs {want:?}"
            );
            for (g, w) in got.iter().zip(&want) {
                let tol = 1e-14 * w + if name == "numeric" { rounding(*w) } else { 0.0 };
                assert!(
                    (g - w).abs() <= tol,
                    "a = {a}, {name}: {got:?} vs {want:?} (tolerance {tol:e})"
                );
            }
        }
    }
}

/// A grid of 10⁷ points (step 2·10⁻⁷) finds both roots of a = −1, once each: rounding near
/// λ = ½ does not hide the sign change, nor split the root.
#[test]
fn phase_scan_on_a_very_fine_grid_keeps_every_root() {
    let num = numeric_phase(&two_point(-1.0, 1), 0.0, 2.0, 10_000_000).unwrap();
    assert_eq!(num.roots.len(), 2, "{:?}", num.roots);
    assert!((num.roots[0] - 0.5).abs() < 1e-15, "{:?}", num.roots);
    assert!(
        (num.roots[1] - 1.280_776_406_404_415_2).abs() < 4e-16,
        "{:?}",
        num.roots
    );
    // The touch point at a = 4 − 2√2: a double root of q = −1 at λ = a/(2(a − 1)) = 2 + √2,
    // with the root a/(a − 1) = 4 + 2√2 beyond it. At the float nearest 4 − 2√2 the double
    // root splits by rounding into two roots ~10⁻⁷ apart, between which μ stays within its
    // rounding: a scan sees one root there. A double root moves by ~√(ε/|q''|) under
    // rounding of the coefficients, so both are held to 8√ε·λ.
    let a = 4.0 - 2.0 * 2f64.sqrt();
    let num = numeric_phase(&two_point(a, 1), 0.0, 8.0, 4000).unwrap();
    let want = [2.0 + 2f64.sqrt(), 4.0 + 2.0 * 2f64.sqrt()];
    assert_eq!(num.roots.len(), 2, "{:?} vs {want:?}", num.roots);
    for (g, w) in num.roots.iter().zip(&want) {
        let tol = 8.0 * f64::EPSILON.sqrt() * w;
        assert!((g - w).abs() < tol, "{:?} vs {want:?}", num.roots);
    }
    let closed = two_point_roots(a).unwrap();
    assert!(
        closed.len() == 3 && (closed[1] - closed[0]) < 8.0 * f64::EPSILON.sqrt() * want[0],
        "{closed:?}"
    );
}

/// The grid is bounded before any work: too small, too large, and work beyond the limit.
#[test]
fn phase_scan_grid_is_bounded() {
    for g in [0, 1, saddle::numeric::MAX_GRID + 1, usize::MAX] {
        assert_eq!(
            arg_name(numeric_phase(&two_point(-1.0, 1), 0.0, 2.0, g)),
            "grid"
        );
    }
    // 10⁶ atoms × 10⁸ points: refused as too large, before scanning.
    let many: Vec<f64> = (0..1000).map(|i| -1.0 - i as f64).collect();
    let probs = vec![1e-3; 1000];
    let r = numeric_phase(
        &discrete(&many, &probs, 1),
        0.0,
        2.0,
        saddle::numeric::MAX_GRID,
    );
    assert!(
        matches!(r, Err(TheoryError::TooLarge(ref m)) if m.starts_with("grid")),
        "{r:?}"
    );
}

/// Overflow never flips the answer: values ±10²⁰⁰ at λ = 10¹⁵⁰ multiply w by ~10³⁵⁰ every step
/// (every run diverges), so μ = ln(10³⁵⁰) = 805.9 > 0, not −∞; one ulp above λ = 1 the factor
/// 1 − λ is −2⁻⁵² ≠ 0, so μ is Eq. 83's finite value, not −∞.
#[test]
fn log_moments_never_overflow_into_the_wrong_phase() {
    let law = discrete(&[1e200, -1e200], &[0.5, 0.5], 1);
    let m = log_moments(&law, 1e150).unwrap();
    let want = 350.0 * 10f64.ln();
    assert!((m.mu - want).abs() < 1e-12 * want, "{m:?}");
    assert_eq!(m.zero_probability, 0.0);
    assert!(m.s2.unwrap() < 1e-20, "{m:?}");
    // One step of the engine's arithmetic: w(1 − λx) overflows for both atoms: diverges.
    for x in [1e200, -1e200] {
        assert!(!(0.5f64 * (1.0 - 1e150 * x)).is_finite());
    }
    let lr = 1.0000000000000002;
    for a in [-1.0, 0.5, 3.0] {
        let m = log_moments(&two_point(a, 1), lr).unwrap();
        assert_eq!(m.zero_probability, 0.0);
        let eq83 = 0.5 * ((1.0 - lr) * (1.0 - lr * (a - 1.0))).abs().ln();
        assert!(
            m.mu.is_finite() && (m.mu - eq83).abs() < 1e-13 * eq83.abs(),
            "{m:?}"
        );
        assert!((two_point_mu(a, lr) - eq83).abs() < 1e-13 * eq83.abs());
    }
    // Exactly λx = 1: absorbed, μ = −∞, and the JSON says so.
    let m = log_moments(&two_point(-1.0, 1), 1.0).unwrap();
    assert_eq!(m.mu, f64::NEG_INFINITY);
    let j = serde_json::to_value(&m).unwrap();
    assert_eq!(j["mu"], "-inf");
    // Huge λ and a: Eq. 83 without overflow; tiny λ: −λE x to relative precision.
    let (a, lr) = (1e300, 1e300);
    let want = 0.5 * (2.0 * 1e300f64.ln() + 1e300f64.ln());
    assert!((two_point_mu(a, lr) - want).abs() < 1e-13 * want);
    let mu = log_moments(&two_point(-1.0, 1), 1e-200).unwrap().mu;
    assert!((mu - 0.5e-200).abs() < 1e-15 * 0.5e-200, "{mu}");
    // Gaussian data at λ = 10²⁰⁰: ln λ + E ln|1/λ − x| = ln λ + E ln|x| (x ~ N(1, 1)).
    let m = log_moments(&gaussian(1e100, 1.0, 1), 1e250).unwrap();
    let want = 1e250f64.ln() + 1e100f64.ln();
    assert!((m.mu - want).abs() < 1e-12 * want, "{m:?}");
}

/// Prop. 4's E ln r never overflows: at λ = 10³⁰⁰ the factors are r₊ = 8·10³⁰⁰ and
/// r₋ = 2(10λ − 1) ≈ 2·10³⁰¹, whose product overflows while ½(ln r₊ + ln r₋) is finite; at
/// λ = 10³⁰⁸ r₊ itself is ∞ (JSON "inf") and E ln r still finite.
#[test]
fn sharp_flat_contraction_never_overflows() {
    for lr in [1e300, 1e308] {
        let c = contraction(lr).unwrap();
        let want = 0.5 * (16f64.ln() + 2.0 * lr.ln() + 10f64.ln());
        assert!((c.mean_ln_r - want).abs() < 1e-13 * want, "{c:?}");
        let want98 = 0.5 * (8f64.ln() + 2.0 * lr.ln() + 10f64.ln());
        assert!((c.mean_ln_r_eq98 - want98).abs() < 1e-13 * want98, "{c:?}");
        assert!(!c.sharp_guaranteed);
        let j = serde_json::to_value(&c).unwrap();
        assert!(j["mean_ln_r"].is_f64(), "{j}");
        if lr == 1e308 {
            assert_eq!(j["r_plus"], "inf", "{j}");
        }
    }
    // Fig. 4's λ = 0.05: r₊ = 0.4, r₋ = 1.8, E ln r = ½ ln 0.72 (unchanged by the rewrite).
    let c = contraction(0.05).unwrap();
    assert!((c.mean_ln_r - 0.5 * 0.72f64.ln()).abs() < 1e-15, "{c:?}");
}

/// A subnormal lower end of the range does not stall the scan (below the smallest normal
/// float x·2^{1/8} rounds back to x): the roots of a = −1 are found as from 0.
#[test]
fn phase_scan_from_a_subnormal_lower_end() {
    let num = numeric_phase(&two_point(-1.0, 1), 5e-324, 2.0, 100).unwrap();
    assert_eq!(num.roots.len(), 2, "{:?}", num.roots);
    assert!(
        (num.roots[0] - 0.5).abs() < 1e-15
            && (num.roots[1] - 1.280_776_406_404_415_2).abs() < 1e-15
    );
}

/// One value of x̄ means one count vector however many steps: t = 10⁹ is summed without a
/// table of t + 1 log-factorials (8 GB). |w_t| = |1 − λx|ᵗ|w₀| exactly: 0.5ᵗ → 0 (x = 1) and
/// 1.5ᵗ → ∞ (x = −1) at λ = ½.
#[test]
fn exact_escape_probability_of_one_value_at_a_billion_steps() {
    for (x, want) in [(1.0, 0.0), (-1.0, 1.0)] {
        let law = discrete(&[x], &[1.0], 1);
        let p =
            escape_probability(&law, 0.5, 1_000_000_000, 1e-3, &Init::Point { w0: 1.0 }).unwrap();
        assert_eq!(p.count_vectors, Some(1));
        assert_eq!(p.exact, Some(want), "{p:?}");
    }
}

/// At tiny λ a continuous law's μ keeps its digits: μ = E ln(1 − λx̄) = −Σ_k λᵏE x̄ᵏ/k,
/// where 1 − λx̄ itself rounds to 1 (λ = 10⁻²⁰) or keeps only 6 digits of λx̄ (λ = 10⁻¹⁰).
/// Four terms of the series (the fifth is below 10⁻²³ relative at λ = 10⁻⁶), with the raw
/// moments of N(1, 1) (1, 2, 4, 10) and U[0, 2] (2ᵏ/(k + 1)).
#[test]
fn log_moments_of_continuous_laws_at_tiny_lr() {
    for (law, moments) in [
        (gaussian(1.0, 1.0, 1), [1.0, 2.0, 4.0, 10.0]),
        (uniform(0.0, 2.0, 1), [1.0, 4.0 / 3.0, 2.0, 16.0 / 5.0]),
    ] {
        for lr in [1e-20f64, 1e-10, 1e-6] {
            let want: f64 = -moments
                .iter()
                .enumerate()
                .map(|(k, m)| lr.powi(k as i32 + 1) * m / (k + 1) as f64)
                .sum::<f64>();
            let got = log_moments(&law, lr).unwrap().mu;
            assert!(
                (got - want).abs() <= 1e-12 * want.abs(),
                "λ = {lr}: {got} vs {want}"
            );
        }
    }
}
