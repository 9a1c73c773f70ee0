//! Stationary densities of the one-dimensional Fokker–Planck equation (App. C, Eqs 52–57).
//!
//! The continuous-time model of SGD is the Itô SDE of Eq. 49,
//! dw = −λ L′(w) dt + (λ/√S) √C(w) dW, with learning rate λ, batch size S, expected loss L and
//! per-sample gradient variance C(w) (not divided by S). Its Fokker–Planck equation (Eq. 52) has,
//! on any interval where C > 0, the zero-flux stationary solution of Eq. 57,
//!
//! P(w) ∝ (1/C(w)) · exp(−(2S/λ) ∫ L′(u)/C(u) du).
//!
//! [`stationary_density`] evaluates Eq. 57 numerically for any L′ and C on a bounded domain;
//! [`QuarticSgd`] holds the closed forms for App. C's landscape L = m w²/2 + b w⁴/4 with
//! C = v w² + Sσ² (Eq. 63 generalised to any data variance v, Eqs 68 and 76 as its σ = 0 and
//! b = 0 cases), their normalisability, and the most probable w of Eq. 65.

use super::{invalid, TheoryError};
use serde::Serialize;

/// The largest number of grid cells any continuous-time routine accepts.
pub(crate) const MAX_CELLS: usize = 10_000_000;

/// Largest change of ln P between neighbouring grid points that [`stationary_density`] accepts
/// before asking for a finer grid (a factor e³ ≈ 20 across one cell).
const MAX_LOG_STEP: f64 = 3.0;

/// Five-point Gauss–Legendre abscissae on [−1, 1].
const GL_X: [f64; 5] = [
    -0.906_179_845_938_664,
    -0.538_469_310_105_683_1,
    0.0,
    0.538_469_310_105_683_1,
    0.906_179_845_938_664,
];
/// Five-point Gauss–Legendre weights on [−1, 1].
const GL_W: [f64; 5] = [
    0.236_926_885_056_189_1,
    0.478_628_670_499_366_5,
    0.568_888_888_888_888_9,
    0.478_628_670_499_366_5,
    0.236_926_885_056_189_1,
];

/// The five Gauss–Legendre points of [a, b] and their weights (exact for polynomials of degree
/// ≤ 9). Shared by the continuous-time modules.
pub(crate) fn gl5_points(a: f64, b: f64) -> [(f64, f64); 5] {
    let half = 0.5 * (b - a);
    let mid = 0.5 * (a + b);
    let mut out = [(0.0, 0.0); 5];
    for (o, (x, w)) in out.iter_mut().zip(GL_X.iter().zip(GL_W.iter())) {
        *o = (mid + half * x, half * w);
    }
    out
}

/// Checks λ and S: both finite and positive.
pub(crate) fn check_lr_batch(lr: f64, batch: f64) -> Result<(), TheoryError> {
    if !(lr.is_finite() && lr > 0.0) {
        return invalid(
            "lr",
            format!("learning rate must be finite and > 0, got {lr}"),
        );
    }
    if !(batch.is_finite() && batch > 0.0) {
        return invalid(
            "batch",
            format!("batch size must be finite and > 0, got {batch}"),
        );
    }
    Ok(())
}

/// Checks a domain [lo, hi]: finite, lo < hi.
pub(crate) fn check_domain(lo: f64, hi: f64) -> Result<(), TheoryError> {
    if !lo.is_finite() {
        return invalid("lo", format!("lower end must be finite, got {lo}"));
    }
    if !hi.is_finite() {
        return invalid("hi", format!("upper end must be finite, got {hi}"));
    }
    if lo >= hi {
        return invalid("hi", format!("need lo < hi, got lo = {lo}, hi = {hi}"));
    }
    Ok(())
}

/// Checks a number of grid cells: `min ≤ cells ≤ MAX_CELLS`.
pub(crate) fn check_cells(cells: usize, min: usize) -> Result<(), TheoryError> {
    if cells < min || cells > MAX_CELLS {
        return invalid(
            "cells",
            format!("number of cells must be in {min}..={MAX_CELLS}, got {cells}"),
        );
    }
    Ok(())
}

/// C(w), checked to be finite and > 0 (the process cannot cross a zero of C).
pub(crate) fn noise_at(
    c: &impl Fn(f64) -> f64,
    w: f64,
    lo: f64,
    hi: f64,
) -> Result<f64, TheoryError> {
    let v = c(w);
    if v.is_finite() && v > 0.0 {
        return Ok(v);
    }
    if v.is_finite() && v <= 0.0 {
        return invalid(
            "c",
            format!(
                "C(w) = {v} ≤ 0 at w = {w} inside [lo, hi] = [{lo}, {hi}]; C must be > 0 on the \
                 domain: the process cannot cross a zero of C, so choose a domain on one side of it"
            ),
        );
    }
    invalid(
        "c",
        format!("C(w) = {v} is not finite at w = {w} inside [lo, hi] = [{lo}, {hi}]"),
    )
}

