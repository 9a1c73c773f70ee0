//! The phase boundary of Prop. 2 (Eq. 7, App. D.1 Eqs 84–87): where μ(λ) = E ln|1 − λx̄|
//! changes sign.
//!
//! By Lemma 1, ln|w_t/w₀| ≈ N(tμ, ts²), so |w_t| → 0 in probability when μ < 0 (*trapped*:
//! SGD converges to w = 0 even where it is a maximum) and |w_t| → ∞ when μ > 0 (*escape*)
//! (Eq. 80). For two-point noise μ(λ) = ½ ln|q(λ)| with q(λ) = (1 − λ)(1 − λ(a − 1)) =
//! 1 − aλ + (a − 1)λ² (Eq. 83), so the boundary is q(λ) = ±1:
//! - q = 1: λ = 0 or λ = a/(a − 1) (Eq. 85; positive only for a < 0 or a > 1);
//! - q = −1: (a − 1)λ² − aλ + 2 = 0, λ = (a ± √(a² − 8a + 8))/(2(a − 1)) (Eq. 86), real iff
//!   a ≤ 4 − 2√2 ≈ 1.1716 or a ≥ 4 + 2√2; for a = 1, λ = 2.
//!
//! μ has poles (μ = −∞) where q = 0, at λ = 1 and λ = 1/(a − 1) (a > 1); they lie inside
//! trapped intervals and are not sign changes. For a < 0 the trapped set is exactly Eq. 7's
//! interval, a/(a−1) < λ < (a − √(a²−8a+8))/(2(a−1)) (the pole λ = 1 inside it); for
//! 0 ≤ a < 1 the lower end is ≤ 0 and small λ is trapped (w = 0 is then a minimum); for
//! 1 < a < 4 − 2√2 and a ≥ 4 + 2√2 there are three positive roots.
//!
//! For any other noise the roots are found numerically ([`numeric_phase`]): a scan of μ over a
//! λ range, split at the poles λ = 1/x̄ of every positive atom x̄, with points packed
//! geometrically near every scale 1/|x̄| and near 0, refined by Brent (sign changes) or by
//! minimising |μ| (touch points, close pairs) to μ's own rounding.

use crate::noise::NoiseLaw;
use crate::numeric::{all_roots_with, check_grid, scan_samples, MAX_LADDERS};
use crate::theory::log_moments::{two_point_mu, BatchMean, QUAD_TOL};
use crate::theory::{invalid, TheoryError};
use std::cell::RefCell;

/// The sign of μ on an interval of learning rates (Prop. 2, Eq. 80).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// μ > 0: |w_t| → ∞ in probability.
    Escape,
    /// μ < 0 (or −∞): |w_t| → 0 in probability.
    Trapped,
}

/// How the roots were obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RootMethod {
    /// Closed form (two-point noise, Eqs 85–87).
    Closed,
    /// Scan and Brent refinement of μ(λ).
    Numeric,
}

/// An interval of learning rates between consecutive roots, with its phase.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PhaseInterval {
    /// Lower end (a root or the range's lower end).
    pub lo: f64,
    /// Upper end (a root or the range's upper end).
    pub hi: f64,
    /// `escape` (μ > 0) or `trapped` (μ < 0).
    pub phase: Phase,
    /// μ at the probe point lo + 0.382·(hi − lo) that decided the phase (−∞ → JSON "-inf").
    #[serde(serialize_with = "crate::numeric::serialize_f64")]
    pub mu_probe: f64,
}

/// The roots of μ(λ) = 0 in a λ range and the phases between them: the result of
/// [`two_point_phase`] and [`numeric_phase`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PhaseDiagram {
    /// `closed` or `numeric`.
    pub method: RootMethod,
    /// The two-point parameter a, for the closed form.
    pub a: Option<f64>,
    /// The λ range [lo, hi] examined.
    pub range: [f64; 2],
    /// The roots of μ(λ) = 0 in the range (λ = 0 excluded), increasing.
    pub roots: Vec<f64>,
    /// The poles of μ (μ = −∞: one step can set w to exactly 0) in the range, increasing.
    pub poles: Vec<f64>,
    /// The intervals between consecutive roots (and the range's ends), with their phase.
    pub intervals: Vec<PhaseInterval>,
}

fn check_range(lo: f64, hi: f64) -> Result<(), TheoryError> {
    if !(lo.is_finite() && hi.is_finite() && lo >= 0.0 && lo < hi) {
        return invalid(
            "range",
            format!("the learning-rate range needs finite 0 ≤ lo < hi (got [{lo}, {hi}])"),
        );
    }
    Ok(())
}

fn check_a(a: f64) -> Result<(), TheoryError> {
    if !a.is_finite() {
        return invalid("a", format!("must be finite (got {a})"));
    }
    Ok(())
}

