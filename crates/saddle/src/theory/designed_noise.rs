//! Designed noise (App. D.5, Props 8–10, Eq. 117, Examples 1–2, Fig. 10): the noise C(w) that
//! makes a chosen density p(w) the stationary law of the continuous-time SGD of Eq. 49 on a
//! given landscape L.
//!
//! Zero flux in Eq. 56 with P = p gives λL′p + (λ²/2S)(Cp)′ = 0, so
//!
//! C(w) = (1/p(w)) [c₀ − (2S/λ) ∫_lo^w L′(u) p(u) du]   (Eq. 117 with the integral from lo),
//!
//! and the integration constant c₀ must keep C ≥ 0 on the domain:
//! c₀ ≥ c₀,min = (2S/λ) max_{w ∈ [lo, hi]} ∫_lo^w L′p. [`DesignedNoise`] builds this C on a
//! bounded domain [lo, hi] for any L′ and positive target p (unnormalised is fine: scaling p
//! by k scales c₀ by k and leaves C unchanged) and evaluates C and C′ in O(1).
//! [`Example1`] and [`Example2`] are the paper's closed forms.

use super::stationary::{
    check_cells, check_domain, check_lr_batch, fd_slope, gl5_points, grad_at, grid_point, hermite,
    locate,
};
use super::{invalid, TheoryError};
use crate::numeric::{erf, erfc};
use serde::Serialize;

/// How the integration constant c₀ of Eq. 117 is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum C0Choice {
    /// c₀ = c₀,min: the smallest value with C ≥ 0 on [lo, hi]; C then vanishes at
    /// [`DesignedNoise::binding_w`].
    Minimal,
    /// c₀ = c₀,min + margin (margin ≥ 0): C > 0 on the whole domain.
    Margin(f64),
    /// c₀ given (in the convention of Eq. 117 with ∫_lo^w and the target exactly as passed);
    /// must be ≥ c₀,min.
    Value(f64),
}

/// Options of [`DesignedNoise::new`].
#[derive(Clone, Copy)]
pub struct DesignOptions<'a> {
    /// Cells of the uniform interpolation grid on [lo, hi] (2 ..= 10⁷; default 4096).
    pub cells: usize,
    /// Choice of c₀ (default [`C0Choice::Minimal`]).
    pub c0: C0Choice,
    /// p′(w), if known; otherwise (ln p)′ is taken by central differences (relative error
    /// about 10⁻¹⁰).
    pub target_slope: Option<&'a dyn Fn(f64) -> f64>,
}

impl Default for DesignOptions<'_> {
    fn default() -> Self {
        Self {
            cells: 4096,
            c0: C0Choice::Minimal,
            target_slope: None,
        }
    }
}

impl std::fmt::Debug for DesignOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesignOptions")
            .field("cells", &self.cells)
            .field("c0", &self.c0)
            .field("target_slope", &self.target_slope.map(|_| ".."))
            .finish()
    }
}

/// The noise C(w) of Prop. 10 / Eq. 117 that makes the target p stationary for L′, on
/// [lo, hi].
///
/// Stored as tables on a uniform grid: F(w) = ∫_lo^w L′p (five-point Gauss–Legendre per cell)
/// with its exact slope F′ = L′p, and ln p with its slope p′/p; both are interpolated by cubic
/// Hermite polynomials (error O(h⁴)), so that evaluating C = (c₀ − (2S/λ)F)/p and
/// C′ = −(2S/λ)F′/p − C·p′/p costs O(1). The C′ returned is the exact derivative of the C
/// returned. Outside [lo, hi] the values at the nearest end are returned, with C′ = 0.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DesignedNoise {
    /// Learning rate λ.
    pub lr: f64,
    /// Batch size S.
    pub batch: f64,
    /// Lower end of the domain.
    pub lo: f64,
    /// Upper end of the domain.
    pub hi: f64,
    /// Cells of the interpolation grid.
    pub cells: usize,
    /// The integration constant used (Eq. 117 with ∫ from lo, target as passed).
    pub c0: f64,
    /// The smallest c₀ with C ≥ 0 on [lo, hi]: (2S/λ) max_w ∫_lo^w L′p (≥ 0).
    pub c0_min: f64,
    /// Where that maximum is attained: with c₀ = c₀,min, C vanishes there. At an end of the
    /// domain this is harmless; inside it, C has a double zero that the process cannot cross
    /// (use a margin).
    pub binding_w: f64,
    /// min C over the grid points.
    pub min_noise: f64,
    /// max C over the grid points.
    pub max_noise: f64,
    #[serde(skip)]
    k: f64,
    /// F at the grid points, and F′·h.
    #[serde(skip)]
    f: Vec<f64>,
    #[serde(skip)]
    df: Vec<f64>,
    /// ln p at the grid points, and (ln p)′.
    #[serde(skip)]
    lp: Vec<f64>,
    #[serde(skip)]
    dlp: Vec<f64>,
}

