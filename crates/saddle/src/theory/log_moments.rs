//! The log-moments of one SGD step on the quadratic (Lemma 1, Prop. 6, App. B.2):
//! μ(λ) = E ln|1 − λx̄| and s²(λ) = Var ln|1 − λx̄|.
//!
//! On L̂ = x w²/2 (Eq. 4) a minibatch step multiplies w by 1 − λx̄, where x̄ is the mean of the
//! `batch` = S i.i.d. data points of the step (Def. 1, Eq. 27), so ln|w_t/w₀| is a sum of t
//! i.i.d. copies of ln|1 − λx̄| (Eq. 28) with mean μ and variance s² (Eq. 29). For a law on the
//! field y (`Field::Y`) the data x stay at their default 1, so x̄ ≡ 1.
//!
//! [`BatchMean`] is the law of x̄ for a [`NoiseLaw`]: exact atoms for finite laws (the
//! multinomial law of the batch mean), N(m, σ²/S) for Gaussian data, the scaled Irwin–Hall law
//! for uniform data. Expectations over it are exact sums for atoms and adaptive quadrature
//! ([`crate::numeric::integrate`]) in y = 1 − λx̄ otherwise, with a break at the integrable
//! logarithmic singularity y = 0 (Prop. 6).

use crate::noise::batch_mean::irwin_hall_condition;
use crate::noise::NoiseLaw;
use crate::numeric::{integrate, Integral, Tolerance};
use crate::theory::{invalid, TheoryError};

pub use crate::noise::batch_mean::{
    count_vectors, irwin_hall, is_zero_factor, multinomial_mean, BatchMean, MAX_COUNT_VECTORS,
    MAX_UNIFORM_BATCH,
};

/// The tolerance of the quadratures behind [`BatchMean::log_moments`] and [`BatchMean::mu`].
pub const QUAD_TOL: Tolerance = Tolerance {
    abs: 1e-13,
    rel: 1e-12,
};

/// ln|1 − λx| for any finite λ > 0 and x, without overflow or loss of precision (Eq. 81's
/// integrand):
/// - −∞ exactly when λx rounds to 1 ([`is_zero_factor`]: one step sets w to 0);
/// - ln_1p(−λx) for |λx| ≤ 10⁻³ (relative accuracy down to the smallest λx);
/// - ln λ + ln|x| + ln_1p(−1/(λx)) for |λx| ≥ 2⁶⁰ or when λx overflows, so that
///   λ = 10¹⁵⁰, x = ±10²⁰⁰ gives 805.9 rather than ±∞;
/// - ln|1 − λx| in between.
pub fn ln_abs_factor(lr: f64, x: f64) -> f64 {
    let p = lr * x;
    if p == 1.0 {
        return f64::NEG_INFINITY;
    }
    let big = 1.152_921_504_606_847e18; // 2⁶⁰
    if p.is_finite() && p.abs() <= 1e-3 {
        (-p).ln_1p()
    } else if !p.is_finite() || p.abs() >= big {
        let tail = if p.is_finite() {
            (-1.0 / p).ln_1p()
        } else {
            0.0
        };
        lr.abs().ln() + x.abs().ln() + tail
    } else {
        (1.0 - p).abs().ln()
    }
}

/// How a result was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// A finite sum over exact atoms (error: rounding only).
    Exact,
    /// Adaptive quadrature (error: the quadrature's estimate).
    Quadrature,
}

/// μ(λ) and s²(λ) of Lemma 1 (Eq. 26–29): the result of [`log_moments`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LogMoments {
    /// The learning rate λ.
    pub lr: f64,
    /// The minibatch size S.
    pub batch: usize,
    /// μ(λ) = E ln|1 − λx̄| (Eq. 81; Eq. 83 for two-point noise). −∞ when
    /// `zero_probability` > 0 (Prop. 1: w_t = 0 after finitely many steps with probability 1);
    /// JSON writes −∞ as the string "-inf" (never null).
    #[serde(serialize_with = "crate::numeric::serialize_f64")]
    pub mu: f64,
    /// s²(λ) = Var ln|1 − λx̄|; `None` (null) when it does not exist (`zero_probability` > 0).
    pub s2: Option<f64>,
    /// P(1 − λx̄ = 0): the probability of an atom at which one step sets w to exactly 0.
    pub zero_probability: f64,
    /// `exact` (atoms) or `quadrature`.
    pub method: Method,
    /// Estimated absolute error of `mu` (rounding for exact sums).
    pub mu_error: f64,
    /// Estimated absolute error of `s2`.
    pub s2_error: Option<f64>,
    /// The number of distinct values of x̄ for the exact method, else `None`.
    pub atoms: Option<usize>,
}

pub(crate) fn check_lr(lr: f64) -> Result<(), TheoryError> {
    if !(lr.is_finite() && lr > 0.0) {
        return invalid(
            "lr",
            format!("the learning rate must be finite and > 0 (got {lr})"),
        );
    }
    Ok(())
}

