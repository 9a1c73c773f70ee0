//! The escape rate of Def. 3 and Prop. 3 (App. D.2, Eqs 88–91): γ(λ) = μ(λ), its maximum
//! γ* over λ, and the |a| below which γ* < ε (Theorem 1: SGD may escape arbitrarily slowly).
//!
//! By Lemma 1, (1/t)E ln|w_t/w₀| = μ(λ) exactly at every t on the quadratic, so γ(λ) = μ(λ)
//! (Eq. 88). For two-point noise and λ < 1, μ = ½ ln[(1 − λ)(1 − λ(a − 1))] is the log of a
//! concave parabola (a < 0), maximal at λ* = a/(2(a − 1)) (Eq. 89) with
//! γ* = ln((2 − a)/(2√(1 − a))) (Eq. 90). (App. D.2 calls μ *convex*; it is concave in λ on
//! (0, 1) for a < 0, which is what makes λ* the maximum.) For a ≥ 0 there is no interior
//! maximum on (0, 1): μ < 0 there and sup μ = 0 is approached only as λ → 0⁺.
//!
//! γ* ≤ ε ⟺ (2 − a)/(2√(1 − a)) ≤ e^ε ⟺ |a| ≤ 2[e^ε√(e^{2ε} − 1) + e^{2ε} − 1] (a < 0), which
//! is Eq. 91's bound: it is exact, γ* = ε at the bound (the paper's strict "γ* < ε" holds only
//! strictly inside).

use crate::noise::NoiseLaw;
use crate::numeric::{brent_root, maximize};
use crate::theory::log_moments::{check_lr, BatchMean, LogMoments, Method};
use crate::theory::{invalid, TheoryError};
use std::cell::RefCell;

/// γ(λ) = μ(λ) (Eq. 88) with its error, for any noise: [`crate::theory::log_moments`].
pub fn escape_rate(noise: &NoiseLaw, lr: f64) -> Result<LogMoments, TheoryError> {
    crate::theory::log_moments::log_moments(noise, lr)
}

/// The optimal escape rate γ* = sup_{0 < λ ≤ λ_max} μ(λ) (Def. 3, Prop. 3).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OptimalEscape {
    /// The two-point parameter a, for the closed form.
    pub a: Option<f64>,
    /// λ*: where μ is largest.
    pub lr_star: f64,
    /// γ* = μ(λ*).
    pub gamma_star: f64,
    /// The largest learning rate allowed (Theorem 1 assumes λ ≤ 1).
    pub lr_max: f64,
    /// Whether λ* is strictly inside (0, λ_max): false when the maximum sits at an end (for
    /// a ≥ 0 at λ → 0⁺ with γ → 0⁻; or at λ_max).
    pub interior: bool,
    /// `exact` (closed form or exact atoms) or `quadrature`.
    pub method: Method,
}

/// Eqs 89–90 for two-point noise: λ* = a/(2(a − 1)), γ* = ln((2 − a)/(2√(1 − a))), computed
/// as ln(1 − a/2) − ½ ln(1 − a) (accurate as a → 0).
///
/// # Errors
/// `InvalidArgument` (`a`) non-finite; `NoSolution` for a ≥ 0: μ(λ) < 0 on (0, 1), and its
/// supremum 0 is not attained (λ → 0⁺), so there is no optimal learning rate.
pub fn two_point_optimum(a: f64) -> Result<OptimalEscape, TheoryError> {
    if !a.is_finite() {
        return invalid("a", format!("must be finite (got {a})"));
    }
    if a >= 0.0 {
        return Err(TheoryError::NoSolution(format!(
            "a = {a} ≥ 0: μ(λ) = ½ ln[(1 − λ)(1 − λ(a − 1))] < 0 for every 0 < λ < 1 (w = 0 is \
             not a maximum of L), its supremum 0 is approached only as λ → 0⁺: no interior \
             maximum, Eqs 89–90 hold for a < 0"
        )));
    }
    Ok(OptimalEscape {
        a: Some(a),
        lr_star: a / (2.0 * (a - 1.0)),
        gamma_star: gamma_star(a),
        lr_max: 1.0,
        interior: true,
        method: Method::Exact,
    })
}

/// γ*(a) = ln((2 − a)/(2√(1 − a))) (Eq. 90), for a < 1.
pub fn gamma_star(a: f64) -> f64 {
    (-0.5 * a).ln_1p() - 0.5 * (-a).ln_1p()
}

/// The default scan of [`numeric_optimum`].
pub const DEFAULT_GRID: usize = 2000;

/// The default λ_max of [`numeric_optimum`]: Theorem 1 assumes λ ≤ 1 (beyond, μ grows without
/// bound in the discrete-time instability region).
pub const DEFAULT_LR_MAX: f64 = 1.0;