/// All positive roots of μ(λ) = 0 for two-point noise, increasing (Eqs 85–87 and the cases
/// the paper leaves out): λ = a/(a − 1) where positive, and the positive roots of
/// (a − 1)λ² − aλ + 2 = 0 (computed in the cancellation-free form q = −½(B + sign(B)√D),
/// roots q/A and C/q). A tangential (double) root (a = 4 − 2√2) is reported once when the
/// discriminant rounds to 0; at a float a near it, rounding may give two roots ~10⁻⁷ apart.
pub fn two_point_roots(a: f64) -> Result<Vec<f64>, TheoryError> {
    check_a(a)?;
    let mut roots = Vec::new();
    // q(λ) = 1: λ(−a + (a − 1)λ) = 0.
    if a != 1.0 {
        roots.push(a / (a - 1.0));
    }
    // q(λ) = −1: A λ² + B λ + C = 0, A = a − 1, B = −a, C = 2.
    let (qa, qb, qc) = (a - 1.0, -a, 2.0);
    // √(a² − 8a + 8), as |a|·√(1 − 8/a + 8/a²) where a² would overflow (|a| > 10¹⁰⁰).
    let (real, root_disc) = if a.abs() > 1e100 {
        (true, a.abs() * (1.0 - 8.0 / a + 8.0 / a / a).sqrt())
    } else {
        let disc = qb * qb - 4.0 * qa * qc;
        (disc >= 0.0, disc.max(0.0).sqrt())
    };
    if real {
        let sgn = if qb >= 0.0 { 1.0 } else { -1.0 };
        let q = -0.5 * (qb + sgn * root_disc);
        if qa != 0.0 {
            roots.push(q / qa);
        }
        if q != 0.0 {
            roots.push(qc / q);
        }
    }
    roots.retain(|r| r.is_finite() && *r > 0.0);
    roots.sort_by(f64::total_cmp);
    roots.dedup();
    Ok(roots)
}

/// The poles of μ for two-point noise in λ > 0: λ = 1 and λ = 1/(a − 1) for a > 1, increasing.
pub fn two_point_poles(a: f64) -> Vec<f64> {
    let mut p = vec![1.0];
    if a > 1.0 {
        p.push(1.0 / (a - 1.0));
    }
    p.sort_by(f64::total_cmp);
    p.dedup();
    p
}

/// Eq. 7 (= Eq. 87, = Eq. 115 in λ′): the bounds (a/(a − 1), (a − √(a² − 8a + 8))/(2(a − 1)))
/// of the trapped interval, for a < 1 (for a < 0 both are positive and the interval is the
/// whole trapped set; for 0 ≤ a < 1 the lower bound is ≤ 0).
///
/// # Errors
/// `InvalidArgument` (`a`) for a ≥ 1, where the formula does not describe the trapped set.
pub fn eq7_bounds(a: f64) -> Result<(f64, f64), TheoryError> {
    check_a(a)?;
    if a >= 1.0 {
        return invalid(
            "a",
            format!(
                "Eq. 7 describes the trapped interval for a < 1 (got {a}); use two_point_phase \
                 for the roots at a ≥ 1"
            ),
        );
    }
    let lower = a / (a - 1.0);
    // Upper bound (a − √D)/(2(a − 1)) = 2/q with q = ½(a + √D) (the C/q root), no cancellation.
    let d = a * a - 8.0 * a + 8.0;
    let upper = 4.0 / (a + d.sqrt());
    Ok((lower, upper))
}

fn label<F: Fn(f64) -> Result<f64, TheoryError>>(
    mu: F,
    lo: f64,
    hi: f64,
    roots: &[f64],
) -> Result<Vec<PhaseInterval>, TheoryError> {
    let mut ends = vec![lo];
    ends.extend(roots.iter().copied().filter(|r| *r > lo && *r < hi));
    ends.push(hi);
    let mut out = Vec::new();
    for w in ends.windows(2) {
        let x = w[0] + 0.381_966_011_250_105_1 * (w[1] - w[0]);
        let m = mu(x)?;
        out.push(PhaseInterval {
            lo: w[0],
            hi: w[1],
            phase: if m > 0.0 {
                Phase::Escape
            } else {
                Phase::Trapped
            },
            mu_probe: m,
        });
    }
    Ok(out)
}

/// The phase diagram of two-point noise over λ ∈ [lo, hi] in closed form (Prop. 2).
///
/// # Errors
/// `InvalidArgument` (`a`) non-finite; (`range`) unless 0 ≤ lo < hi finite.
pub fn two_point_phase(a: f64, lo: f64, hi: f64) -> Result<PhaseDiagram, TheoryError> {
    check_a(a)?;
    check_range(lo, hi)?;
    let roots: Vec<f64> = two_point_roots(a)?
        .into_iter()
        .filter(|r| *r >= lo && *r <= hi)
        .collect();
    let poles: Vec<f64> = two_point_poles(a)
        .into_iter()
        .filter(|p| *p >= lo && *p <= hi)
        .collect();
    let intervals = label(|l| Ok(two_point_mu(a, l)), lo, hi, &roots)?;
    Ok(PhaseDiagram {
        method: RootMethod::Closed,
        a: Some(a),
        range: [lo, hi],
        roots,
        poles,
        intervals,
    })
}

