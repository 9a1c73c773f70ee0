//! The power-law tail of SGD with additive noise in the trapped phase (App. C.2, Fig. 9;
//! beyond the paper): the Kesten–Goldie exponent.
//!
//! With injected noise, w ← (1 − λx̄)w + λσξ (Fig. 9) is the random affine recursion
//! w ← A w + B, A = 1 − λx̄, B = λσξ. When μ = E ln|A| < 0 (the trapped phase of Prop. 2) it has
//! a stationary law, no longer the point mass at 0 (Fig. 9), and by Kesten (1973) and Goldie
//! (1991) its tails are power laws, P(|w| > u) ~ C u^{−κ}, where κ > 0 solves
//!
//!   E|1 − λx̄|^κ = 1.
//!
//! f(κ) = ln E|A|^κ is convex with f(0) = 0 and f′(0) = μ < 0, so the positive root is unique
//! when P(|A| > 1) > 0 (f → +∞). E|w|^p is finite for p < κ and infinite for p ≥ κ. κ does not
//! depend on σ > 0. (Goldie's theorem also wants ln|A| non-lattice given A ≠ 0 for the constant C;
//! on a lattice u^κ P(|w| > u) oscillates but κ is still the exponent.)
//!
//! Without additive noise (σ = 0) the same κ makes |w_t|^κ a martingale:
//! E|w_t|^κ = |w₀|^κ (E|A|^κ)^t = |w₀|^κ for every t.
//!
//! Example (Fig. 9: a = −1, λ = 0.8): ½(0.2^κ + 2.6^κ) = 1, κ ≈ 0.416.

use crate::noise::NoiseLaw;
use crate::numeric::brent_root;
use crate::theory::log_moments::{check_lr, BatchMean, Method, QUAD_TOL};
use crate::theory::TheoryError;

/// The tail exponent κ: the result of [`tail_exponent`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TailExponent {
    /// The learning rate λ.
    pub lr: f64,
    /// μ(λ) = E ln|1 − λx̄| < 0 (−∞ → JSON "-inf").
    #[serde(serialize_with = "crate::numeric::serialize_f64")]
    pub mu: f64,
    /// κ > 0 with E|1 − λx̄|^κ = 1: P(|w| > u) ~ C u^{−κ}.
    pub kappa: f64,
    /// Estimated absolute error of κ.
    pub kappa_error: f64,
    /// P(|1 − λx̄| > 1): the expanding steps that create the tail.
    pub expanding_probability: f64,
    /// `exact` (atoms) or `quadrature`.
    pub method: Method,
}

/// f(κ) = ln E|1 − λx̄|^κ (exact for atoms, quadrature otherwise), computed as
/// ln(1 + E expm1(κ ln|y|)) so that f ≈ κμ keeps its precision for small κ (and in log-sum-exp
/// form for atoms when |y|^κ would overflow). Returns (f, error estimate).
pub fn log_moment(law: &BatchMean, lr: f64, kappa: f64) -> Result<(f64, f64), TheoryError> {
    check_lr(lr)?;
    if let Some((values, probs)) = law.atoms() {
        let ls: Vec<f64> = values.iter().map(|v| (1.0 - lr * v).abs().ln()).collect();
        let top = ls
            .iter()
            .map(|l| kappa * l)
            .fold(f64::NEG_INFINITY, f64::max);
        if top < 700.0 {
            let s: f64 = ls
                .iter()
                .zip(probs)
                .map(|(l, p)| p * (kappa * l).exp_m1())
                .sum();
            let err = 4.0 * values.len() as f64 * f64::EPSILON * (1.0 + s.abs());
            return Ok((s.ln_1p(), err / (1.0 + s).max(f64::MIN_POSITIVE)));
        }
        let s: f64 = ls
            .iter()
            .zip(probs)
            .map(|(l, p)| (p.ln() + kappa * l - top).exp())
            .sum();
        return Ok((
            top + s.ln(),
            4.0 * values.len() as f64 * f64::EPSILON * top.abs(),
        ));
    }
    let i = law.expect(lr, |y| (kappa * y.abs().ln()).exp_m1(), QUAD_TOL)?;
    let f = i.value.ln_1p();
    Ok((f, i.error / (1.0 + i.value).max(f64::MIN_POSITIVE)))
}

