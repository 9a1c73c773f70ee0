//! The grid kit of the continuous-time modules ([`super`], [`crate::theory::fokker_planck`],
//! [`crate::theory::designed_noise`]): argument checks, L′ and C on a grid, five-point
//! Gauss–Legendre cells and cubic Hermite interpolation.

use crate::theory::{invalid, TheoryError};

/// The largest number of grid cells any continuous-time routine accepts.
pub(crate) const MAX_CELLS: usize = 10_000_000;

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
}