/// The default number of scan points of [`numeric_phase`].
pub const DEFAULT_GRID: usize = 2000;

/// The most work [`numeric_phase`] does: scan samples times the cost of one μ (its atoms, or
/// [`QUADRATURE_COST`] for a continuous law), a few seconds; beyond, `TooLarge` (`grid`).
pub const MAX_WORK: f64 = 2.0e9;

/// The cost of one μ by quadrature, in atom-equivalents, for [`MAX_WORK`].
pub const QUADRATURE_COST: f64 = 400.0;

/// The roots of μ(λ) = 0 over λ ∈ [lo, hi] for any noise law: a scan of `grid` points split
/// at the poles, plus scale-aware points, refined to the rounding of μ
/// ([`crate::numeric::all_roots_with`]: sign changes by Brent, touch points and root pairs
/// closer than the step by minimising |μ|, with μ's own rounding bound as the noise floor).
/// The same roots as [`two_point_phase`] for two-point noise, to ~10⁻¹⁵ relative, for any
/// grid and any |a| (tested for a = ±10¹⁰, ±10⁻¹⁰).
///
/// Scale-aware points: λ s(1 ± 2⁻ᵏ) (k = 1…52) around every pole and every scale
/// 1/|x̄| of an atom (at most [`crate::numeric::MAX_LADDERS`] of them), and a geometric
/// grid (ratio 2^{1/8}) from the smallest scale of interest up to hi. With lo = 0 the scan
/// starts at λ₀ = min(10⁻⁹·hi, 10⁻³/max|x̄|, 10⁻³·2|E x̄|/E x̄²) (the last is where
/// μ ≈ −λE x̄ − λ²E x̄²/2 has its small root): μ(0) = 0 is the trivial root, not reported.
///
/// # Errors
/// `InvalidArgument` (`range`; `grid` outside 2…[`crate::numeric::MAX_GRID`]; the law's own
/// arguments, see [`BatchMean::from_noise_with_cap`]); `TooLarge` (`grid`) when the scan
/// would exceed [`MAX_WORK`]; `Numeric` if μ cannot be computed.
pub fn numeric_phase(
    noise: &NoiseLaw,
    lo: f64,
    hi: f64,
    grid: usize,
) -> Result<PhaseDiagram, TheoryError> {
    check_range(lo, hi)?;
    check_grid(grid)?;
    let law = BatchMean::from_noise(noise)?;
    numeric_phase_of(&law, lo, hi, grid)
}

/// The scales 1/|x̄| of a law (atoms: every nonzero atom; continuous: |mean| and the ends of
/// its ±10σ range) and its first two moments (for the small-λ root).
fn scales(law: &BatchMean) -> (Vec<f64>, f64, f64) {
    match law {
        BatchMean::Atoms { values, probs, .. } => {
            let s = values
                .iter()
                .filter(|v| **v != 0.0)
                .map(|v| 1.0 / v.abs())
                .filter(|s| s.is_finite())
                .collect();
            let m1 = values.iter().zip(probs).map(|(v, p)| p * v).sum();
            let m2 = values.iter().zip(probs).map(|(v, p)| p * v * v).sum();
            (s, m1, m2)
        }
        BatchMean::Gaussian { mean, std, .. } => {
            let s = [*mean, mean - 10.0 * std, mean + 10.0 * std]
                .iter()
                .filter(|v| **v != 0.0)
                .map(|v| 1.0 / v.abs())
                .filter(|s| s.is_finite())
                .collect();
            (s, *mean, mean * mean + std * std)
        }
        BatchMean::Uniform { lo, hi, batch } => {
            let m = 0.5 * (lo + hi);
            let var = (hi - lo) * (hi - lo) / (12.0 * *batch as f64);
            let s = [*lo, *hi, m]
                .iter()
                .filter(|v| **v != 0.0)
                .map(|v| 1.0 / v.abs())
                .filter(|s| s.is_finite())
                .collect();
            (s, m, m * m + var)
        }
    }
}