/// C, C′ and ln p on an equally spaced set of points (see [`DesignedNoise::tabulate`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NoiseTable {
    /// Points lo = w₀ < … < w_{n−1} = hi.
    pub w: Vec<f64>,
    /// C(wᵢ).
    pub noise: Vec<f64>,
    /// C′(wᵢ).
    pub noise_slope: Vec<f64>,
    /// ln p(wᵢ) of the target as passed (unnormalised), interpolated.
    pub log_target: Vec<f64>,
}

impl DesignedNoise {
    /// Builds the noise of Eq. 117 for L′ = `grad` and target density `target` (positive and
    /// finite on [lo, hi], not necessarily normalised), λ = `lr`, S = `batch`.
    ///
    /// # Errors
    /// - [`TheoryError::InvalidArgument`] `lr`, `batch`, `lo`, `hi`, `cells` as for
    ///   [`super::stationary::stationary_density`]; `grad` (L′ not finite); `target` (p not
    ///   positive and finite at some w, which is named); `target_slope` (not finite); `c0`
    ///   (a given c₀ below c₀,min, both named; a margin negative or not finite).
    /// - [`TheoryError::MomentDoesNotExist`] when ∫ L′p diverges (is not finite) on [lo, hi].
    /// - [`TheoryError::Numeric`] when C is not finite at a grid point (p too small there).
    pub fn new(
        grad: impl Fn(f64) -> f64,
        target: impl Fn(f64) -> f64,
        lr: f64,
        batch: f64,
        lo: f64,
        hi: f64,
        options: DesignOptions<'_>,
    ) -> Result<Self, TheoryError> {
        check_lr_batch(lr, batch)?;
        check_domain(lo, hi)?;
        let cells = options.cells;
        check_cells(cells, 2)?;
        let k = 2.0 * batch / lr;
        let h = (hi - lo) / cells as f64;
        let p_at = |w: f64| -> Result<f64, TheoryError> {
            let v = target(w);
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                invalid(
                    "target",
                    format!(
                        "target density p({w}) = {v}: it must be positive and finite on \
                         [lo, hi] = [{lo}, {hi}]"
                    ),
                )
            }
        };
        let w: Vec<f64> = (0..=cells).map(|i| grid_point(lo, hi, cells, i)).collect();
        let mut f = Vec::with_capacity(cells + 1);
        let mut df = Vec::with_capacity(cells + 1);
        let mut lp = Vec::with_capacity(cells + 1);
        let mut dlp = Vec::with_capacity(cells + 1);
        let mut acc = 0.0;
        for (i, &x) in w.iter().enumerate() {
            if i > 0 {
                for (y, wt) in gl5_points(w[i - 1], x) {
                    acc += wt * grad_at(&grad, y, lo, hi)? * p_at(y)?;
                }
                if !acc.is_finite() {
                    return Err(TheoryError::MomentDoesNotExist(format!(
                        "∫ L'(u) p(u) du from {lo} to {x} is not finite"
                    )));
                }
            }
            let p = p_at(x)?;
            f.push(acc);
            df.push(grad_at(&grad, x, lo, hi)? * p * h);
            lp.push(p.ln());
            let slope = match options.target_slope {
                Some(ds) => {
                    let s = ds(x) / p;
                    if !s.is_finite() {
                        return invalid(
                            "target_slope",
                            format!("p'({x})/p({x}) = {s} is not finite"),
                        );
                    }
                    s
                }
                None => fd_slope(&|y: f64| Ok(p_at(y)?.ln()), x, lo, hi, h)?,
            };
            dlp.push(slope);
        }

