//! App. C's quartic landscape in closed form: its stationary density (Eq. 63 generalised,
//! Eqs 68 and 76), normalisability and most probable w (Eq. 65).

use super::check_lr_batch;
use crate::theory::{invalid, TheoryError};
use serde::Serialize;

/// App. C's landscape with its continuous-time noise: L(w) = m w²/2 + b w⁴/4 (Eq. 58) and
/// C(w) = v w² + Sσ² (Eq. 62 with data variance v; the paper takes v = 1).
///
/// This is SGD on L̂ = x w²/2 + b w⁴/4 with data mean m = E\[x\] and variance v = Var x, batch
/// S, and injected Gaussian noise of standard deviation σ in the gradient, in the
/// continuous-time limit of Eq. 49. Build it with [`QuarticSgd::new`], which checks the
/// arguments; the methods assume a checked value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct QuarticSgd {
    /// Data mean m = E\[x\] (the paper's a in App. C).
    pub m: f64,
    /// Quartic coefficient b.
    pub b: f64,
    /// Data variance v = Var x (the per-sample gradient variance is v w²).
    pub v: f64,
    /// Injected (additive) noise standard deviation σ.
    pub sigma: f64,
    /// Learning rate λ.
    pub lr: f64,
    /// Batch size S.
    pub batch: f64,
}

/// Where the closed-form stationary density of [`QuarticSgd`] can be normalised.
///
/// With σ > 0 the domain is the whole line; with σ = 0 the noise vanishes at w = 0, which the
/// process cannot cross, so the domain is one half-line (either: the density is even).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Normalisability {
    /// P(w) → ∞ as w → 0 (σ = 0 and −Sm/(λv) < 1, Eq. 69).
    pub diverges_at_zero: bool,
    /// ∫ P is finite near w = 0 (always with σ > 0; with σ = 0 iff −Sm/(λv) > 1/2).
    pub integrable_at_zero: bool,
    /// ∫ P is finite towards |w| → ∞ (b > 0; or b = 0 and −Sm/(λv) < 1/2, i.e. m > −λv/(2S);
    /// with v = 0, b = 0: m > 0).
    pub integrable_at_infinity: bool,
    /// Both: a stationary probability density exists on the domain.
    pub normalisable: bool,
}

impl QuarticSgd {
    /// Checks and builds the parameters.
    ///
    /// # Errors
    /// [`TheoryError::InvalidArgument`] naming `m`, `b`, `v`, `sigma`, `lr` or `batch` when a
    /// value is not finite, λ ≤ 0, S ≤ 0, v < 0, σ < 0, or v = σ = 0 (no noise: no stationary
    /// density).
    pub fn new(
        m: f64,
        b: f64,
        v: f64,
        sigma: f64,
        lr: f64,
        batch: f64,
    ) -> Result<Self, TheoryError> {
        check_lr_batch(lr, batch)?;
        if !m.is_finite() {
            return invalid("m", format!("data mean must be finite, got {m}"));
        }
        if !b.is_finite() {
            return invalid("b", format!("quartic coefficient must be finite, got {b}"));
        }
        if !(v.is_finite() && v >= 0.0) {
            return invalid(
                "v",
                format!("data variance must be finite and ≥ 0, got {v}"),
            );
        }
        if !(sigma.is_finite() && sigma >= 0.0) {
            return invalid(
                "sigma",
                format!("noise level must be finite and ≥ 0, got {sigma}"),
            );
        }
        if v == 0.0 && sigma == 0.0 {
            return invalid(
                "sigma",
                "v = 0 and sigma = 0: without noise there is no stationary density",
            );
        }
        Ok(Self {
            m,
            b,
            v,
            sigma,
            lr,
            batch,
        })
    }

    /// L′(w) = m w + b w³ (Eq. 58).
    #[must_use]
    pub fn grad(&self, w: f64) -> f64 {
        self.m * w + self.b * w * w * w
    }

    /// C(w) = v w² + Sσ² (Eq. 62).
    #[must_use]
    pub fn noise(&self, w: f64) -> f64 {
        self.v * w * w + self.batch * self.sigma * self.sigma
    }

    /// The power κ of (v w² + Sσ²) in Eq. 63 generalised: κ = −1 − Sm/(λv) + S²bσ²/(λv²).
    ///
    /// With v = 1 this is Eq. 63's −1 − Sa/λ + S²bσ²/λ; with σ = 0 the density is
    /// |w|^{2κ} exp(−Sbw²/(λv)) up to a constant (Eq. 68). `None` when v = 0 (pure additive
    /// noise: P ∝ exp(−2L/(λσ²)), no power).
    #[must_use]
    pub fn exponent(&self) -> Option<f64> {
        if self.v == 0.0 {
            return None;
        }
        let s = self.batch;
        let sig2 = self.sigma * self.sigma;
        Some(
            -1.0 - s * self.m / (self.lr * self.v)
                + s * s * self.b * sig2 / (self.lr * self.v * self.v),
        )
    }