/// [`numeric_phase`] for a law of x̄ already built.
///
/// # Errors
/// As [`numeric_phase`].
pub fn numeric_phase_of(
    law: &BatchMean,
    lo: f64,
    hi: f64,
    grid: usize,
) -> Result<PhaseDiagram, TheoryError> {
    check_range(lo, hi)?;
    check_grid(grid)?;
    let poles: Vec<f64> = law
        .poles()
        .into_iter()
        .filter(|p| *p >= lo && *p <= hi)
        .collect();
    let (mut sc, m1, m2) = scales(law);
    let smallest = sc.iter().copied().fold(f64::INFINITY, f64::min);
    let start = if lo == 0.0 {
        let mut s = (1e-9 * hi).min(1e-3 * smallest);
        let small_root = 2.0 * m1.abs() / m2;
        if small_root.is_finite() && small_root > 0.0 {
            s = s.min(1e-3 * small_root);
        }
        // Far below every scale μ is −λE x̄ to rounding: no root is lost above 10⁻³⁰⁰.
        s.max(1e-300)
    } else {
        lo
    };
    if start >= hi {
        return invalid(
            "range",
            format!("the learning-rate range [{lo}, {hi}] is too small to scan"),
        );
    }
    // Geometric points from start to hi, and ladders around the scales.
    let mut extra = Vec::new();
    let ratio = 2f64.powf(0.125);
    // From the smallest normal float up: below it x·ratio rounds back to x (a subnormal lo
    // would never reach hi).
    let mut x = start.max(f64::MIN_POSITIVE);
    while x < hi {
        extra.push(x);
        x *= ratio;
    }
    sc.sort_by(f64::total_cmp);
    sc.dedup();
    if sc.len() <= MAX_LADDERS {
        for s in &sc {
            let mut h = 0.5;
            for _ in 0..52 {
                extra.push(s * (1.0 - h));
                extra.push(s * (1.0 + h));
                h *= 0.5;
            }
        }
    }
    extra.retain(|x| *x > start && *x < hi);
    extra.sort_by(f64::total_cmp);
    extra.dedup();
    let cost = match law {
        BatchMean::Atoms { values, .. } => values.len() as f64,
        _ => QUADRATURE_COST,
    };
    let work = scan_samples(grid, poles.len(), extra.len()) * cost;
    if work > MAX_WORK {
        return Err(TheoryError::TooLarge(format!(
            "grid: a scan of {grid} points with {} poles and {} extra points, at a cost of {}              per μ, is {work:.2e} operations, above the limit {MAX_WORK:e}: lower the grid              (or use a law with fewer atoms)",
            poles.len(),
            extra.len(),
            cost
        )));
    }
    let err = RefCell::new(None);
    let mu = |l: f64| -> (f64, f64) {
        if law.zero_probability(l) > 0.0 {
            return (f64::NEG_INFINITY, 0.0);
        }
        match law.expect_ln(l, |v| v, QUAD_TOL) {
            Ok(i) => (i.value, i.error),
            Err(e) => {
                err.borrow_mut().get_or_insert(e);
                (f64::NAN, 0.0)
            }
        }
    };
    let found = all_roots_with(mu, start, hi, &poles, &extra, grid);
    if let Some(e) = err.into_inner() {
        return Err(e);
    }
    let roots = found?;
    let intervals = label(|l| law.mu(l), lo.max(start), hi, &roots)?;
    let mut intervals = intervals;
    if let Some(first) = intervals.first_mut() {
        first.lo = lo;
    }
    Ok(PhaseDiagram {
        method: RootMethod::Numeric,
        a: None,
        range: [lo, hi],
        roots,
        poles,
        intervals,
    })
}

/// One point of the phase boundary line in the (a, λ) plane: the orange line of Figs 3 and 7.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BoundaryPoint {
    /// The two-point parameter a.
    pub a: f64,
    /// The roots of μ(λ) = 0 with λ in the requested range, increasing.
    pub roots: Vec<f64>,
}

/// The phase boundary (Eq. 7 and its extension to all a) for a grid of a: for each a, the
/// closed-form roots in [lr_lo, lr_hi].
///
/// # Errors
/// `InvalidArgument` (`a`) for a non-finite a; (`range`) unless 0 ≤ lr_lo < lr_hi finite.
pub fn boundary_line(
    a_values: &[f64],
    lr_lo: f64,
    lr_hi: f64,
) -> Result<Vec<BoundaryPoint>, TheoryError> {
    check_range(lr_lo, lr_hi)?;
    a_values
        .iter()
        .map(|&a| {
            Ok(BoundaryPoint {
                a,
                roots: two_point_roots(a)?
                    .into_iter()
                    .filter(|r| *r >= lr_lo && *r <= lr_hi)
                    .collect(),
            })
        })
        .collect()
}

/// n equally spaced values from lo to hi inclusive (n ≥ 2), e.g. the a axis of Fig. 3
/// (`linspace(-1, 1, 64)`).
pub fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![lo],
        _ => (0..n)
            .map(|i| {
                if i == n - 1 {
                    hi
                } else {
                    lo + (hi - lo) * i as f64 / (n - 1) as f64
                }
            })
            .collect(),
    }
}