        // c₀,min = k · max of the Hermite interpolant of F (so the evaluated C is ≥ 0).
        let mut best = (f[0], lo);
        for j in 0..cells {
            for (t, v) in cubic_maxima(f[j], df[j], f[j + 1], df[j + 1]) {
                if v > best.0 {
                    best = (v, w[j] + t * h);
                }
            }
        }
        let c0_min = k * best.0;
        let scale = k * f.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        let c0 = match options.c0 {
            C0Choice::Minimal => c0_min,
            C0Choice::Margin(m) => {
                if !(m.is_finite() && m >= 0.0) {
                    return invalid("c0", format!("margin must be finite and ≥ 0, got {m}"));
                }
                c0_min + m
            }
            C0Choice::Value(c) => {
                if !c.is_finite() {
                    return invalid("c0", format!("c0 must be finite, got {c}"));
                }
                if c < c0_min - 1e-12 * scale.max(c0_min.abs()) {
                    return invalid(
                        "c0",
                        format!(
                            "c0 = {c} is below the minimum {c0_min} that keeps C ≥ 0 on \
                             [{lo}, {hi}] (C would vanish at w = {})",
                            best.1
                        ),
                    );
                }
                c
            }
        };
        let mut out = Self {
            lr,
            batch,
            lo,
            hi,
            cells,
            c0,
            c0_min,
            binding_w: best.1,
            min_noise: f64::INFINITY,
            max_noise: f64::NEG_INFINITY,
            k,
            f,
            df,
            lp,
            dlp,
        };
        for &x in &w {
            let c = out.noise(x);
            if !c.is_finite() {
                return Err(TheoryError::Numeric(format!(
                    "designed C({x}) = {c} is not finite (p({x}) too small)"
                )));
            }
            out.min_noise = out.min_noise.min(c);
            out.max_noise = out.max_noise.max(c);
        }
        Ok(out)
    }

    /// C(w) (Eq. 117), O(1).
    #[must_use]
    pub fn noise(&self, w: f64) -> f64 {
        self.noise_and_slope(w).0
    }

    /// C′(w), O(1): the derivative of [`Self::noise`], −(2S/λ)L′ − C p′/p up to the
    /// interpolation error.
    #[must_use]
    pub fn noise_slope(&self, w: f64) -> f64 {
        self.noise_and_slope(w).1
    }

    /// (C(w), C′(w)), O(1). Outside [lo, hi]: (C at the nearest end, 0).
    #[must_use]
    pub fn noise_and_slope(&self, w: f64) -> (f64, f64) {
        let (j, t) = locate(w, self.lo, self.hi, self.cells);
        let h = (self.hi - self.lo) / self.cells as f64;
        let (f, fs) = hermite(
            t,
            h,
            self.f[j],
            self.df[j] / h,
            self.f[j + 1],
            self.df[j + 1] / h,
        );
        let (l, ls) = hermite(
            t,
            h,
            self.lp[j],
            self.dlp[j],
            self.lp[j + 1],
            self.dlp[j + 1],
        );
        let num = (self.c0 - self.k * f).max(0.0);
        let inv_p = (-l).exp();
        let c = num * inv_p;
        let inside = w >= self.lo && w <= self.hi;
        let slope = if inside {
            (-self.k * fs - num * ls) * inv_p
        } else {
            0.0
        };
        (c, slope)
    }

    /// ln p(w) of the target (as passed, unnormalised), interpolated on the grid.
    #[must_use]
    pub fn log_target(&self, w: f64) -> f64 {
        let (j, t) = locate(w, self.lo, self.hi, self.cells);
        let h = (self.hi - self.lo) / self.cells as f64;
        hermite(
            t,
            h,
            self.lp[j],
            self.dlp[j],
            self.lp[j + 1],
            self.dlp[j + 1],
        )
        .0
    }

    /// C, C′ and ln p at `points` equally spaced points of [lo, hi] (ends included).
    ///
    /// # Errors
    /// [`TheoryError::InvalidArgument`] `points` when fewer than 2 or more than 10⁷.
    pub fn tabulate(&self, points: usize) -> Result<NoiseTable, TheoryError> {
        if !(2..=10_000_000).contains(&points) {
            return invalid(
                "points",
                format!("need 2 ..= 10000000 points, got {points}"),
            );
        }
        let w: Vec<f64> = (0..points)
            .map(|i| grid_point(self.lo, self.hi, points - 1, i))
            .collect();
        let (noise, noise_slope) = w.iter().map(|&x| self.noise_and_slope(x)).unzip();
        let log_target = w.iter().map(|&x| self.log_target(x)).collect();
        Ok(NoiseTable {
            w,
            noise,
            noise_slope,
            log_target,
        })
    }
}