/// γ* = max μ(λ) over λ ∈ (0, λ_max] for any noise, numerically: a scan of `grid` points from
/// 10⁻⁹λ_max to λ_max, then Brent's parabolic search ([`crate::numeric::maximize`]); for a
/// finite law the location is polished to full precision as the root of the exact derivative
/// dμ/dλ = E[−x̄/(1 − λx̄)] ([`BatchMean::mu_derivative`]). For continuous laws λ* is accurate
/// to ~10⁻⁸ relative (a smooth maximum is flat to second order), γ* to the quadrature
/// tolerance.
///
/// # Errors
/// `InvalidArgument` (`lr_max` ≤ 0 or non-finite, `grid`, or the law's arguments); `Numeric`.
pub fn numeric_optimum(
    noise: &NoiseLaw,
    lr_max: f64,
    grid: usize,
) -> Result<OptimalEscape, TheoryError> {
    if !(lr_max.is_finite() && lr_max > 0.0) {
        return invalid(
            "lr_max",
            format!("the largest learning rate must be finite and > 0 (got {lr_max})"),
        );
    }
    let law = BatchMean::from_noise(noise)?;
    numeric_optimum_of(&law, lr_max, grid)
}

/// [`numeric_optimum`] for a law of x̄ already built.
pub fn numeric_optimum_of(
    law: &BatchMean,
    lr_max: f64,
    grid: usize,
) -> Result<OptimalEscape, TheoryError> {
    check_lr(lr_max).map_err(|_| TheoryError::InvalidArgument {
        name: "lr_max".into(),
        msg: format!("the largest learning rate must be finite and > 0 (got {lr_max})"),
    })?;
    let lo = 1e-9 * lr_max;
    let err = RefCell::new(None);
    let mu = |l: f64| match law.mu(l) {
        Ok(v) => v,
        Err(e) => {
            err.borrow_mut().get_or_insert(e);
            f64::NAN
        }
    };
    let found = maximize(mu, lo, lr_max, grid, 0.0);
    if let Some(e) = err.into_inner() {
        return Err(e);
    }
    let m = found?;
    let step = (lr_max - lo) / grid as f64;
    let mut lr_star = m.x;
    let mut gamma = m.value;
    let interior = lr_star > lo + 0.5 * step && lr_star < lr_max - 0.5 * step;
    if interior && law.atoms().is_some() {
        // Polish: dμ/dλ changes sign around the maximum.
        let (a, b) = ((lr_star - step).max(lo), (lr_star + step).min(lr_max));
        let d = |l: f64| law.mu_derivative(l).unwrap_or(f64::NAN);
        if let Ok(r) = brent_root(d, a, b, 0.0) {
            let g = law.mu(r)?;
            // The maximum is flat: μ at the polished point may round a little below the
            // search's best value.
            if g >= gamma - 1e-13 * (1.0 + gamma.abs()) {
                lr_star = r;
                gamma = g;
            }
        }
    }
    Ok(OptimalEscape {
        a: None,
        lr_star,
        gamma_star: gamma,
        lr_max,
        interior,
        method: if law.atoms().is_some() {
            Method::Exact
        } else {
            Method::Quadrature
        },
    })
}

/// Eq. 91's bound on |a| below which γ* ≤ ε (a < 0):
/// 2|−e^ε√(e^{2ε} − 1) − e^{2ε} + 1| = 2[e^ε√(e^{2ε} − 1) + e^{2ε} − 1], computed with
/// e^{2ε} − 1 = expm1(2ε). Exact: γ*(−bound) = ε.
///
/// # Errors
/// `InvalidArgument` (`epsilon`) unless ε is finite and > 0.
pub fn eq91_bound(epsilon: f64) -> Result<f64, TheoryError> {
    if !(epsilon.is_finite() && epsilon > 0.0) {
        return invalid(
            "epsilon",
            format!("the target escape rate must be finite and > 0 (got {epsilon})"),
        );
    }
    let m = (2.0 * epsilon).exp_m1();
    Ok(2.0 * (epsilon.exp() * m.sqrt() + m))
}

/// The result of [`slow_escape`]: Theorem 1's construction for a target rate ε.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SlowEscape {
    /// ε.
    pub epsilon: f64,
    /// Eq. 91: γ* ≤ ε for every a < 0 with |a| ≤ this.
    pub a_bound: f64,
    /// γ* at a = −a_bound (equals ε: the bound is exact).
    pub gamma_star_at_bound: f64,
    /// λ* at a = −a_bound.
    pub lr_star_at_bound: f64,
}

/// Theorem 1 / Eq. 91: the |a| bound for a target ε and the optimum at that bound.
pub fn slow_escape(epsilon: f64) -> Result<SlowEscape, TheoryError> {
    let b = eq91_bound(epsilon)?;
    let a = -b;
    Ok(SlowEscape {
        epsilon,
        a_bound: b,
        gamma_star_at_bound: gamma_star(a),
        lr_star_at_bound: a / (2.0 * (a - 1.0)),
    })
}
