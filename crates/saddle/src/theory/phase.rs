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
//! λ range, split at the poles λ = 1/x̄ of every positive atom x̄, refined by Brent.

use crate::noise::NoiseLaw;
use crate::numeric::all_roots;
use crate::theory::log_moments::{two_point_mu, BatchMean};
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
    /// μ at the probe point lo + 0.382·(hi − lo) that decided the phase (−∞ → JSON null).
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
/// roots q/A and C/q). A tangential (double) root at a = 4 − 2√2 is reported once.
pub fn two_point_roots(a: f64) -> Result<Vec<f64>, TheoryError> {
    check_a(a)?;
    let mut roots = Vec::new();
    // q(λ) = 1: λ(−a + (a − 1)λ) = 0.
    if a != 1.0 {
        roots.push(a / (a - 1.0));
    }
    // q(λ) = −1: A λ² + B λ + C = 0, A = a − 1, B = −a, C = 2.
    let (qa, qb, qc) = (a - 1.0, -a, 2.0);
    let disc = qb * qb - 4.0 * qa * qc;
    if disc >= 0.0 {
        let sgn = if qb >= 0.0 { 1.0 } else { -1.0 };
        let q = -0.5 * (qb + sgn * disc.sqrt());
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

/// The roots of μ(λ) = 0 over λ ∈ [lo, hi] for any noise law, by a scan of `grid` points
/// split at the poles and Brent refinement ([`crate::numeric::all_roots`]): the same roots as
/// [`two_point_phase`] for two-point noise, to ~10⁻¹⁵. With lo = 0 the scan starts at
/// 10⁻⁹·hi (μ(0) = 0 is the trivial root, not reported). Tangential roots and pairs of roots
/// closer than the scan step are missed.
///
/// # Errors
/// `InvalidArgument` (`range`, `grid`, or the law's own arguments, see
/// [`BatchMean::from_noise_with_cap`]); `Numeric` if μ cannot be computed.
pub fn numeric_phase(
    noise: &NoiseLaw,
    lo: f64,
    hi: f64,
    grid: usize,
) -> Result<PhaseDiagram, TheoryError> {
    check_range(lo, hi)?;
    let law = BatchMean::from_noise(noise)?;
    numeric_phase_of(&law, lo, hi, grid)
}

/// [`numeric_phase`] for a law of x̄ already built.
pub fn numeric_phase_of(
    law: &BatchMean,
    lo: f64,
    hi: f64,
    grid: usize,
) -> Result<PhaseDiagram, TheoryError> {
    check_range(lo, hi)?;
    let start = if lo == 0.0 { 1e-9 * hi } else { lo };
    let err = RefCell::new(None);
    let mu = |l: f64| match law.mu(l) {
        Ok(v) => v,
        Err(e) => {
            err.borrow_mut().get_or_insert(e);
            f64::NAN
        }
    };
    let poles: Vec<f64> = law
        .poles()
        .into_iter()
        .filter(|p| *p >= lo && *p <= hi)
        .collect();
    let found = all_roots(mu, start, hi, &poles, grid);
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
