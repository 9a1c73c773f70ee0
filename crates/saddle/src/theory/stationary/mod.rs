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

use super::TheoryError;
use serde::Serialize;

mod grid;
mod quartic;

pub(crate) use grid::{
    check_cells, check_domain, check_lr_batch, fd_slope, gl5_points, grad_at, grid_point, hermite,
    locate, noise_at,
};
pub use quartic::{concentration_threshold_m, critical_m, Normalisability, QuarticSgd};

/// Largest change of ln P between neighbouring grid points that [`stationary_density`] accepts
/// before asking for a finer grid (a factor e³ ≈ 20 across one cell).
const MAX_LOG_STEP: f64 = 3.0;

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

#[cfg(test)]
mod tests {
    use super::*;

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