/// L′(w), checked to be finite.
pub(crate) fn grad_at(
    grad: &impl Fn(f64) -> f64,
    w: f64,
    lo: f64,
    hi: f64,
) -> Result<f64, TheoryError> {
    let g = grad(w);
    if g.is_finite() {
        Ok(g)
    } else {
        invalid(
            "grad",
            format!("L'(w) = {g} is not finite at w = {w} inside [lo, hi] = [{lo}, {hi}]"),
        )
    }
}

/// The derivative of `f` at x ∈ [lo, hi] by finite differences that stay inside [lo, hi]:
/// central with step δ = 6·10⁻⁶·max(|x|, h) (capped at h/2) where there is room, else the
/// second-order one-sided formula (−3f(x) + 4f(x ± δ) − f(x ± 2δ))/(±2δ). Relative error
/// about 10⁻¹⁰ for smooth f.
pub(crate) fn fd_slope(
    f: &impl Fn(f64) -> Result<f64, TheoryError>,
    x: f64,
    lo: f64,
    hi: f64,
    h: f64,
) -> Result<f64, TheoryError> {
    let delta = (6e-6 * x.abs().max(h)).min(0.5 * h);
    if x - lo >= delta && hi - x >= delta {
        return Ok((f(x + delta)? - f(x - delta)?) / (2.0 * delta));
    }
    let d = if x - lo < hi - x { delta } else { -delta };
    Ok((-3.0 * f(x)? + 4.0 * f(x + d)? - f(x + 2.0 * d)?) / (2.0 * d))
}

/// The ith of `cells + 1` equally spaced points of [lo, hi] (the last one is exactly hi).
pub(crate) fn grid_point(lo: f64, hi: f64, cells: usize, i: usize) -> f64 {
    if i == cells {
        hi
    } else {
        lo + (hi - lo) * (i as f64 / cells as f64)
    }
}

/// Cubic Hermite interpolation on [x0, x0 + h] of values y0, y1 with slopes d0, d1: value and
/// derivative at x0 + t·h.
pub(crate) fn hermite(t: f64, h: f64, y0: f64, d0: f64, y1: f64, d1: f64) -> (f64, f64) {
    let t2 = t * t;
    let t3 = t2 * t;
    let h00 = 2.0 * t3 - 3.0 * t2 + 1.0;
    let h10 = t3 - 2.0 * t2 + t;
    let h01 = -2.0 * t3 + 3.0 * t2;
    let h11 = t3 - t2;
    let value = h00 * y0 + h10 * h * d0 + h01 * y1 + h11 * h * d1;
    let g00 = 6.0 * t2 - 6.0 * t;
    let g10 = 3.0 * t2 - 4.0 * t + 1.0;
    let g01 = -g00;
    let g11 = 3.0 * t2 - 2.0 * t;
    let slope = (g00 * y0 + g01 * y1) / h + g10 * d0 + g11 * d1;
    (value, slope)
}

/// Cell index and local coordinate t ∈ [0, 1] of `w` on the uniform grid of [lo, hi] with
/// `cells` cells; `w` outside [lo, hi] is clamped to the nearest end.
pub(crate) fn locate(w: f64, lo: f64, hi: f64, cells: usize) -> (usize, f64) {
    let w = if w.is_nan() { lo } else { w.clamp(lo, hi) };
    let h = (hi - lo) / cells as f64;
    let j = (((w - lo) / h) as usize).min(cells - 1);
    let t = ((w - grid_point(lo, hi, cells, j)) / h).clamp(0.0, 1.0);
    (j, t)
}