impl BatchMean {
    /// E g(y), y = 1 − λx̄: an exact sum over atoms (g is evaluated at every atom, also at
    /// y = 0), or adaptive quadrature over the density of y with a break at y = 0 (where g may
    /// have an integrable singularity) and at the density's own kinks.
    pub fn expect<G: Fn(f64) -> f64>(
        &self,
        lr: f64,
        g: G,
        tol: Tolerance,
    ) -> Result<Integral, TheoryError> {
        check_lr(lr)?;
        match self {
            BatchMean::Atoms {
                values,
                probs,
                batch,
            } => Ok(sum_atoms(
                values,
                probs,
                *batch,
                |i| g(1.0 - lr * values[i]),
            )),
            _ => {
                let (lo, hi, breaks, dens) = self.y_density(lr).expect("continuous law");
                integrate(|y| dens(y) * g(y), lo, hi, &breaks, tol)
            }
        }
    }

    /// μ(λ) = E ln|1 − λx̄| alone (cheaper than [`BatchMean::log_moments`]): −∞ if an atom
    /// sits at 1 − λx̄ = 0.
    pub fn mu(&self, lr: f64) -> Result<f64, TheoryError> {
        check_lr(lr)?;
        if self.zero_probability(lr) > 0.0 {
            return Ok(f64::NEG_INFINITY);
        }
        Ok(self.expect_ln(lr, |l| l, QUAD_TOL)?.value)
    }

    /// E h(ln|1 − λx̄|), computed so that no overflow changes the answer: over atoms with
    /// [`ln_abs_factor`] (never ±∞ but for an exact zero factor); for continuous laws by
    /// quadrature in y = 1 − λx̄, or, when λ·x̄ overflows on the law's ±40σ range, in
    /// z = 1/λ − x̄ with ln|y| = ln λ + ln|z|.
    pub fn expect_ln<H: Fn(f64) -> f64>(
        &self,
        lr: f64,
        h: H,
        tol: Tolerance,
    ) -> Result<Integral, TheoryError> {
        check_lr(lr)?;
        if let BatchMean::Atoms { values, .. } = self {
            // The same sum as `expect`, with the logarithm taken by ln_abs_factor.
            let (values, probs, batch) = (values, self.atoms().expect("atoms").1, self.batch());
            return Ok(sum_atoms(values, probs, batch, |i| {
                h(ln_abs_factor(lr, values[i]))
            }));
        }
        let y = self.standard(1.0, lr).expect("continuous law");
        let (lo, hi) = y.range();
        let width_ok = (hi - lo).is_finite() && lo.is_finite() && hi.is_finite();
        // y = 1 − λx̄ directly or, where λx̄ overflows, ln|y| = ln λ + ln|z| with z = 1/λ − x̄.
        let (st, shift) = if width_ok {
            (y, 0.0)
        } else {
            (
                self.standard(1.0 / lr, 1.0).expect("continuous law"),
                lr.ln(),
            )
        };
        let (z_lo, z_hi) = st.range();
        // A support narrow against its distance from 0 (below 10⁻³ of it, down to no float
        // between its ends): ln|z| is smooth there, nodes in z would sit on a coarse grid of
        // floats (or collapse onto a few), and at small λ ln(1 − λx̄) is best taken as ln_1p;
        // so integrate over the standard variable u.
        let narrow =
            z_lo > 0.0 && z_hi - z_lo <= 1e-3 * z_lo || z_hi < 0.0 && z_hi - z_lo <= 1e-3 * -z_hi;
        if narrow {
            let (nu, kappa, phi) = (st.nu, st.kappa, &st.phi);
            // ln|y| by ln_abs_factor where λx̄ does not overflow: ln(1 + ·) of a small λx̄
            // keeps its digits (1 − λx̄ would round to 1 at λ = 10⁻²⁰).
            let ln_abs = |u: f64| {
                if width_ok {
                    ln_abs_factor(lr, st.m + st.s * u)
                } else {
                    shift + (nu - kappa * u).abs().ln()
                }
            };
            return integrate(|u| phi(u) * h(ln_abs(u)), st.u_lo, st.u_hi, &st.breaks, tol);
        }
        let (lo, hi, breaks, dens) = st.density();
        integrate(|z| dens(z) * h(shift + z.abs().ln()), lo, hi, &breaks, tol)
    }

    /// dμ/dλ = E[−x̄/(1 − λx̄)] for a finite law (exact), `None` for continuous laws or at a
    /// pole.
    pub fn mu_derivative(&self, lr: f64) -> Option<f64> {
        let (values, probs) = self.atoms()?;
        if self.zero_probability(lr) > 0.0 {
            return None;
        }
        Some(
            values
                .iter()
                .zip(probs)
                .map(|(v, p)| -p * v / (1.0 - lr * v))
                .sum(),
        )
    }