    /// ln of the unnormalised stationary density (Eq. 63 generalised; Eq. 68 at σ = 0;
    /// Eq. 76 at σ = 0, b = 0):
    ///
    /// ln P(w) = κ ln(v w² + Sσ²) − S b w²/(λ v) with κ from [`Self::exponent`],
    ///
    /// and, for v = 0 (C = Sσ² constant), ln P(w) = −2L(w)/(λσ²). At σ = 0, w = 0 this is +∞
    /// (κ < 0), −∞ (κ > 0) or 0 (κ = 0). Derivation: with s = Sσ²,
    /// ∫ (m w + b w³)/(v w² + s) dw = b w²/(2v) + (m − bs/v) ln(v w² + s)/(2v); multiply by
    /// −2S/λ and add −ln C (Eq. 57).
    #[must_use]
    pub fn log_density(&self, w: f64) -> f64 {
        let (s, lr) = (self.batch, self.lr);
        match self.exponent() {
            None => {
                let loss = 0.5 * self.m * w * w + 0.25 * self.b * w * w * w * w;
                -2.0 * loss / (lr * self.sigma * self.sigma)
            }
            Some(kappa) => {
                let c = self.noise(w);
                let power = if c == 0.0 {
                    if kappa < 0.0 {
                        f64::INFINITY
                    } else if kappa > 0.0 {
                        f64::NEG_INFINITY
                    } else {
                        0.0
                    }
                } else {
                    kappa * c.ln()
                };
                power - s * self.b * w * w / (lr * self.v)
            }
        }
    }

    /// Where the density of [`Self::log_density`] is normalisable (see [`Normalisability`]).
    ///
    /// With σ = 0 the density is |w|^{2κ}·exp(−Sbw²/(λv)), κ = −1 − Sm/(λv): it diverges at 0
    /// iff κ < 0 (−Sm/(λv) < 1, Eq. 69) but is integrable there iff 2κ > −1, i.e.
    /// −Sm/(λv) > 1/2 ([`concentration_threshold_m`]). For 1/2 < −Sm/(λv) < 1 it diverges at 0
    /// yet is normalisable, contrary to the text after Eq. 69.
    #[must_use]
    pub fn normalisability(&self) -> Normalisability {
        let r = if self.v > 0.0 {
            -self.batch * self.m / (self.lr * self.v)
        } else {
            f64::NAN
        };
        let (diverges_at_zero, integrable_at_zero) = if self.sigma > 0.0 {
            (false, true)
        } else {
            (r < 1.0, r > 0.5)
        };
        let integrable_at_infinity = if self.b > 0.0 {
            true
        } else if self.b < 0.0 {
            false
        } else if self.v > 0.0 {
            // Tail |w|^{2κ} with κ = −1 − Sm/(λv) (the σ term carries b = 0).
            r < 0.5
        } else {
            self.m > 0.0
        };
        Normalisability {
            diverges_at_zero,
            integrable_at_zero,
            integrable_at_infinity,
            normalisable: integrable_at_zero && integrable_at_infinity,
        }
    }

    /// The most probable w ≥ 0 of Eq. 65 (the density is even, so −ŵ is one too):
    /// ŵ = 0 if m > −λv/S, else ŵ = √(−λv/(Sb) − m/b); the same for every σ ≥ 0.
    ///
    /// Derivation: d ln P/dw = 2w[κv/(vw² + Sσ²) − Sb/(λv)] vanishes at w = 0 or at
    /// w² = −λv/(Sb) − m/b. With σ = 0 and m > −λv/S the "maximum" at 0 is the divergence of
    /// Eq. 68. For v = 0 the formula gives the minimum of L.
    ///
    /// # Errors
    /// [`TheoryError::InvalidArgument`] `b` when b < 0 (P grows without bound);
    /// [`TheoryError::NoSolution`] when b = 0 and m ≤ −λv/S (P increases towards |w| → ∞).
    pub fn most_probable_w(&self) -> Result<f64, TheoryError> {
        if self.b < 0.0 {
            return invalid(
                "b",
                format!(
                    "Eq. 65 needs b ≥ 0 (P grows without bound for b < 0), got {}",
                    self.b
                ),
            );
        }
        let critical = -self.lr * self.v / self.batch;
        if self.m > critical {
            return Ok(0.0);
        }
        if self.b == 0.0 {
            return Err(TheoryError::NoSolution(format!(
                "with b = 0 and m = {} ≤ −λv/S = {critical}, P increases towards |w| → ∞",
                self.m
            )));
        }
        Ok(((critical - self.m) / self.b).max(0.0).sqrt())
    }
}

/// The critical data mean of Eq. 65, m_c = −λv/S: the most probable w leaves 0 for m < m_c
/// (Eq. 77's −Sm/(λv) > 1; the paper has v = 1).
///
/// # Errors
/// [`TheoryError::InvalidArgument`] `lr`, `batch` (finite, > 0), `v` (finite, ≥ 0).
pub fn critical_m(v: f64, lr: f64, batch: f64) -> Result<f64, TheoryError> {
    check_lr_batch(lr, batch)?;
    if !(v.is_finite() && v >= 0.0) {
        return invalid(
            "v",
            format!("data variance must be finite and ≥ 0, got {v}"),
        );
    }
    Ok(-lr * v / batch)
}

/// The concentration threshold without additive noise, m = −λv/(2S): for σ = 0 the density of
/// Eq. 68 is integrable at w = 0 iff m < −λv/(2S), i.e. −Sm/(λv) > 1/2; for m ≥ −λv/(2S) the
/// probability concentrates at w = 0 (SGD is trapped at the saddle).
///
/// This is the true escape condition of the continuous-time model, not Eq. 77's
/// −Sm/(λv) > 1 (which is where the peaks of P leave 0, [`critical_m`]): ln|w| has Itô drift
/// −λm − λ²v/(2S) near w = 0, negative iff −Sm/(λv) < 1/2. It is the small-λ limit of the
/// discrete condition μ(λ) = E ln|1 − λx| < 0 (Prop. 2), since
/// μ = −λm − λ²(v + m²)/2 + O(λ³) at S = 1.
///
/// # Errors
/// As [`critical_m`].
pub fn concentration_threshold_m(v: f64, lr: f64, batch: f64) -> Result<f64, TheoryError> {
    Ok(0.5 * critical_m(v, lr, batch)?)
}