/// The stationary density of Eq. 57 on a grid of [lo, hi], normalised on [lo, hi].
///
/// Produced by [`stationary_density`]. The density is that of the Itô SDE of Eq. 49 with
/// reflecting (zero-flux) ends at `lo` and `hi`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StationaryDensity {
    /// Learning rate λ.
    pub lr: f64,
    /// Batch size S.
    pub batch: f64,
    /// Lower end of the domain.
    pub lo: f64,
    /// Upper end of the domain.
    pub hi: f64,
    /// Grid points lo = w₀ < w₁ < … < w_N = hi (N = `cells`, equally spaced).
    pub w: Vec<f64>,
    /// P(wᵢ), normalised so that ∫_lo^hi P = 1 (may underflow to 0 where `log_density` is
    /// below about −745).
    pub density: Vec<f64>,
    /// ln P(wᵢ) (finite wherever C is).
    pub log_density: Vec<f64>,
    /// d ln P/dw at wᵢ, = −C′/C − (2S/λ)L′/C, with C′ by a central difference.
    pub log_density_slope: Vec<f64>,
    /// ∫_lo^{wᵢ} P: 0 at lo, 1 at hi.
    pub cdf: Vec<f64>,
    /// ln Z with Z = ∫_lo^hi C(w)⁻¹ exp(−(2S/λ) ∫_lo^w L′/C du) dw: P = that integrand / Z.
    pub log_normaliser: f64,
    /// The most probable w (global maximum of P on [lo, hi]; an end of the domain when P is
    /// monotone), refined beyond the grid spacing by bisection on d ln P/dw = 0.
    pub mode: f64,
    /// Every local maximum of P on [lo, hi], increasing (ends included where P decreases
    /// inward), refined likewise.
    pub modes: Vec<f64>,
}

impl StationaryDensity {
    /// The tables have the shape [`stationary_density`] gives them (guards hand-made values).
    fn consistent(&self) -> bool {
        let n = self.w.len();
        n >= 2
            && self.density.len() == n
            && self.log_density.len() == n
            && self.log_density_slope.len() == n
            && self.cdf.len() == n
    }

    /// The CDF ∫_lo^w P at any w: cubic Hermite interpolation of [`Self::cdf`] with the exact
    /// slopes P(wᵢ) (error O(h⁴)); 0 below `lo`, 1 above `hi`.
    #[must_use]
    pub fn cdf_at(&self, w: f64) -> f64 {
        if w <= self.lo {
            return 0.0;
        }
        if w >= self.hi {
            return 1.0;
        }
        self.interpolate(w, &self.cdf, &self.density)
            .clamp(0.0, 1.0)
    }

    /// P(w) at any w in [lo, hi]: cubic Hermite interpolation of ln P with the slopes
    /// [`Self::log_density_slope`]; 0 outside [lo, hi].
    #[must_use]
    pub fn density_at(&self, w: f64) -> f64 {
        if !(w >= self.lo && w <= self.hi) {
            return 0.0;
        }
        self.interpolate(w, &self.log_density, &self.log_density_slope)
            .exp()
    }

    /// Cubic Hermite interpolation at w in [lo, hi] of grid values with their slopes (NaN if
    /// the tables are inconsistent).
    fn interpolate(&self, w: f64, values: &[f64], slopes: &[f64]) -> f64 {
        if !self.consistent() {
            return f64::NAN;
        }
        let cells = self.w.len() - 1;
        let (j, t) = locate(w, self.lo, self.hi, cells);
        let h = self.w[j + 1] - self.w[j];
        hermite(t, h, values[j], slopes[j], values[j + 1], slopes[j + 1]).0
    }
}