    /// μ(λ) and s²(λ) (Lemma 1). s² is computed as E(ln|y| − μ)² after μ (no cancellation).
    ///
    /// # Errors
    /// `InvalidArgument` (`lr`) for λ ≤ 0 or non-finite; `Numeric` if a quadrature fails.
    pub fn log_moments(&self, lr: f64) -> Result<LogMoments, TheoryError> {
        check_lr(lr)?;
        let zero = self.zero_probability(lr);
        let (method, atoms) = match self {
            BatchMean::Atoms { values, .. } => (Method::Exact, Some(values.len())),
            _ => (Method::Quadrature, None),
        };
        let batch = self.batch();
        if zero > 0.0 {
            return Ok(LogMoments {
                lr,
                batch,
                mu: f64::NEG_INFINITY,
                s2: None,
                zero_probability: zero,
                method,
                mu_error: 0.0,
                s2_error: None,
                atoms,
            });
        }
        let m = self.expect_ln(lr, |l| l, QUAD_TOL)?;
        let mu = m.value;
        let v = self.expect_ln(
            lr,
            |l| {
                let d = l - mu;
                d * d
            },
            QUAD_TOL,
        )?;
        let s2 = v.value.max(0.0);
        let (mut mu_error, mut s2_error) = (m.error, v.error + m.error * m.error);
        if let BatchMean::Uniform { batch, .. } = self {
            // Rounding in the Irwin–Hall sum: relative error of the density ≲ c(S)·ε with
            // c(S) ≤ 1.2·10⁴ for S ≤ 24; E|ln|y|| ≤ √(μ² + s²).
            let c = irwin_hall_condition(*batch) * f64::EPSILON;
            mu_error += c * (mu * mu + s2).sqrt();
            s2_error += c * (s2 + mu * mu);
        }
        Ok(LogMoments {
            lr,
            batch,
            mu,
            s2: Some(s2),
            zero_probability: 0.0,
            method,
            mu_error,
            s2_error: Some(s2_error),
            atoms,
        })
    }
}

/// Σ pᵢ·t(i) over atoms, with its rounding bound: the sum (n terms), and for S > 1 the
/// multinomial probabilities, each exp(ln S! − Σ ln cᵢ! + Σ cᵢ ln pᵢ) with a relative error of
/// a few ε times the magnitude of that exponent (≲ S ln S + |ln P|).
fn sum_atoms<T: Fn(usize) -> f64>(values: &[f64], probs: &[f64], batch: usize, t: T) -> Integral {
    let mut sum = 0.0;
    let mut abs = 0.0;
    let mut ln_p_max = 0.0f64;
    for (i, p) in probs.iter().enumerate() {
        let term = p * t(i);
        sum += term;
        abs += term.abs();
        if batch > 1 {
            ln_p_max = ln_p_max.max(-p.ln());
        }
    }
    let s = batch as f64;
    let rel_p = if batch > 1 {
        4.0 * (s * (s.ln() + 1.0) + ln_p_max)
    } else {
        0.0
    };
    Integral {
        value: sum,
        error: (values.len() as f64 + 4.0 + rel_p) * f64::EPSILON * abs,
        evaluations: values.len() as u64,
        pieces: 0,
    }
}

/// μ(λ) and s²(λ) of Lemma 1 for the data law `noise` (minibatch mean of `noise.batch`
/// i.i.d. draws): exact sums for finite laws, quadrature for Gaussian and uniform data.
///
/// # Errors
/// See [`BatchMean::from_noise_with_cap`] and [`BatchMean::log_moments`].
pub fn log_moments(noise: &NoiseLaw, lr: f64) -> Result<LogMoments, TheoryError> {
    check_lr(lr)?;
    BatchMean::from_noise(noise)?.log_moments(lr)
}

/// μ(λ) = ½ ln|(1 − λ)(1 − λ(a − 1))| for two-point noise (Eq. 83), in closed form.
///
/// Where the product overflows, underflows or loses its relative precision (λ(a − 1) beyond
/// 2⁶⁰ or below 10⁻³), μ = ½(ln|1 − λ| + ln|1 − λ(a − 1)|) by [`ln_abs_factor`]: finite for
/// every finite λ > 0 and a, and −∞ only where λ = 1 or λ(a − 1) = 1 exactly.
pub fn two_point_mu(a: f64, lr: f64) -> f64 {
    let b = lr * (a - 1.0);
    let q = (1.0 - lr) * (1.0 - b);
    let plain = |p: f64| p.is_finite() && p.abs() > 1e-3 && p.abs() < 1.152_921_504_606_847e18;
    if q.is_normal() && plain(lr) && plain(b) {
        0.5 * q.abs().ln()
    } else {
        0.5 * (ln_abs_factor(lr, 1.0) + ln_abs_factor(lr, a - 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn irwin_hall_integrates_to_one_and_matches_s2() {
        // S = 2: the triangle.
        assert!((irwin_hall(0.5, 2) - 0.5).abs() < 1e-15);
        assert!((irwin_hall(1.5, 2) - 0.5).abs() < 1e-15);
        for s in [2, 3, 7, 24] {
            let brk: Vec<f64> = (1..s).map(|k| k as f64).collect();
            let i = integrate(|u| irwin_hall(u, s), 0.0, s as f64, &brk, QUAD_TOL).unwrap();
            assert!((i.value - 1.0).abs() < 1e-11, "S = {s}: {i:?}");
        }
    }
}