/// Candidate maxima (t, value) on [0, 1] of the cubic Hermite polynomial with values y0, y1
/// and scaled slopes m0 = h·y′(0), m1 = h·y′(1): the right end and interior critical points
/// (the left end is the previous cell's right end, or F(lo) = 0).
fn cubic_maxima(y0: f64, m0: f64, y1: f64, m1: f64) -> Vec<(f64, f64)> {
    let c1 = m0;
    let c2 = -3.0 * y0 + 3.0 * y1 - 2.0 * m0 - m1;
    let c3 = 2.0 * y0 - 2.0 * y1 + m0 + m1;
    let value = |t: f64| y0 + t * (c1 + t * (c2 + t * c3));
    let mut out = vec![(1.0, y1)];
    // p′(t) = c1 + 2c2 t + 3c3 t².
    let (a, b, c) = (3.0 * c3, 2.0 * c2, c1);
    let mut roots = Vec::new();
    if a.abs() <= 1e-14 * (b.abs() + c.abs()) {
        if b != 0.0 {
            roots.push(-c / b);
        }
    } else {
        let disc = b * b - 4.0 * a * c;
        if disc >= 0.0 {
            let q = -0.5 * (b + b.signum() * disc.sqrt());
            if q != 0.0 {
                roots.push(q / a);
                roots.push(c / q);
            } else {
                roots.push(0.0);
            }
        }
    }
    for t in roots {
        if t > 0.0 && t < 1.0 {
            out.push((t, value(t)));
        }
    }
    out
}

/// Example 1 of App. D.5: L = a w²/2 with C(w) = c₀|w|^{2+2Sa/λ} + w² (the paper's
/// indefinite-integral convention of Eq. 117), for which the stationary density is
/// p ∝ |w|^{−2−2Sa/λ} (Eq. 76 with v = 1); c₀ = 0 gives C = w².
///
/// Derivation: (2S/λ)∫ a w·w^{−2−2Sa/λ} dw = −w^{−2Sa/λ}, so Eq. 117 gives
/// C = w^{2+2Sa/λ}[c₀ + w^{−2Sa/λ}]. The designed noise of [`DesignedNoise`] with ∫ from lo
/// equals this with c₀ + lo^{−2Sa/λ} in place of c₀ (lo > 0). Defined for w ≠ 0 (a domain on
/// one side of 0).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Example1 {
    /// Curvature a of L = a w²/2.
    pub a: f64,
    /// Integration constant c₀ (indefinite-integral convention).
    pub c0: f64,
    /// Learning rate λ.
    pub lr: f64,
    /// Batch size S.
    pub batch: f64,
}