/// The stationary density of Eq. 57, P ∝ (1/C) exp(−(2S/λ) ∫ L′/C dw), on [lo, hi].
///
/// `grad` is L′(w), `noise` is C(w) (the per-sample gradient variance, not divided by S; add
/// Sσ² for additive noise σ, Eq. 62), `lr` is λ, `batch` is S, and [lo, hi] is cut into `cells`
/// equal cells. The integral ∫_lo^w L′/C is accumulated cell by cell with five-point
/// Gauss–Legendre (error O(h¹⁰) per cell for smooth integrands), the density is kept in log
/// space (no overflow whatever the range of P), and it is normalised by Gauss–Legendre on each
/// cell with ln P at the interior nodes obtained by the same nested rule.
///
/// The result is the zero-flux stationary law of Eq. 49 on [lo, hi] with reflecting ends; on
/// an unbounded domain it is the truncation of Eq. 57 to [lo, hi].
///
/// # Errors
/// - [`TheoryError::InvalidArgument`] `lr`, `batch` (must be finite and > 0), `lo`, `hi`
///   (finite, lo < hi), `cells` (2 ..= 10⁷), `c` when C(w) ≤ 0 or is not finite at a point of
///   the domain (the process cannot cross a zero of C: choose a domain on one side of it),
///   `grad` when L′ is not finite.
/// - [`TheoryError::NotNormalisable`] when ∫ P over [lo, hi] is not finite and positive.
/// - [`TheoryError::Numeric`] when ln P changes by more than 3 between neighbouring grid
///   points (the grid is too coarse for the quadrature to be trusted: increase `cells`), or
///   ∫ L′/C overflows.
pub fn stationary_density(
    grad: impl Fn(f64) -> f64,
    noise: impl Fn(f64) -> f64,
    lr: f64,
    batch: f64,
    lo: f64,
    hi: f64,
    cells: usize,
) -> Result<StationaryDensity, TheoryError> {
    check_lr_batch(lr, batch)?;
    check_domain(lo, hi)?;
    check_cells(cells, 2)?;
    let k = 2.0 * batch / lr;
    // L′/C, checked.
    let ratio = |w: f64| -> Result<f64, TheoryError> {
        let c = noise_at(&noise, w, lo, hi)?;
        Ok(grad_at(&grad, w, lo, hi)? / c)
    };
    // k ∫_a^b L′/C by Gauss–Legendre.
    let phi_step = |a: f64, b: f64| -> Result<f64, TheoryError> {
        let mut s = 0.0;
        for (x, wt) in gl5_points(a, b) {
            s += wt * ratio(x)?;
        }
        Ok(k * s)
    };

    let w: Vec<f64> = (0..=cells).map(|i| grid_point(lo, hi, cells, i)).collect();
    // Φ(wᵢ) = k ∫_lo^{wᵢ} L′/C and ln q at the Gauss points of each cell (q = P·Z).
    let mut phi = vec![0.0; cells + 1];
    let mut inner = Vec::with_capacity(5 * cells);
    for i in 0..cells {
        let (a, b) = (w[i], w[i + 1]);
        for (x, wt) in gl5_points(a, b) {
            let ln_q = -noise_at(&noise, x, lo, hi)?.ln() - (phi[i] + phi_step(a, x)?);
            inner.push((ln_q, wt));
        }
        phi[i + 1] = phi[i] + phi_step(a, b)?;
        if !phi[i + 1].is_finite() {
            return Err(TheoryError::Numeric(format!(
                "(2S/λ)∫ L'/C dw overflows at w = {}",
                w[i + 1]
            )));
        }
    }
    let mut ln_q = Vec::with_capacity(cells + 1);
    for (i, &x) in w.iter().enumerate() {
        ln_q.push(-noise_at(&noise, x, lo, hi)?.ln() - phi[i]);
    }
    for i in 0..cells {
        let step = (ln_q[i + 1] - ln_q[i]).abs();
        if step.is_nan() || step > MAX_LOG_STEP {
            return Err(TheoryError::Numeric(format!(
                "ln P changes by {step:.3} between w = {} and w = {} (more than {MAX_LOG_STEP}): \
                 the grid is too coarse, increase cells (now {cells})",
                w[i],
                w[i + 1]
            )));
        }
    }
    // Normaliser in log space.
    let top = inner
        .iter()
        .map(|&(l, _)| l)
        .chain(ln_q.iter().copied())
        .fold(f64::NEG_INFINITY, f64::max);
    if !top.is_finite() {
        return Err(TheoryError::NotNormalisable(format!(
            "the density of Eq. 57 is not finite on [{lo}, {hi}]"
        )));
    }
    let mut cell_mass = Vec::with_capacity(cells);
    for chunk in inner.chunks(5) {
        cell_mass.push(
            chunk
                .iter()
                .map(|&(l, wt)| wt * (l - top).exp())
                .sum::<f64>(),
        );
    }
    let total: f64 = cell_mass.iter().sum();
    if !(total.is_finite() && total > 0.0) {
        return Err(TheoryError::NotNormalisable(format!(
            "∫ P dw over [{lo}, {hi}] is {total}·e^{top}, not finite and positive"
        )));
    }
    let log_normaliser = top + total.ln();
    let log_density: Vec<f64> = ln_q.iter().map(|l| l - log_normaliser).collect();
    let density: Vec<f64> = log_density.iter().map(|l| l.exp()).collect();
    let mut cdf = Vec::with_capacity(cells + 1);
    let mut acc = 0.0;
    cdf.push(0.0);
    for m in &cell_mass {
        acc += m;
        cdf.push((acc / total).min(1.0));
    }
    cdf[cells] = 1.0;

    let h = (hi - lo) / cells as f64;
    let slope = |x: f64| -> Result<f64, TheoryError> {
        // d ln P/dw = −(ln C)′ − k L′/C.
        let ln_c = |y: f64| Ok(noise_at(&noise, y, lo, hi)?.ln());
        Ok(-fd_slope(&ln_c, x, lo, hi, h)? - k * ratio(x)?)
    };
    let mut log_density_slope = Vec::with_capacity(cells + 1);
    for &x in &w {
        log_density_slope.push(slope(x)?);
    }

    // Local maxima on the grid, refined by bisection on the slope.
    let mut modes = Vec::new();
    let mut best = (f64::NEG_INFINITY, lo);
    for i in 0..=cells {
        let left_ok = i == 0 || ln_q[i] > ln_q[i - 1];
        let right_ok = i == cells || ln_q[i] >= ln_q[i + 1];
        if !(left_ok && right_ok) {
            continue;
        }
        let at = if i == 0 || i == cells {
            w[i]
        } else {
            refine_max(&slope, w[i - 1], w[i], w[i + 1])?
        };
        modes.push(at);
        if ln_q[i] > best.0 {
            best = (ln_q[i], at);
        }
    }
    Ok(StationaryDensity {
        lr,
        batch,
        lo,
        hi,
        w,
        density,
        log_density,
        log_density_slope,
        cdf,
        log_normaliser,
        mode: best.1,
        modes,
    })
}

