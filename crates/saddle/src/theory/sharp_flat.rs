//! The sharp-versus-flat construction of §5.3 (Eqs 9–11, Def. 4) and Prop. 4's learning-rate
//! bound (App. D.3, Eqs 92–99).
//!
//! With E x = 0 the expected loss of Eq. 9 is
//! L = −(w₁² + w₂²) + w₁⁴ + 6w₁²w₂² + w₂⁴ − a w₂², with Hessian
//! [[−2 + 12w₁² + 12w₂², 24w₁w₂], [24w₁w₂, −2 − 2a + 12w₁² + 12w₂²]] (Eq. 10 is its
//! diagonal). Its four minima (Eq. 11) are the *flat* (±1/√2, 0), Hessian diag(4, 4 − 2a), and
//! the *sharp* (0, ±√((1 + a)/2)), Hessian diag(4 + 6a, 4 + 4a). Eq. 11 quotes s = 4 and
//! s = 4 + 4a, the curvature along each minimum's own axis; the sharpness of Def. 4 (the trace)
//! is 8 − 2a and 8 + 10a. All four are minima for −2/3 < a < 2; the sharp ones are sharper
//! (larger trace) for a > 0.
//!
//! Prop. 4: with x = ±1, |w₁|, |w₂| ≤ 1 and b = 1/λ − 6, one step multiplies w₁ by at most
//! r = 8λ (x = +1) or r = 2·max(|1 − 2λ|, |1 − 10λ|) (x = −1) in absolute value (Eq. 97), so w₁
//! → 0 in probability (and SGD can only end at the sharp minima) when E ln r < 0. With
//! Eq. 97's factors E ln r = ½ ln[16λ·max(|1 − 2λ|, |1 − 10λ|)], negative iff
//! λ < (2 − √2)/8 ≈ 0.0732. Eq. 98 as printed, ½ ln[8λ·max(…)], drops the factor 2 of r for
//! x ≤ 0 and gives the paper's λ ≤ (1 + √6)/20 ≈ 0.1725 (Eq. 99). Both are reported.

use crate::numeric::all_roots;
use crate::theory::log_moments::{check_lr, ln_abs_factor};
use crate::theory::{invalid, TheoryError};

/// Whether a minimum of Eq. 9 is one of the flat or the sharp pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MinimumKind {
    /// (±1/√2, 0).
    Flat,
    /// (0, ±√((1 + a)/2)).
    Sharp,
}

/// One of the four minima of Eq. 11.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Minimum {
    /// `flat` or `sharp`.
    pub kind: MinimumKind,
    /// (w₁, w₂).
    pub w: [f64; 2],
    /// The expected loss there: −¼ (flat) or −(1 + a)²/4 (sharp).
    pub loss: f64,
    /// The Hessian of the expected loss (Eq. 10 is its diagonal; off-diagonal 24w₁w₂ = 0).
    pub hessian: [[f64; 2]; 2],
    /// The curvature Eq. 11 quotes: along w₁ for the flat minima (4), along w₂ for the sharp
    /// ones (4 + 4a).
    pub eq11_sharpness: f64,
    /// Def. 4's sharpness, the Hessian trace: 8 − 2a (flat), 8 + 10a (sharp).
    pub trace: f64,
}

/// Prop. 4's contraction bound at a learning rate (Eqs 95–98).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Contraction {
    /// λ.
    pub lr: f64,
    /// The proof's b = 1/λ − 6 (positive only for λ < 1/6, as Eq. 9 assumes b > 0).
    pub b: f64,
    /// r for x = +1 (Eq. 97): 8λ (`"inf"` in JSON where it overflows).
    #[serde(serialize_with = "crate::numeric::serialize_f64")]
    pub r_plus: f64,
    /// r for x = −1 (Eq. 97): 2·max(|1 − 2λ|, |1 − 10λ|) (`"inf"` in JSON where it overflows).
    #[serde(serialize_with = "crate::numeric::serialize_f64")]
    pub r_minus: f64,
    /// E ln r = ½ ln(r₊ r₋) = ½ ln[16λ·max(|1 − 2λ|, |1 − 10λ|)] with Eq. 97's factors.
    pub mean_ln_r: f64,
    /// Eq. 98 as printed: ½ ln[8λ·max(|1 − 2λ|, |1 − 10λ|)].
    pub mean_ln_r_eq98: f64,
    /// Whether E ln r < 0 (w₁ → 0 in probability, SGD ends at a sharp minimum if it converges).
    pub sharp_guaranteed: bool,
}

/// Everything about the construction: the result of [`sharp_flat`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SharpFlatTheory {
    /// The asymmetry a.
    pub a: f64,
    /// The four minima: flat (+, −), then sharp (+, −).
    pub minima: Vec<Minimum>,
    /// Eq. 99 as printed: λ ≤ (1 + √6)/20 ≈ 0.17247 (from Eq. 98 as printed).
    pub lr_bound_paper: f64,
    /// The bound from Eq. 97's factors: E ln r < 0 iff λ < (2 − √2)/8 ≈ 0.07322.
    pub lr_bound: f64,
    /// The same bound found numerically as the root of E ln r(λ) on (0, 1/6].
    pub lr_bound_numeric: f64,
    /// The root of Eq. 98 as printed on (0, 1], numerically ((1 + √6)/20).
    pub lr_bound_paper_numeric: f64,
    /// The contraction at the requested λ, if any.
    pub contraction: Option<Contraction>,
}