/// P(|1 − λx̄| > 1), and whether |1 − λx̄| ≤ 1 almost surely.
fn expanding(law: &BatchMean, lr: f64) -> Result<f64, TheoryError> {
    match law {
        BatchMean::Atoms { values, probs, .. } => Ok(values
            .iter()
            .zip(probs)
            .filter(|(v, _)| (1.0 - lr * **v).abs() > 1.0)
            .map(|(_, p)| p)
            .sum()),
        BatchMean::Uniform { lo, hi, .. } => {
            if (1.0 - lr * lo).abs().max((1.0 - lr * hi).abs()) <= 1.0 {
                return Ok(0.0);
            }
            Ok(law
                .expect(lr, |y| if y.abs() > 1.0 { 1.0 } else { 0.0 }, QUAD_TOL)?
                .value)
        }
        BatchMean::Gaussian { .. } => Ok(law
            .expect(lr, |y| if y.abs() > 1.0 { 1.0 } else { 0.0 }, QUAD_TOL)?
            .value),
    }
}

/// The Kesten–Goldie tail exponent κ of the stationary law of w ← (1 − λx̄)w + λσξ for the
/// data law `noise` (σ > 0 arbitrary).
///
/// # Errors
/// `InvalidArgument` (`lr`, the law's arguments); `NoSolution` when μ ≥ 0 (no stationary law:
/// |w_t| grows), or when |1 − λx̄| ≤ 1 almost surely (E|A|^κ < 1 for all κ > 0: no power-law
/// tail, κ = ∞); `Numeric`.
pub fn tail_exponent(noise: &NoiseLaw, lr: f64) -> Result<TailExponent, TheoryError> {
    check_lr(lr)?;
    let law = BatchMean::from_noise(noise)?;
    tail_exponent_of(&law, lr)
}

/// [`tail_exponent`] for a law of x̄ already built.
pub fn tail_exponent_of(law: &BatchMean, lr: f64) -> Result<TailExponent, TheoryError> {
    check_lr(lr)?;
    let mu = law.mu(lr)?;
    if mu >= 0.0 {
        return Err(TheoryError::NoSolution(format!(
            "μ(λ = {lr}) = {mu} ≥ 0: the multiplicative part does not contract, so w ← \
             (1 − λx̄)w + λσξ has no stationary law and no tail exponent (Prop. 2: escape phase)"
        )));
    }
    let p_out = expanding(law, lr)?;
    if p_out == 0.0 {
        return Err(TheoryError::NoSolution(format!(
            "|1 − λx̄| ≤ 1 almost surely at λ = {lr}: E|1 − λx̄|^κ < 1 for every κ > 0, the \
             stationary law has no power-law tail (κ = ∞)"
        )));
    }
    let err = std::cell::RefCell::new(None);
    let f = |k: f64| match log_moment(law, lr, k) {
        Ok((v, _)) => v,
        Err(e) => {
            err.borrow_mut().get_or_insert(e);
            f64::NAN
        }
    };
    // Bracket: f < 0 on (0, κ), f > 0 beyond.
    let mut b = 1.0;
    let mut a;
    let fb = f(b);
    if fb.is_nan() {
        return Err(err.into_inner().unwrap_or_else(|| {
            TheoryError::Numeric("tail exponent: E|1 − λx̄|^κ is not finite".into())
        }));
    }
    if fb < 0.0 {
        a = b;
        while f(b) < 0.0 {
            a = b;
            b *= 2.0;
            if b > 1e6 {
                return Err(TheoryError::Numeric(format!(
                    "tail exponent: E|1 − λx̄|^κ < 1 up to κ = 10⁶ (P(|1 − λx̄| > 1) = {p_out})"
                )));
            }
        }
    } else if fb > 0.0 {
        a = 0.5;
        while f(a) > 0.0 {
            b = a;
            a *= 0.5;
            if a < 1e-300 {
                return Err(TheoryError::Numeric(
                    "tail exponent: no sign change above κ = 10⁻³⁰⁰".into(),
                ));
            }
        }
    } else {
        a = 1.0;
    }
    let kappa = if a == b { a } else { brent_root(f, a, b, 0.0)? };
    if let Some(e) = err.into_inner() {
        return Err(e);
    }
    // Error: the error of f at the root over the slope f′(κ) (central difference).
    let (_, f_err) = log_moment(law, lr, kappa)?;
    let h = 1e-5 * kappa;
    let slope = (log_moment(law, lr, kappa + h)?.0 - log_moment(law, lr, kappa - h)?.0) / (2.0 * h);
    let kappa_error = f_err / slope.abs().max(f64::MIN_POSITIVE) + 4.0 * f64::EPSILON * kappa;
    Ok(TailExponent {
        lr,
        mu,
        kappa,
        kappa_error,
        expanding_probability: p_out,
        method: if law.atoms().is_some() {
            Method::Exact
        } else {
            Method::Quadrature
        },
    })
}