impl Example1 {
    /// Checks and builds.
    ///
    /// # Errors
    /// [`TheoryError::InvalidArgument`] `lr`, `batch` (finite, > 0), `a`, `c0` (finite).
    pub fn new(a: f64, c0: f64, lr: f64, batch: f64) -> Result<Self, TheoryError> {
        check_lr_batch(lr, batch)?;
        if !a.is_finite() {
            return invalid("a", format!("must be finite, got {a}"));
        }
        if !c0.is_finite() {
            return invalid("c0", format!("must be finite, got {c0}"));
        }
        Ok(Self { a, c0, lr, batch })
    }

    /// C(w) = c₀|w|^{2+2Sa/λ} + w².
    #[must_use]
    pub fn noise(&self, w: f64) -> f64 {
        self.c0 * w.abs().powf(2.0 + 2.0 * self.batch * self.a / self.lr) + w * w
    }

    /// ln p(w) = −(2 + 2Sa/λ) ln|w| (unnormalised).
    #[must_use]
    pub fn log_target(&self, w: f64) -> f64 {
        -(2.0 + 2.0 * self.batch * self.a / self.lr) * w.abs().ln()
    }
}

/// Example 2 of App. D.5 and Fig. 10: L = w²/2 and target p(w) = exp(−(w − w₀)²)/√π, with
///
/// C(w) = e^{(w−w₀)²}[c₀ + (S/λ)e^{−(w−w₀)²} − (S/λ)w₀√π erf(w − w₀)]
///
/// in the paper's convention: Eq. 117 with the unnormalised e^{−(w−w₀)²} for p and the
/// antiderivative G(w) = −½e^{−(w−w₀)²} + w₀(√π/2)erf(w − w₀) of w e^{−(w−w₀)²}
/// ([`Example2::antiderivative`]). C ≥ 0 on ℝ iff c₀ ≥ (S/λ)|w₀|√π ([`Example2::min_c0`]); on
/// [lo, hi] iff c₀ ≥ [`Example2::min_c0_on`]. The designed noise of [`DesignedNoise`] with
/// ∫ from lo and target e^{−(w−w₀)²} equals this C with c₀ − (2S/λ)G(lo) in place of c₀.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Example2 {
    /// Centre w₀ of the target.
    pub w0: f64,
    /// Integration constant c₀ (paper's convention).
    pub c0: f64,
    /// Learning rate λ.
    pub lr: f64,
    /// Batch size S.
    pub batch: f64,
}

impl Example2 {
    /// Checks and builds (any finite c₀; see [`Self::min_c0`] for C ≥ 0).
    ///
    /// # Errors
    /// [`TheoryError::InvalidArgument`] `lr`, `batch` (finite, > 0), `w0`, `c0` (finite).
    pub fn new(w0: f64, c0: f64, lr: f64, batch: f64) -> Result<Self, TheoryError> {
        check_lr_batch(lr, batch)?;
        if !w0.is_finite() {
            return invalid("w0", format!("must be finite, got {w0}"));
        }
        if !c0.is_finite() {
            return invalid("c0", format!("must be finite, got {c0}"));
        }
        Ok(Self { w0, c0, lr, batch })
    }

    /// G(w) = −½e^{−(w−w₀)²} + w₀(√π/2)erf(w − w₀), an antiderivative of w e^{−(w−w₀)²}.
    #[must_use]
    pub fn antiderivative(&self, w: f64) -> f64 {
        let u = w - self.w0;
        -0.5 * (-u * u).exp() + self.w0 * 0.5 * std::f64::consts::PI.sqrt() * erf(u)
    }

    /// The smallest c₀ with C ≥ 0 on all of ℝ: (S/λ)|w₀|√π (the supremum of (2S/λ)G, reached
    /// as w → ±∞; at this c₀, C stays > 0 on ℝ).
    #[must_use]
    pub fn min_c0(&self) -> f64 {
        self.batch / self.lr * self.w0.abs() * std::f64::consts::PI.sqrt()
    }