/// The Hessian of the expected loss of Eq. 9 (E x = 0) at w.
pub fn hessian(a: f64, w: [f64; 2]) -> [[f64; 2]; 2] {
    let q = 12.0 * (w[0] * w[0] + w[1] * w[1]);
    let off = 24.0 * w[0] * w[1];
    [[-2.0 + q, off], [off, -2.0 - 2.0 * a + q]]
}

/// The expected loss of Eq. 9 with E x = 0.
pub fn expected_loss(a: f64, w: [f64; 2]) -> f64 {
    let (u, v) = (w[0] * w[0], w[1] * w[1]);
    -(u + v) + u * u + 6.0 * u * v + v * v - a * v
}

/// The four minima of Eq. 11 with their Hessians and sharpnesses.
///
/// # Errors
/// `InvalidArgument` (`a`) unless −2/3 < a < 2 (where all four are minima; Eq. 9 takes a > 0).
pub fn minima(a: f64) -> Result<Vec<Minimum>, TheoryError> {
    if !(a.is_finite() && a > -2.0 / 3.0 && a < 2.0) {
        return invalid(
            "a",
            format!(
                "the four points of Eq. 11 are minima for −2/3 < a < 2 (the flat Hessian \
                 diag(4, 4 − 2a), the sharp one diag(4 + 6a, 4 + 4a)); got {a}"
            ),
        );
    }
    let f = std::f64::consts::FRAC_1_SQRT_2;
    let s = (0.5 * (1.0 + a)).sqrt();
    let mut out = Vec::new();
    for (kind, w) in [
        (MinimumKind::Flat, [f, 0.0]),
        (MinimumKind::Flat, [-f, 0.0]),
        (MinimumKind::Sharp, [0.0, s]),
        (MinimumKind::Sharp, [0.0, -s]),
    ] {
        let h = hessian(a, w);
        out.push(Minimum {
            kind,
            w,
            loss: expected_loss(a, w),
            hessian: h,
            eq11_sharpness: match kind {
                MinimumKind::Flat => h[0][0],
                MinimumKind::Sharp => h[1][1],
            },
            trace: h[0][0] + h[1][1],
        });
    }
    Ok(out)
}

/// Prop. 4's contraction factors and E ln r at λ (Eqs 97–98).
pub fn contraction(lr: f64) -> Result<Contraction, TheoryError> {
    check_lr(lr)?;
    let m = (1.0 - 2.0 * lr).abs().max((1.0 - 10.0 * lr).abs());
    let r_plus = 8.0 * lr;
    let r_minus = 2.0 * m;
    let mean_ln_r = contraction_value(lr, 16.0);
    Ok(Contraction {
        lr,
        b: 1.0 / lr - 6.0,
        r_plus,
        r_minus,
        mean_ln_r,
        mean_ln_r_eq98: contraction_value(lr, 8.0),
        sharp_guaranteed: mean_ln_r < 0.0,
    })
}

/// (2 − √2)/8: E ln r < 0 iff 0 < λ < this (Eq. 97's factors; 16λ(1 − 2λ) = 1 for λ ≤ 1/6,
/// and 16λ(10λ − 1) > 1 for every λ > 1/6).
pub fn lr_bound() -> f64 {
    (2.0 - std::f64::consts::SQRT_2) / 8.0
}

/// (1 + √6)/20 (Eq. 99, from Eq. 98 as printed: 80λ² − 8λ − 1 = 0).
pub fn lr_bound_paper() -> f64 {
    (1.0 + 6f64.sqrt()) / 20.0
}

/// The construction at asymmetry `a`, and Prop. 4's contraction at `lr` if given.
///
/// # Errors
/// `InvalidArgument` (`a`, see [`minima`]; `lr` ≤ 0 or non-finite).
pub fn sharp_flat(a: f64, lr: Option<f64>) -> Result<SharpFlatTheory, TheoryError> {
    let minima = minima(a)?;
    let contraction = lr.map(contraction).transpose()?;
    let ln_r = |l: f64| contraction_value(l, 16.0);
    let ln_r98 = |l: f64| contraction_value(l, 8.0);
    let one = |roots: Vec<f64>, what: &str| -> Result<f64, TheoryError> {
        match roots.as_slice() {
            [r] => Ok(*r),
            _ => Err(TheoryError::Numeric(format!(
                "{what}: expected one root, found {roots:?}"
            ))),
        }
    };
    // m(λ) > 0 everywhere (no poles); the kink at λ = 1/6 is continuous.
    let lr_bound_numeric = one(
        all_roots(ln_r, 1e-9, 1.0 / 6.0, &[], 1000)?,
        "E ln r(λ) = 0",
    )?;
    let lr_bound_paper_numeric = one(all_roots(ln_r98, 1e-9, 1.0, &[], 1000)?, "Eq. 98 = 0")?;
    Ok(SharpFlatTheory {
        a,
        minima,
        lr_bound_paper: lr_bound_paper(),
        lr_bound: lr_bound(),
        lr_bound_numeric,
        lr_bound_paper_numeric,
        contraction,
    })
}

/// ½ ln[k·λ·max(|1 − 2λ|, |1 − 10λ|)] (k = 16: Eq. 97; k = 8: Eq. 98 as printed).
fn contraction_value(lr: f64, k: f64) -> f64 {
    // ½[ln k + ln λ + ln m]: logarithms summed, never of a product that could overflow
    // (λ = 10³⁰⁰: kλm = ∞ while the value is ≈ 692); ln m = max(ln|1 − 2λ|, ln|1 − 10λ|)
    // without forming 10λ.
    let ln_m = ln_abs_factor(lr, 2.0).max(ln_abs_factor(lr, 10.0));
    0.5 * (k.ln() + lr.ln() + ln_m)
}
