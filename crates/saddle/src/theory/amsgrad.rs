//! AMSGrad's trapped interval (Prop. 5, App. D.4, Eqs 100–115).
//!
//! With β₁ = 0, AMSGrad (Fig. 2) on L̂ = x w²/2 is SGD with the effective learning rate
//! λ′ = λ/√v̂_t, and v̂_t increases to a limit c (Eq. 104). Asymptotically one step multiplies w
//! by 1 − λ′x, so w → 0 in probability when μ(λ′) < 0: Eq. 114,
//! |(1 − λ′)(1 + λ′(1 − a))| ≤ 1, i.e. (Eq. 115)
//!
//!   a/(a − 1) ≤ λ/√c ≤ (a − √(a² − 8a + 8))/(2(a − 1)),
//!
//! which is exactly Prop. 2's trapped interval (Eq. 7, [`crate::theory::phase::eq7_bounds`])
//! in λ′. For a given λ this is a range of c: λ²/λ′_hi² ≤ c ≤ λ²/λ′_lo².
//!
//! c is bounded by the largest squared gradient: for |w| ≤ 1 and x ∈ {1, a − 1},
//! |ĝ| = |xw| ≤ max(1, |a − 1|) (= 1 − a for a < 0), and v_t, an average of ĝ², stays
//! ≤ max ĝ², so 0 < c ≤ max(1, |a − 1|)². Eq. 100 writes |ĝ| ≤ 1 + a: that is the bound for the
//! gradient of Eq. 17, ĝ = w or −(1 + a)w, i.e. with a standing for |a| (x = −(1 + |a|)); in
//! the convention x ∈ {1, a − 1} with a < 0 it reads 1 − a. Eqs 103–104 then bound v_t and c by
//! 1 + a where the square (1 − a)² is meant (v averages ĝ², not |ĝ|).
//!
//! Which c the run reaches depends on its trajectory (c ≥ (1 − β₂)ĝ₁² > 0 and c ≤ max ĝ²);
//! the proof does not control it, so the interval is a condition on c, not a guarantee for a λ.

use crate::theory::log_moments::check_lr;
use crate::theory::phase::eq7_bounds;
use crate::theory::TheoryError;

/// Prop. 5's interval: the result of [`amsgrad_trap`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AmsgradTrap {
    /// The two-point parameter a (< 1).
    pub a: f64,
    /// Eq. 115's lower bound on λ′ = λ/√c: a/(a − 1) (≤ 0 for 0 ≤ a < 1: no lower bound).
    pub lr_prime_lo: f64,
    /// Eq. 115's upper bound on λ′: (a − √(a² − 8a + 8))/(2(a − 1)).
    pub lr_prime_hi: f64,
    /// The bound on |ĝ| for |w| ≤ 1: max(1, |a − 1|).
    pub grad_bound: f64,
    /// Eq. 100 as printed: 1 + a.
    pub grad_bound_eq100: f64,
    /// The largest possible c = lim v̂_t: grad_bound².
    pub c_max: f64,
    /// The learning rate λ, if given.
    pub lr: Option<f64>,
    /// For that λ, the c with λ/√c in Eq. 115's interval, intersected with (0, c_max]:
    /// [c_lo, c_hi], or null when no reachable c traps.
    pub c_range: Option<[f64; 2]>,
}

/// Eq. 115 and the c range it implies at λ (if given).
///
/// # Errors
/// `InvalidArgument` (`a` ≥ 1 or non-finite, see [`eq7_bounds`]; `lr` ≤ 0 or non-finite).
pub fn amsgrad_trap(a: f64, lr: Option<f64>) -> Result<AmsgradTrap, TheoryError> {
    let (lo, hi) = eq7_bounds(a)?;
    if let Some(l) = lr {
        check_lr(l)?;
    }
    let grad_bound = 1f64.max((a - 1.0).abs());
    let c_max = grad_bound * grad_bound;
    let c_range = lr.and_then(|l| {
        let c_lo = (l / hi).powi(2);
        let c_hi = if lo > 0.0 {
            (l / lo).powi(2).min(c_max)
        } else {
            c_max
        };
        (c_lo <= c_hi).then_some([c_lo, c_hi])
    });
    Ok(AmsgradTrap {
        a,
        lr_prime_lo: lo,
        lr_prime_hi: hi,
        grad_bound,
        grad_bound_eq100: 1.0 + a,
        c_max,
        lr,
        c_range,
    })
}