/// A zero of the slope of ln P near the grid maximum at `mid`, bracketed by its neighbours.
fn refine_max(
    slope: &impl Fn(f64) -> Result<f64, TheoryError>,
    left: f64,
    mid: f64,
    right: f64,
) -> Result<f64, TheoryError> {
    let (mut a, mut b) = if slope(mid)? > 0.0 {
        (mid, right)
    } else {
        (left, mid)
    };
    for _ in 0..200 {
        let m = 0.5 * (a + b);
        if m <= a || m >= b {
            break;
        }
        if slope(m)? > 0.0 {
            a = m;
        } else {
            b = m;
        }
    }
    Ok(0.5 * (a + b))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gl5_is_exact_for_degree_nine() {
        let f = |x: f64| x.powi(9) - 3.0 * x.powi(4) + 1.0;
        let exact = |x: f64| x.powi(10) / 10.0 - 3.0 * x.powi(5) / 5.0 + x;
        let (a, b) = (-0.3, 1.7);
        let q: f64 = gl5_points(a, b).iter().map(|&(x, w)| w * f(x)).sum();
        assert!((q - (exact(b) - exact(a))).abs() < 1e-12);
    }

    #[test]
    fn hermite_reproduces_cubics() {
        let f = |x: f64| 2.0 * x * x * x - x + 0.5;
        let df = |x: f64| 6.0 * x * x - 1.0;
        let (x0, h) = (0.3, 0.25);
        for t in [0.0, 0.2, 0.5, 0.9, 1.0] {
            let (v, s) = hermite(t, h, f(x0), df(x0), f(x0 + h), df(x0 + h));
            assert!((v - f(x0 + t * h)).abs() < 1e-14);
            assert!((s - df(x0 + t * h)).abs() < 1e-13);
        }
    }

    #[test]
    fn arguments_are_checked() {
        let g = |w: f64| w;
        let c = |_: f64| 1.0;
        let name = |r: Result<StationaryDensity, TheoryError>| match r {
            Err(TheoryError::InvalidArgument { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            name(stationary_density(g, c, 0.0, 1.0, -1.0, 1.0, 10)),
            "lr"
        );
        assert_eq!(
            name(stationary_density(g, c, 0.1, -1.0, -1.0, 1.0, 10)),
            "batch"
        );
        assert_eq!(name(stationary_density(g, c, 0.1, 1.0, 1.0, 1.0, 10)), "hi");
        assert_eq!(
            name(stationary_density(g, c, 0.1, 1.0, f64::NAN, 1.0, 10)),
            "lo"
        );
        assert_eq!(
            name(stationary_density(g, c, 0.1, 1.0, -1.0, 1.0, 1)),
            "cells"
        );
        // C = w² vanishes at 0 inside [−1, 1].
        assert_eq!(
            name(stationary_density(
                g,
                |w: f64| w * w,
                0.1,
                1.0,
                -1.0,
                1.0,
                10
            )),
            "c"
        );
        assert_eq!(
            name(stationary_density(|_| f64::NAN, c, 0.1, 1.0, -1.0, 1.0, 10)),
            "grad"
        );
        assert!(matches!(QuarticSgd::new(0.0, 1.0, 0.0, 0.0, 0.1, 1.0),
            Err(TheoryError::InvalidArgument { name, .. }) if name == "sigma"));
    }

    #[test]
    fn coarse_grid_is_refused() {
        // P ∝ exp(−50 w²/…) changes by far more than e³ per cell on 4 cells.
        let r = stationary_density(|w| 100.0 * w, |_| 1.0, 0.1, 1.0, -1.0, 1.0, 4);
        assert!(matches!(r, Err(TheoryError::Numeric(_))), "{r:?}");
    }
}