    /// The smallest c₀ with C ≥ 0 on [lo, hi]: (2S/λ) max(G(lo), G(hi)) (G decreases for
    /// w < 0 and increases for w > 0).
    #[must_use]
    pub fn min_c0_on(&self, lo: f64, hi: f64) -> f64 {
        2.0 * self.batch / self.lr * self.antiderivative(lo).max(self.antiderivative(hi))
    }

    /// C(w), computed as (S/λ) + e^{u²}[(c₀ − A) + A·erfc(u)], A = (S/λ)w₀√π, u = w − w₀
    /// (no cancellation in the tails).
    #[must_use]
    pub fn noise(&self, w: f64) -> f64 {
        let u = w - self.w0;
        let r = self.batch / self.lr;
        let a = r * self.w0 * std::f64::consts::PI.sqrt();
        r + (u * u).exp() * ((self.c0 - a) + a * erfc(u))
    }

    /// C′(w) = 2(w − w₀)(C − S/λ) − 2(S/λ)w₀ (= −(2S/λ)L′ − C p′/p).
    #[must_use]
    pub fn noise_slope(&self, w: f64) -> f64 {
        let r = self.batch / self.lr;
        2.0 * (w - self.w0) * (self.noise(w) - r) - 2.0 * r * self.w0
    }

    /// The normalised target p(w) = exp(−(w − w₀)²)/√π.
    #[must_use]
    pub fn target(&self, w: f64) -> f64 {
        let u = w - self.w0;
        (-u * u).exp() / std::f64::consts::PI.sqrt()
    }
}

/// C(w) of Prop. 10 (Eq. 117) as the SDE's diffusion: the noise that makes the target density
/// stationary, tabulated on its box and evaluated in O(1) per step.
impl crate::sde::Diffusion for DesignedNoise {
    #[inline(always)]
    fn c_dc(&self, w: f64, _: f64, _: impl Fn(f64) -> f64, need_dc: bool) -> (f64, f64) {
        if need_dc {
            self.noise_and_slope(w)
        } else {
            (self.noise(w), 0.0)
        }
    }
    fn fixes_origin(&self) -> bool {
        self.noise_and_slope(0.0) == (0.0, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cubic_maxima_finds_interior_maximum() {
        // y = t(1 − t) on [0, 1]: y0 = y1 = 0, y′(0) = 1, y′(1) = −1; max ¼ at ½.
        let m = cubic_maxima(0.0, 1.0, 0.0, -1.0);
        assert!(m
            .iter()
            .any(|&(t, v)| (t - 0.5).abs() < 1e-12 && (v - 0.25).abs() < 1e-12));
    }

    #[test]
    fn bad_arguments() {
        let name = |r: Result<DesignedNoise, TheoryError>| match r {
            Err(TheoryError::InvalidArgument { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        let o = DesignOptions::default();
        assert_eq!(
            name(DesignedNoise::new(|w| w, |w| w, 0.1, 1.0, -1.0, 1.0, o)),
            "target"
        );
        assert_eq!(
            name(DesignedNoise::new(
                |w| w,
                |_| 1.0,
                0.1,
                1.0,
                -1.0,
                1.0,
                DesignOptions {
                    c0: C0Choice::Value(-1.0),
                    ..o
                }
            )),
            "c0"
        );
        assert_eq!(
            name(DesignedNoise::new(
                |w| w,
                |_| 1.0,
                0.1,
                1.0,
                -1.0,
                1.0,
                DesignOptions {
                    c0: C0Choice::Margin(-1.0),
                    ..o
                }
            )),
            "c0"
        );
        assert_eq!(
            name(DesignedNoise::new(|w| w, |_| 1.0, -0.1, 1.0, -1.0, 1.0, o)),
            "lr"
        );
    }
}
