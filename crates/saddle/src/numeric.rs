//! Numerical building blocks for the theory ([`crate::theory`]): adaptive quadrature with break
//! points on finite or infinite intervals, Brent's root finder, all roots of a function in an
//! interval, and 1-D maximisation.
//!
//! These serve the paper's expectations over the data law (μ = E ln|1 − λx| of Lemma 1 and
//! Prop. 6, with an integrable logarithmic singularity where 1 − λx = 0), the roots μ(λ) = 0
//! of Prop. 2, the maximum of μ of Prop. 3, and the continuous-time densities of App. C.
//!
//! Errors are [`TheoryError::InvalidArgument`] for a bad interval or tolerance (named `range`,
//! `tol`, `grid`) and [`TheoryError::Numeric`] when a method does not reach its tolerance or the
//! function returns NaN.

use crate::theory::{invalid, TheoryError};

/// The complementary error function erfc x = (2/√π)∫ₓ^∞ e^{−t²} dt, accurate to ~1 ulp (the
/// `libm` crate's port of FreeBSD's msun `erfc`).
///
/// Used wherever a result promises full precision: Lemma 1's log-normal tail (Eqs 79–80) and
/// the closed form of Prop. 10's designed noise for a Gaussian target (Example 2). `statrs`
/// 0.19's `erfc` is off by up to ~9·10⁻¹¹ relative on [0.5, 0.75) (fixed upstream in statrs
/// PR #412), which those results would show.
pub fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

/// The error function erf x = 1 − erfc x, accurate to ~1 ulp (`libm`'s msun port); see
/// [`erfc`].
pub fn erf(x: f64) -> f64 {
    libm::erf(x)
}

/// The two tails (P(X ≤ k), P(X ≥ k)) of X ~ Binomial(n, p), each an exact sum of the pmf
/// C(n, j)pʲ(1 − p)ⁿ⁻ʲ (terms from ln Γ, relative error ~10⁻⁸ even at n ~ 10⁹) from k outwards,
/// stopped past the mode once a term falls below 10⁻¹⁸ of the sum: O(√n) terms near the mean,
/// far fewer in the tails.
///
/// Written here because `statrs` 0.19's binomial CDF (regularised incomplete beta) is off by
/// 1.6·10⁻³ at n = 10⁶ and 0.08 at n = 6·10⁶ near the mean (measured against this sum), which
/// would make a binomial test at large run counts meaningless.
pub fn binomial_tails(k: u64, n: u64, p: f64) -> (f64, f64) {
    let p = p.clamp(0.0, 1.0);
    if k > n {
        return (1.0, 0.0);
    }
    if p == 0.0 || p == 1.0 {
        let at = if p == 0.0 { 0 } else { n };
        let le = if k >= at { 1.0 } else { 0.0 };
        let ge = if k <= at { 1.0 } else { 0.0 };
        return (le, ge);
    }
    let nf = n as f64;
    let (lp, lq) = (p.ln(), (-p).ln_1p());
    let ln_n = libm::lgamma(nf + 1.0);
    let pmf = |j: u64| {
        let jf = j as f64;
        (ln_n - libm::lgamma(jf + 1.0) - libm::lgamma(nf - jf + 1.0) + jf * lp + (nf - jf) * lq)
            .exp()
    };
    let mode = ((nf + 1.0) * p).floor().min(nf) as u64;
    let sum = |start: u64, down: bool| {
        let mut acc = 0.0;
        let mut j = start;
        loop {
            let t = pmf(j);
            acc += t;
            let past_mode = if down { j <= mode } else { j >= mode };
            if (past_mode && t <= 1e-18 * acc) || (down && j == 0) || (!down && j == n) {
                break;
            }
            j = if down { j - 1 } else { j + 1 };
        }
        acc.min(1.0)
    };
    (sum(k, true), sum(k, false))
}

/// A number for JSON: finite values as numbers, ±∞ and NaN as the strings `"inf"`, `"-inf"`,
/// `"nan"` (serde_json would write them as `null`, indistinguishable from "absent").
pub fn serialize_f64<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.is_finite() {
        s.serialize_f64(*x)
    } else if x.is_nan() {
        s.serialize_str("nan")
    } else if *x > 0.0 {
        s.serialize_str("inf")
    } else {
        s.serialize_str("-inf")
    }
}

/// [`serialize_f64`] for an optional number (`None` stays `null`: "does not exist").
pub fn serialize_opt_f64<S: serde::Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(v) => serialize_f64(v, s),
        None => s.serialize_none(),
    }
}

/// An absolute and a relative tolerance: a result is accepted when its error estimate is at
/// most `max(abs, rel·|value|)`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Tolerance {
    /// Absolute tolerance (≥ 0).
    pub abs: f64,
    /// Relative tolerance (≥ 0).
    pub rel: f64,
}

impl Default for Tolerance {
    /// `abs = 1e-12`, `rel = 1e-10`.
    fn default() -> Self {
        Tolerance {
            abs: 1e-12,
            rel: 1e-10,
        }
    }
}

impl Tolerance {
    /// The error allowed for a result of size `value`: `max(abs, rel·|value|)`.
    pub fn target(&self, value: f64) -> f64 {
        self.abs.max(self.rel * value.abs())
    }

    fn check(&self) -> Result<(), TheoryError> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if !ok(self.abs) || !ok(self.rel) || (self.abs == 0.0 && self.rel == 0.0) {
            return invalid(
                "tol",
                format!(
                    "tolerances must be finite, ≥ 0 and not both 0 (got abs = {}, rel = {})",
                    self.abs, self.rel
                ),
            );
        }
        Ok(())
    }
}

/// A definite integral with its error estimate.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Integral {
    /// The integral.
    pub value: f64,
    /// Estimated absolute error (sum of the per-piece estimates of the double-exponential
    /// rule).
    pub error: f64,
    /// Integrand evaluations.
    pub evaluations: u64,
    /// Pieces the interval was finally cut into.
    pub pieces: usize,
}

/// The most pieces [`integrate`] cuts an interval into before giving up.
pub const MAX_PIECES: usize = 4000;

/// How a piece in t-space maps back to x.
#[derive(Clone, Copy, Debug)]
enum Map {
    /// x = t.
    Identity,
    /// x = origin + t/(1 − t), t ∈ [0, 1): [origin, +∞).
    Right(f64),
    /// x = origin − t/(1 − t), t ∈ [0, 1): (−∞, origin].
    Left(f64),
}

#[derive(Clone, Copy, Debug)]
struct Piece {
    map: Map,
    a: f64,
    b: f64,
    value: f64,
    error: f64,
}

/// The tanh-sinh (double-exponential) rule on [a, b] (Takahasi & Mori 1974):
/// x = mid ± c·tanh((π/2) sinh u), refined by halving the step h = 1, ½, ¼, … up to 2⁻⁷.
///
/// `g(x, x − a, b − x)` receives the distances to both ends computed without cancellation, so
/// that a caller can resolve a singular end to ~10⁻³⁰⁰ (the complement 1 − tanh s is evaluated
/// as 2/(e^{2s} + 1)). Returns (value, error estimate, evaluations); the error estimate is the
/// difference of the last two levels (conservative once the rule converges, since each level
/// about doubles the correct digits). Stops at the first level ≥ 3 whose estimate is ≤ `target`.
fn tanh_sinh<G: Fn(f64, f64, f64) -> f64>(g: &G, a: f64, b: f64, target: f64) -> (f64, f64, u64) {
    use std::f64::consts::FRAC_PI_2;
    const MAX_LEVEL: u32 = 7;
    // e^{−2s} underflows beyond u ≈ 6.2: the weights are 0 there.
    const U_MAX: f64 = 6.5;
    let c = 0.5 * (b - a);
    let width = b - a;
    let mut evals = 1u64;
    let mut sum = FRAC_PI_2 * g(a + c, c, c);
    let mut pair = |u: f64| -> f64 {
        let s = FRAC_PI_2 * u.sinh();
        let e = (-2.0 * s).exp();
        let w = FRAC_PI_2 * u.cosh() * 4.0 * e / ((1.0 + e) * (1.0 + e));
        let d = c * (2.0 * e / (1.0 + e));
        if w == 0.0 || d == 0.0 {
            return 0.0;
        }
        evals += 2;
        w * (g(a + d, d, width - d) + g(b - d, width - d, d))
    };
    let mut k = 1.0;
    while k <= U_MAX {
        sum += pair(k);
        k += 1.0;
    }
    let mut prev = c * sum;
    let mut error = f64::INFINITY;
    let mut h = 1.0;
    for level in 1..=MAX_LEVEL {
        h *= 0.5;
        let mut u = h;
        while u <= U_MAX {
            sum += pair(u);
            u += 2.0 * h;
        }
        let cur = c * h * sum;
        error = (cur - prev).abs();
        prev = cur;
        if level >= 3 && error <= target {
            break;
        }
    }
    (prev, error, evals)
}

/// ∫ f(x) dx over [lo, hi], adaptive, with break points.
///
/// `lo` may be −∞ and `hi` +∞. The interval is first cut at every finite `breaks` point
/// strictly inside it (unsorted and duplicated points are fine; points outside are ignored):
/// put them where f has an integrable singularity (ln|x − c|, |x − c|^(−p) with p < 1), a kink
/// or a jump, and, on infinite intervals, where the mass of f lies. A half-line [c, ∞) is
/// mapped to [0, 1) by x = c + t/(1 − t) (and (−∞, c] likewise); (−∞, ∞) without breaks is
/// cut at 0.
///
/// Each piece is integrated with the tanh-sinh (double-exponential) rule, which samples ever
/// closer to the ends of the piece and so converges at integrable endpoint singularities.
/// Globally adaptive: while the summed error estimate exceeds `tol.target(value)`, the piece
/// with the largest estimate is halved, up to [`MAX_PIECES`] pieces. f is never evaluated at
/// a finite end or break point itself. The ends are approached to within the resolution of x
/// itself: to ~10⁻³⁰⁰ for an end at x = 0, to ε·|c| for an end at c ≠ 0; for a strong
/// singularity |x − c|^(−p) (p ≥ ½), shift the variable so that it sits at 0 (a log
/// singularity loses only ~ε|c|·ln ε, negligible).
///
/// The rule is written here rather than taken from the `quadrature` crate: that crate
/// evaluates f at c·t + d, which cannot come closer than ~ε·(b − a) to an end, so for
/// ∫₀¹ x^(−½) dx it returns 2 − 1.4·10⁻⁹ while estimating its error as 1.8·10⁻¹⁰; here the
/// complement 1 − t is carried separately.
///
/// # Errors
/// `InvalidArgument` (`range`) for lo > hi, NaN ends or lo = +∞ / hi = −∞; (`tol`) for a bad
/// tolerance; `Numeric` when the tolerance is not reached within [`MAX_PIECES`] pieces, when
/// the result is not finite, or when f returns NaN.
pub fn integrate<F: Fn(f64) -> f64>(
    f: F,
    lo: f64,
    hi: f64,
    breaks: &[f64],
    tol: Tolerance,
) -> Result<Integral, TheoryError> {
    tol.check()?;
    if lo.is_nan() || hi.is_nan() || lo > hi || lo == f64::INFINITY || hi == f64::NEG_INFINITY {
        return invalid(
            "range",
            format!("need lo ≤ hi, lo < +∞, hi > −∞ (got [{lo}, {hi}])"),
        );
    }
    if lo == hi {
        return Ok(Integral {
            value: 0.0,
            error: 0.0,
            evaluations: 0,
            pieces: 0,
        });
    }
    let mut points = vec![lo];
    let mut inner: Vec<f64> = breaks
        .iter()
        .copied()
        .filter(|b| b.is_finite() && *b > lo && *b < hi)
        .collect();
    inner.sort_by(f64::total_cmp);
    inner.dedup();
    if inner.is_empty() && lo == f64::NEG_INFINITY && hi == f64::INFINITY {
        inner.push(0.0);
    }
    points.extend(inner);
    points.push(hi);

    let nan_at = std::cell::Cell::new(None::<f64>);
    let eval = |map: Map, b: f64, t: f64, da: f64, db: f64| -> f64 {
        let (x, jac) = match map {
            Map::Identity => {
                // An end that x rounds onto is not evaluated (it may be the singular point).
                if da <= 0.0 || db <= 0.0 || t == b || t - da == t {
                    return 0.0;
                }
                (t, 1.0)
            }
            Map::Right(o) | Map::Left(o) => {
                // 1 − t, accurately near t = 1 (b ≤ 1 is the end of this t-piece).
                let one_minus_t = (1.0 - b) + db;
                let r = t / one_minus_t;
                let x = if let Map::Right(_) = map {
                    o + r
                } else {
                    o - r
                };
                (x, 1.0 / (one_minus_t * one_minus_t))
            }
        };
        if !x.is_finite() || !jac.is_finite() {
            return 0.0;
        }
        let v = f(x);
        if v.is_nan() && nan_at.get().is_none() {
            nan_at.set(Some(x));
        }
        v * jac
    };
    let evaluations = std::cell::Cell::new(0u64);
    let rule = |map: Map, a: f64, b: f64, target: f64| -> Piece {
        let g = |t: f64, da: f64, db: f64| eval(map, b, t, da, db);
        let (value, error, n) = tanh_sinh(&g, a, b, target);
        evaluations.set(evaluations.get() + n);
        Piece {
            map,
            a,
            b,
            value,
            error,
        }
    };

    // Each piece first asks the rule for its share of the absolute tolerance (by count).
    let segments = points.len() - 1;
    let share = tol.abs / segments as f64;
    let mut pieces: Vec<Piece> = points
        .windows(2)
        .map(|w| {
            let (p, q) = (w[0], w[1]);
            if p == f64::NEG_INFINITY {
                rule(Map::Left(q), 0.0, 1.0, share)
            } else if q == f64::INFINITY {
                rule(Map::Right(p), 0.0, 1.0, share)
            } else {
                rule(Map::Identity, p, q, share)
            }
        })
        .collect();

    loop {
        if let Some(x) = nan_at.get() {
            return Err(TheoryError::Numeric(format!(
                "quadrature: the integrand is NaN at x = {x}"
            )));
        }
        let value: f64 = pieces.iter().map(|p| p.value).sum();
        let error: f64 = pieces.iter().map(|p| p.error).sum();
        if !value.is_finite() || !error.is_finite() {
            return Err(TheoryError::Numeric(format!(
                "quadrature: the integral over [{lo}, {hi}] is not finite ({value} ± {error})"
            )));
        }
        let target = tol.target(value);
        if error <= target {
            return Ok(Integral {
                value,
                error,
                evaluations: evaluations.get(),
                pieces: pieces.len(),
            });
        }
        if pieces.len() >= MAX_PIECES {
            return Err(TheoryError::Numeric(format!(
                "quadrature over [{lo}, {hi}]: error estimate {error:e} above the tolerance \
                 {target:e} after {MAX_PIECES} pieces (value {value})"
            )));
        }
        let (worst, _) = pieces
            .iter()
            .enumerate()
            .max_by(|x, y| x.1.error.total_cmp(&y.1.error))
            .expect("at least one piece");
        let p = pieces.swap_remove(worst);
        let mid = 0.5 * (p.a + p.b);
        if mid <= p.a || mid >= p.b {
            return Err(TheoryError::Numeric(format!(
                "quadrature over [{lo}, {hi}]: a piece cannot be halved further; error \
                 estimate {error:e} above the tolerance {target:e}"
            )));
        }
        let half = 0.25 * target / pieces.len() as f64;
        pieces.push(rule(p.map, p.a, mid, half));
        pieces.push(rule(p.map, mid, p.b, half));
    }
}

/// Brent's root finder (Brent 1973, *zeroin*): a root of f in [a, b], where f(a) and f(b)
/// have opposite signs (or one is 0).
///
/// Inverse quadratic interpolation and secant steps, safeguarded by bisection, so the bracket
/// always shrinks; the result is within `xtol + 4ε|x|` of a sign change of f (`xtol = 0`
/// gives full double precision). Infinite function values (e.g. −∞ at a pole that is an end
/// of the bracket) are allowed and force bisection steps.
///
/// Written here rather than taken from the `roots` crate because `roots::find_root_brent`
/// stops on an absolute |f| threshold and, on convergence, returns the previous iterate rather
/// than the best end of the final bracket.
///
/// # Errors
/// `InvalidArgument` (`range`) for NaN or non-finite ends; `NoSolution` when f(a), f(b) have
/// the same sign; `Numeric` when f returns NaN or 1100 iterations do not suffice (enough to bisect down to
/// a root at 0 from any finite bracket).
pub fn brent_root<F: FnMut(f64) -> f64>(
    mut f: F,
    a: f64,
    b: f64,
    xtol: f64,
) -> Result<f64, TheoryError> {
    if !a.is_finite() || !b.is_finite() {
        return invalid(
            "range",
            format!("the bracket must be finite (got [{a}, {b}])"),
        );
    }
    if xtol.is_nan() || xtol < 0.0 {
        return invalid("tol", format!("xtol must be ≥ 0 (got {xtol})"));
    }
    let (mut a, mut b) = (a, b);
    let (mut fa, mut fb) = (f(a), f(b));
    if fa.is_nan() || fb.is_nan() {
        return Err(TheoryError::Numeric(format!(
            "root finding: f is NaN at an end of [{a}, {b}]"
        )));
    }
    if fa == 0.0 {
        return Ok(a);
    }
    if fb == 0.0 {
        return Ok(b);
    }
    if (fa > 0.0) == (fb > 0.0) {
        return Err(TheoryError::NoSolution(format!(
            "root finding: f has the same sign at both ends of [{a}, {b}] ({fa}, {fb})"
        )));
    }
    let (mut c, mut fc) = (a, fa);
    let mut d = b - a;
    let mut e = d;
    for _ in 0..1100 {
        if (fb > 0.0) == (fc > 0.0) {
            c = a;
            fc = fa;
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol1 = 2.0 * f64::EPSILON * b.abs() + 0.5 * xtol;
        let xm = 0.5 * (c - b);
        if xm.abs() <= tol1 || fb == 0.0 {
            return Ok(b);
        }
        let finite = fa.is_finite() && fb.is_finite() && fc.is_finite();
        if finite && e.abs() >= tol1 && fa.abs() > fb.abs() {
            let s = fb / fa;
            let (mut p, mut q);
            if a == c {
                p = 2.0 * xm * s;
                q = 1.0 - s;
            } else {
                let qq = fa / fc;
                let r = fb / fc;
                p = s * (2.0 * xm * qq * (qq - r) - (b - a) * (r - 1.0));
                q = (qq - 1.0) * (r - 1.0) * (s - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            if 2.0 * p < (3.0 * xm * q - (tol1 * q).abs()).min((e * q).abs()) {
                e = d;
                d = p / q;
            } else {
                d = xm;
                e = d;
            }
        } else {
            d = xm;
            e = d;
        }
        a = b;
        fa = fb;
        b += if d.abs() > tol1 { d } else { tol1.copysign(xm) };
        fb = f(b);
        if fb.is_nan() {
            return Err(TheoryError::Numeric(format!(
                "root finding: f is NaN at x = {b}"
            )));
        }
    }
    Err(TheoryError::Numeric(format!(
        "root finding: no convergence in 1100 iterations (last bracket [{b}, {c}])"
    )))
}

/// The most scan points [`all_roots`] and [`all_roots_with`] accept per piece (`grid`): the
/// scan streams its samples (no allocation grows with `grid`), so this bounds only the time.
pub const MAX_GRID: usize = 100_000_000;

/// Up to this many splits, [`all_roots_with`] samples each at s(1 ± 2⁻ᵏ), k = 1…52.
pub const MAX_LADDERS: usize = 256;

/// The number of samples [`all_roots_with`] takes at most for `grid` scan points, `splits`
/// splits and `extra` extra points (for a caller to bound its work before scanning).
pub fn scan_samples(grid: usize, splits: usize, extra: usize) -> f64 {
    let ladder = if splits <= MAX_LADDERS { 104.0 } else { 0.0 };
    grid as f64 + (splits as f64 + 1.0) * (17.0 + 8.0 + ladder) + extra as f64
}

/// Check a scan size: 2 ≤ `grid` ≤ [`MAX_GRID`] (`InvalidArgument` named `grid` otherwise).
pub fn check_grid(grid: usize) -> Result<(), TheoryError> {
    if !(2..=MAX_GRID).contains(&grid) {
        return invalid(
            "grid",
            format!("the scan needs 2 ≤ grid ≤ {MAX_GRID} points (got {grid})"),
        );
    }
    Ok(())
}

/// All roots of f in [lo, hi], found by a scan and Brent refinement: [`all_roots_with`] with
/// no rounding estimate for f (a refined sign change must shrink |f| by 10⁻⁸) and no extra
/// sample points.
///
/// # Errors
/// As [`all_roots_with`].
pub fn all_roots<F: Fn(f64) -> f64>(
    f: F,
    lo: f64,
    hi: f64,
    splits: &[f64],
    grid: usize,
) -> Result<Vec<f64>, TheoryError> {
    all_roots_with(|x| (f(x), 0.0), lo, hi, splits, &[], grid)
}

/// The samples of one piece [p, q] of the scan: `grid` equal steps (ends included unless they
/// are splits) merged in increasing order with the sorted `extra` points inside the piece.
struct Samples<'a> {
    p: f64,
    q: f64,
    grid: usize,
    k: usize,
    kmax: usize,
    extra: &'a [f64],
    e: usize,
    last: f64,
}

impl Iterator for Samples<'_> {
    type Item = f64;
    fn next(&mut self) -> Option<f64> {
        loop {
            let u = if self.k <= self.kmax {
                let x = if self.k == self.grid {
                    self.q
                } else {
                    self.p + (self.q - self.p) * (self.k as f64 / self.grid as f64)
                };
                Some(x)
            } else {
                None
            };
            let v = self.extra.get(self.e).copied();
            let x = match (u, v) {
                (Some(u), Some(v)) if v < u => {
                    self.e += 1;
                    v
                }
                (Some(u), _) => {
                    self.k += 1;
                    u
                }
                (None, Some(v)) => {
                    self.e += 1;
                    v
                }
                (None, None) => return None,
            };
            if x > self.last {
                self.last = x;
                return Some(x);
            }
        }
    }
}

/// All roots of f in [lo, hi]: sign changes, exact zeros and touch points, each refined to the
/// rounding of f.
///
/// `f(x)` returns the value and a bound on its absolute rounding (or quadrature) error, the
/// *noise floor*; 0 means "exact up to a few ulps of the value". The interval is cut at
/// `splits` (poles and discontinuities of f strictly inside it; never sampled nor reported).
/// Each piece gets its share of `grid` equal steps over [lo, hi] (at least 16), every `extra`
/// point inside it (put them where f varies on a scale finer than the step: near poles, near
/// 0 on a log scale), the points at relative distances 10⁻¹², 10⁻⁹, 10⁻⁶, 10⁻³ of the piece's
/// width from each split s and, with at most [`MAX_LADDERS`] splits, s(1 ± 2⁻ᵏ) (k = 1…52). The samples are streamed: memory does not grow with
/// `grid`.
///
/// - A sample where f is exactly 0 is a root.
/// - A sign change between neighbouring samples is refined by [`brent_root`] (to full
///   precision) and accepted if |f| there is within the noise floor (4× the bound, at least
///   8ε|f|), or at most 10⁻⁸ of |f| at the two samples: a sign change across an undeclared
///   pole or jump, where |f| stays large, is dropped.
/// - A touch point: a sample where |f| has a local minimum without a sign change is refined
///   by minimising |f| on its two neighbouring steps ([golden-section/parabolic search](maximize));
///   if |f| reaches the noise floor there, it is a (double) root; if f changes sign inside,
///   both roots are refined. So tangential roots and pairs of roots closer than the step are
///   found as long as the minimum of |f| between them is a sample's local minimum.
/// - Roots closer than the noise lets f separate (|f| within the floor at the points between
///   them) are one root, reported at their midpoint: a very fine grid, on which rounding makes
///   f flip sign several times around one root, finds it once.
///
/// f may return −∞ or +∞ (treated by its sign).
///
/// # Errors
/// `InvalidArgument` (`range`) for a non-finite or empty interval, (`grid`) outside
/// 2…[`MAX_GRID`]; `Numeric` when f is NaN at a sample or Brent fails.
pub fn all_roots_with<F: Fn(f64) -> (f64, f64)>(
    f: F,
    lo: f64,
    hi: f64,
    splits: &[f64],
    extra: &[f64],
    grid: usize,
) -> Result<Vec<f64>, TheoryError> {
    if !lo.is_finite() || !hi.is_finite() || lo >= hi {
        return invalid("range", format!("need finite lo < hi (got [{lo}, {hi}])"));
    }
    check_grid(grid)?;
    let mut inner: Vec<f64> = splits
        .iter()
        .copied()
        .filter(|s| s.is_finite() && *s > lo && *s < hi)
        .collect();
    inner.sort_by(f64::total_cmp);
    inner.dedup();
    let mut ends = vec![(lo, false)];
    ends.extend(inner.iter().map(|s| (*s, true)));
    ends.push((hi, false));
    // An infinite value (a pole) is never within the noise floor.
    let floor = |v: f64, e: f64| {
        if v.is_finite() {
            4.0 * e.abs().max(2.0 * f64::EPSILON * v.abs())
        } else {
            0.0
        }
    };
    let value = |x: f64| -> Result<(f64, f64), TheoryError> {
        let (v, e) = f(x);
        if v.is_nan() {
            return Err(TheoryError::Numeric(format!(
                "root scan: f is NaN at x = {x}"
            )));
        }
        Ok((v, floor(v, e)))
    };
    let fv = |x: f64| f(x).0;

    let mut roots: Vec<f64> = Vec::new();
    for w in ends.windows(2) {
        let ((p, p_split), (q, q_split)) = (w[0], w[1]);
        let width = q - p;
        let mut pts: Vec<f64> = extra
            .iter()
            .copied()
            .filter(|x| x.is_finite() && *x > p && *x < q)
            .collect();
        for (s, is_split, dir) in [(p, p_split, 1.0), (q, q_split, -1.0)] {
            if !is_split {
                continue;
            }
            pts.extend(
                [1e-12, 1e-9, 1e-6, 1e-3]
                    .iter()
                    .map(|r| s + dir * r * width),
            );
            if inner.len() <= MAX_LADDERS {
                let mut h = 0.5;
                for _ in 0..52 {
                    pts.push(s + dir * h * s.abs());
                    h *= 0.5;
                }
            }
        }
        pts.retain(|x| *x > p && *x < q);
        pts.sort_by(f64::total_cmp);
        pts.dedup();
        // The grid's share of this piece, at least 16 steps.
        let steps = ((grid as f64 * (width / (hi - lo))).ceil() as usize).clamp(16, grid.max(16));
        let samples = Samples {
            p,
            q,
            grid: steps,
            k: usize::from(p_split),
            kmax: if q_split { steps - 1 } else { steps },
            extra: &pts,
            e: 0,
            last: f64::NEG_INFINITY,
        };
        // A window of three samples (x, f, floor): touch points need the previous two.
        let mut prev: Option<(f64, f64, f64)> = None;
        let mut prev2: Option<(f64, f64, f64)> = None;
        for x in samples {
            let (v, fl) = value(x)?;
            if v == 0.0 {
                roots.push(x);
            }
            if let Some((xp, vp, flp)) = prev {
                if v != 0.0 && vp != 0.0 && (v > 0.0) != (vp > 0.0) {
                    let r = brent_root(fv, xp, x, 0.0)?;
                    let (fr, flr) = value(r)?;
                    let scale = v.abs().max(vp.abs());
                    // The resolution of x: f at the floats next to r (a root whose slope
                    // times ulp(r) exceeds the floor, e.g. next to a pole). Across a pole
                    // or jump |f| there stays at least as large as at the samples.
                    let (fu, fd) = (fv(next_float(r, 1.0)), fv(next_float(r, -1.0)));
                    let resolution = (fu - fd).abs();
                    let small = v.abs().min(vp.abs());
                    if fr.is_finite()
                        && (fr.abs() <= flr.max(fl).max(flp)
                            || fr.abs() <= 1e-8 * scale
                            || (resolution.is_finite()
                                && fr.abs() <= 2.0 * resolution
                                && resolution <= 1e-3 * small))
                    {
                        roots.push(r);
                    }
                }
                if let Some((xpp, vpp, _)) = prev2 {
                    // |f| has a local minimum at the middle sample, f keeps its sign.
                    let same = vp != 0.0 && (vpp > 0.0) == (vp > 0.0) && (v > 0.0) == (vp > 0.0);
                    if same && vp.is_finite() && vp.abs() < vpp.abs() && vp.abs() <= v.abs() {
                        touch(&fv, &value, (xpp, xp, x), vp, &mut roots)?;
                    }
                }
                let _ = flp;
            }
            prev2 = prev;
            prev = Some((x, v, fl));
        }
    }
    roots.sort_by(f64::total_cmp);
    roots.dedup();
    merge_roots(&value, roots)
}

/// The float next to x towards `dir` (±1): x itself for non-finite x.
fn next_float(x: f64, dir: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    if x == 0.0 {
        return dir * f64::from_bits(1);
    }
    let bits = x.to_bits();
    if (x > 0.0) == (dir > 0.0) {
        f64::from_bits(bits + 1)
    } else {
        f64::from_bits(bits - 1)
    }
}

/// Refine a local minimum of |f| at the middle of (a, m, b) where f has the sign of `vm`: a
/// root where |f| reaches its noise floor (a touch point), or the two roots where f changes
/// sign inside.
fn touch<G, V>(
    fv: &G,
    value: &V,
    (a, m, b): (f64, f64, f64),
    vm: f64,
    roots: &mut Vec<f64>,
) -> Result<(), TheoryError>
where
    G: Fn(f64) -> f64,
    V: Fn(f64) -> Result<(f64, f64), TheoryError>,
{
    let s = vm.signum();
    // Maximise −s·f = minimise |f| while f keeps its sign.
    let best = maximize(|x| -s * fv(x), a, b, 8, 0.0)?;
    let x = best.x;
    let (v, fl) = value(x)?;
    // The minimiser is located to ~√ε·|x| only (f is flat to second order there): |f| up to
    // ½|f''|·dx², dx = 4√ε·|x|, is as good as 0. f'' from a central difference whose step is
    // never below 64√ε·|x|: on samples packed closer than that (ladders near a scale), a
    // smaller step divides rounding noise by h² and would call any flat stretch a root.
    let dx = 4.0 * f64::EPSILON.sqrt() * x.abs();
    let h = (1e-3 * (b - a)).max(16.0 * dx);
    let curv = (fv(x + h) + fv(x - h) - 2.0 * v).abs() / (h * h);
    let slack = if curv.is_finite() {
        0.5 * curv * dx * dx
    } else {
        0.0
    };
    if v == 0.0 || (v.is_finite() && v.abs() <= fl + slack) {
        roots.push(x);
    } else if (v > 0.0) != (vm > 0.0) {
        // Two roots between the samples.
        let r1 = brent_root(fv, a.min(x), x, 0.0)?;
        let r2 = brent_root(fv, x, b, 0.0)?;
        roots.push(r1);
        roots.push(r2);
    }
    let _ = m;
    Ok(())
}

/// Merge neighbouring roots between which f never leaves its noise floor (checked at the
/// midpoint and quartiles): one root seen several times through rounding.
fn merge_roots<V>(value: &V, roots: Vec<f64>) -> Result<Vec<f64>, TheoryError>
where
    V: Fn(f64) -> Result<(f64, f64), TheoryError>,
{
    let mut out: Vec<(f64, f64)> = Vec::new();
    for r in roots {
        if let Some(last) = out.last_mut() {
            let (a, b) = (last.0, r);
            let mut same = true;
            for t in [0.25, 0.5, 0.75] {
                let x = a + t * (b - a);
                let (v, fl) = value(x)?;
                if v.is_nan() || fl.is_nan() || v.abs() > fl {
                    same = false;
                    break;
                }
            }
            if same {
                last.1 = r;
                continue;
            }
        }
        out.push((r, r));
    }
    Ok(out
        .into_iter()
        .map(|(a, b)| if a == b { a } else { 0.5 * (a + b) })
        .collect())
}

/// A maximum of a function of one variable.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Maximum {
    /// Where the maximum is.
    pub x: f64,
    /// The maximal value f(x).
    pub value: f64,
}

/// The maximum of f on [lo, hi]: a scan of `grid + 1` equally spaced points (ends included),
/// then Brent's parabolic/golden-section search (Brent 1973, *fmin*) between the neighbours
/// of the best sample.
///
/// Finds the global maximum when the grid resolves f's peaks; otherwise the best local one it
/// sees. The refined location is accurate to about `xtol + √ε·|x|` (the limit for a smooth
/// maximum, where f is flat to second order); the value to about ε·|f|. −∞ values are allowed
/// (poles).
///
/// # Errors
/// `InvalidArgument` (`range`) for a non-finite or empty interval, (`grid`) for `grid < 2`,
/// (`tol`) for a negative `xtol`; `Numeric` when f is NaN at a sample; `NoSolution` when f is
/// −∞ at every sample.
pub fn maximize<F: Fn(f64) -> f64>(
    f: F,
    lo: f64,
    hi: f64,
    grid: usize,
    xtol: f64,
) -> Result<Maximum, TheoryError> {
    if !lo.is_finite() || !hi.is_finite() || lo >= hi {
        return invalid("range", format!("need finite lo < hi (got [{lo}, {hi}])"));
    }
    if grid < 2 {
        return invalid("grid", format!("need at least 2 grid points (got {grid})"));
    }
    if xtol.is_nan() || xtol < 0.0 {
        return invalid("tol", format!("xtol must be ≥ 0 (got {xtol})"));
    }
    let xs: Vec<f64> = (0..=grid)
        .map(|k| {
            if k == grid {
                hi
            } else {
                lo + (hi - lo) * k as f64 / grid as f64
            }
        })
        .collect();
    let mut best = 0;
    let mut fbest = f64::NEG_INFINITY;
    for (k, x) in xs.iter().enumerate() {
        let v = f(*x);
        if v.is_nan() {
            return Err(TheoryError::Numeric(format!(
                "maximisation: f is NaN at x = {x}"
            )));
        }
        if v > fbest {
            fbest = v;
            best = k;
        }
    }
    if fbest == f64::NEG_INFINITY {
        return Err(TheoryError::NoSolution(format!(
            "maximisation: f is −∞ at every sample of [{lo}, {hi}]"
        )));
    }
    let a = xs[best.saturating_sub(1)];
    let b = xs[(best + 1).min(grid)];
    let m = brent_min(|x| -f(x), a, b, xtol)?;
    if -m.value > fbest {
        Ok(Maximum {
            x: m.x,
            value: -m.value,
        })
    } else {
        Ok(Maximum {
            x: xs[best],
            value: fbest,
        })
    }
}

/// Brent's minimiser on [a, b] (golden section with parabolic steps).
fn brent_min<F: Fn(f64) -> f64>(f: F, a: f64, b: f64, xtol: f64) -> Result<Maximum, TheoryError> {
    const CGOLD: f64 = 0.381_966_011_250_105_1;
    let sqrt_eps = f64::EPSILON.sqrt();
    let (mut a, mut b) = (a, b);
    let mut x = a + CGOLD * (b - a);
    let (mut w, mut v) = (x, x);
    let mut fx = f(x);
    let (mut fw, mut fv) = (fx, fx);
    let (mut d, mut e) = (0.0f64, 0.0f64);
    for _ in 0..500 {
        if fx.is_nan() {
            return Err(TheoryError::Numeric(format!(
                "maximisation: f is NaN at x = {x}"
            )));
        }
        let xm = 0.5 * (a + b);
        let tol1 = sqrt_eps * x.abs() + xtol / 3.0 + f64::MIN_POSITIVE;
        let tol2 = 2.0 * tol1;
        if (x - xm).abs() <= tol2 - 0.5 * (b - a) {
            return Ok(Maximum { x, value: fx });
        }
        let mut golden = true;
        if e.abs() > tol1 && fx.is_finite() && fw.is_finite() && fv.is_finite() {
            let r = (x - w) * (fx - fv);
            let mut q = (x - v) * (fx - fw);
            let mut p = (x - v) * q - (x - w) * r;
            q = 2.0 * (q - r);
            if q > 0.0 {
                p = -p;
            }
            q = q.abs();
            let etemp = e;
            if p.abs() < (0.5 * q * etemp).abs() && p > q * (a - x) && p < q * (b - x) {
                e = d;
                d = p / q;
                let u = x + d;
                if u - a < tol2 || b - u < tol2 {
                    d = tol1.copysign(xm - x);
                }
                golden = false;
            }
        }
        if golden {
            e = if x >= xm { a - x } else { b - x };
            d = CGOLD * e;
        }
        let u = if d.abs() >= tol1 {
            x + d
        } else {
            x + tol1.copysign(d)
        };
        let fu = f(u);
        if fu.is_nan() {
            return Err(TheoryError::Numeric(format!(
                "maximisation: f is NaN at x = {u}"
            )));
        }
        if fu <= fx {
            if u >= x {
                a = x;
            } else {
                b = x;
            }
            v = w;
            fv = fw;
            w = x;
            fw = fx;
            x = u;
            fx = fu;
        } else {
            if u < x {
                a = u;
            } else {
                b = u;
            }
            if fu <= fw || w == x {
                v = w;
                fv = fw;
                w = u;
                fw = fu;
            } else if fu <= fv || v == x || v == w {
                v = u;
                fv = fu;
            }
        }
    }
    Err(TheoryError::Numeric(
        "maximisation: no convergence in 500 iterations".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(x: f64, y: f64, tol: f64) -> bool {
        (x - y).abs() <= tol
    }

    #[test]
    #[allow(clippy::excessive_precision)] // the reference values as mpmath printed them
    fn erfc_and_erf_match_known_answers_to_rounding() {
        // (x, erfc x, erf x) at the exact f64 x, from mpmath at 40 digits.
        let table: [(f64, f64, f64); 12] = [
            (0.5, 0.4795001221869534623, 0.5204998778130465377),
            (0.55, 0.436676633674891007, 0.563323366325108993),
            (0.6, 0.3961439091520740949, 0.6038560908479259051),
            (0.65, 0.3579706726443281423, 0.6420293273556718577),
            (0.7, 0.3221988061625815577, 0.6778011938374184423),
            (0.74, 0.2953219221452542281, 0.7046780778547457719),
            (0.1, 0.8875370839817151016, 0.1124629160182848984),
            (1.5, 0.03389485352468927293, 0.9661051464753107271),
            (3.0, 0.00002209049699858544137, 0.9999779095030014146),
            (6.0, 2.151973671249891312e-17, 0.9999999999999999785),
            (-0.6, 1.603856090847925905, -0.6038560908479259051),
            (27.0, 5.237048923789255685e-319, 1.0),
        ];
        for (x, c, e) in table {
            // A few ulps (subnormal results: a few units of the smallest subnormal).
            let tol = |v: f64| 4.0 * f64::EPSILON * v.abs() + 8.0 * 4.9e-324;
            assert!(
                (erfc(x) - c).abs() <= tol(c),
                "erfc({x}) = {} vs {c}",
                erfc(x)
            );
            assert!((erf(x) - e).abs() <= tol(e), "erf({x}) = {} vs {e}", erf(x));
        }
        // statrs 0.19 misses erfc(0.6) by ~3·10⁻¹¹ relative: the reason this wrapper exists.
        let off = (statrs::function::erf::erfc(0.6) - 0.3961439091520740949).abs();
        assert!(
            off > 1e-13,
            "statrs fixed? {off:e}; the libm wrapper could go"
        );
    }

    #[test]
    fn integrates_polynomials_and_gaussians() {
        let i = integrate(|x| x * x, 0.0, 3.0, &[], Tolerance::default()).unwrap();
        assert!(close(i.value, 9.0, 1e-12), "{i:?}");
        // ∫ e^{-x²/2} over ℝ = √(2π); infinite ends, with and without breaks.
        let g = |x: f64| (-0.5 * x * x).exp();
        let s = (2.0 * std::f64::consts::PI).sqrt();
        for breaks in [&[][..], &[-1.0, 0.5, 3.0][..]] {
            let i = integrate(
                g,
                f64::NEG_INFINITY,
                f64::INFINITY,
                breaks,
                Tolerance::default(),
            )
            .unwrap();
            assert!(close(i.value, s, 1e-11), "{i:?}");
            assert!(i.error <= 1e-10);
        }
        // Half line: ∫_1^∞ e^{-x} = e^{-1}.
        let i = integrate(
            |x| (-x).exp(),
            1.0,
            f64::INFINITY,
            &[],
            Tolerance::default(),
        )
        .unwrap();
        assert!(close(i.value, (-1.0f64).exp(), 1e-12), "{i:?}");
        let i = integrate(
            |x| x.exp(),
            f64::NEG_INFINITY,
            -1.0,
            &[],
            Tolerance::default(),
        )
        .unwrap();
        assert!(close(i.value, (-1.0f64).exp(), 1e-12), "{i:?}");
    }

    #[test]
    fn integrates_interior_log_singularity_when_split() {
        // ∫_{-1}^{2} ln|x − 0.3| dx = [y ln|y| − y] from −1.3 to 1.7.
        let prim = |y: f64| y * y.abs().ln() - y;
        let exact = prim(1.7) - prim(-1.3);
        let i = integrate(
            |x| (x - 0.3f64).abs().ln(),
            -1.0,
            2.0,
            &[0.3],
            Tolerance::default(),
        )
        .unwrap();
        assert!(close(i.value, exact, 1e-11), "{i:?} vs {exact}");
        // ln² as well: ∫ ln²|y| dy = y(ln²|y| − 2 ln|y| + 2).
        let prim2 = |y: f64| {
            let l = y.abs().ln();
            y * (l * l - 2.0 * l + 2.0)
        };
        let exact2 = prim2(1.7) - prim2(-1.3);
        let i = integrate(
            |x| (x - 0.3f64).abs().ln().powi(2),
            -1.0,
            2.0,
            &[0.3],
            Tolerance::default(),
        )
        .unwrap();
        assert!(close(i.value, exact2, 1e-10), "{i:?} vs {exact2}");
        // Power singularities at 0 on a half-line: ∫_0^∞ x^{p−1} e^{−x} dx = Γ(p).
        for (p, gamma) in [
            (0.5, std::f64::consts::PI.sqrt()),
            (0.1, 9.513_507_698_668_732),
        ] {
            let f = move |x: f64| x.powf(p - 1.0) * (-x).exp();
            let i = integrate(f, 0.0, f64::INFINITY, &[1.0], Tolerance::default()).unwrap();
            assert!(close(i.value, gamma, 1e-9 * gamma), "p = {p}: {i:?}");
            assert!(
                (i.value - gamma).abs() <= i.error.max(1e-12 * gamma),
                "p = {p}: {i:?}"
            );
        }
        // Inverse square root singularity: ∫_0^1 x^{-1/2} = 2.
        let i = integrate(|x| 1.0 / x.sqrt(), 0.0, 1.0, &[], Tolerance::default()).unwrap();
        assert!(close(i.value, 2.0, 1e-9), "{i:?}");
    }

    #[test]
    fn integrate_reports_failure_and_bad_input() {
        // ∫_0^1 1/x diverges: the tolerance cannot be met.
        let r = integrate(|x| 1.0 / x, 0.0, 1.0, &[], Tolerance::default());
        assert!(matches!(r, Err(TheoryError::Numeric(_))), "{r:?}");
        let r = integrate(|x| x, 1.0, 0.0, &[], Tolerance::default());
        assert!(matches!(r, Err(TheoryError::InvalidArgument { ref name, .. }) if name == "range"));
        let r = integrate(|_| f64::NAN, 0.0, 1.0, &[], Tolerance::default());
        assert!(matches!(r, Err(TheoryError::Numeric(_))), "{r:?}");
        let bad = Tolerance { abs: 0.0, rel: 0.0 };
        let r = integrate(|x| x, 0.0, 1.0, &[], bad);
        assert!(matches!(r, Err(TheoryError::InvalidArgument { ref name, .. }) if name == "tol"));
        assert_eq!(
            integrate(|x| x, 1.0, 1.0, &[], Tolerance::default())
                .unwrap()
                .value,
            0.0
        );
    }

    #[test]
    fn brent_finds_roots_to_full_precision() {
        let r = brent_root(|x| x * x - 2.0, 0.0, 2.0, 0.0).unwrap();
        assert!(close(r, 2f64.sqrt(), 4e-16), "{r}");
        let r = brent_root(|x: f64| x.cos() - x, 0.0, 1.0, 0.0).unwrap();
        assert!(close(r, 0.739_085_133_215_160_6, 4e-16), "{r}");
        // An end at a pole where f = −∞.
        let r = brent_root(|x: f64| x.ln() + 1.0, 0.0, 1.0, 0.0).unwrap();
        assert!(close(r, (-1.0f64).exp(), 4e-16), "{r}");
        assert!(matches!(
            brent_root(|x| x * x + 1.0, -1.0, 1.0, 0.0),
            Err(TheoryError::NoSolution(_))
        ));
    }

    #[test]
    fn all_roots_of_sine_and_with_poles() {
        // sin x on [0.5, 10]: π, 2π, 3π.
        let rs = all_roots(f64::sin, 0.5, 10.0, &[], 50).unwrap();
        assert_eq!(rs.len(), 3, "{rs:?}");
        for (r, k) in rs.iter().zip(1..) {
            assert!(close(*r, k as f64 * std::f64::consts::PI, 1e-14), "{rs:?}");
        }
        // ln|x − 1| + 0.5: −∞ at the pole x = 1 (not a sign change), roots 1 ± e^{−½}.
        let f = |x: f64| (x - 1.0f64).abs().ln() + 0.5;
        let rs = all_roots(f, 0.0, 3.0, &[1.0], 7).unwrap();
        let e = (-0.5f64).exp();
        assert_eq!(rs.len(), 2, "{rs:?}");
        assert!(
            close(rs[0], 1.0 - e, 1e-14) && close(rs[1], 1.0 + e, 1e-14),
            "{rs:?}"
        );
        // A root very close to a pole is seen thanks to the extra points.
        let f = |x: f64| (x - 1.0f64).abs().ln() + 20.0;
        let rs = all_roots(f, 0.0, 3.0, &[1.0], 4).unwrap();
        let e = (-20.0f64).exp();
        assert_eq!(rs.len(), 2, "{rs:?}");
        assert!(
            close(rs[0], 1.0 - e, 1e-15) && close(rs[1], 1.0 + e, 1e-15),
            "{rs:?}"
        );
        // 1/x changes sign at an undeclared pole: not a root.
        let rs = all_roots(|x| 1.0 / x, -1.0, 2.0, &[], 10).unwrap();
        assert!(rs.is_empty(), "{rs:?}");
        // A double root (x − 1)² is tangential: found once, at the minimum of |f|, as long as
        // the minimum is below what x's rounding can resolve (1e-300 is; 1e-10 is not).
        let rs = all_roots(|x| (x - 1.0) * (x - 1.0) + 1e-300, 0.0, 3.0, &[], 11).unwrap();
        assert_eq!(rs.len(), 1, "{rs:?}");
        assert!(close(rs[0], 1.0, 1e-7), "{rs:?}");
        let rs = all_roots(|x| (x - 1.0) * (x - 1.0) + 1e-10, 0.0, 3.0, &[], 11).unwrap();
        assert!(rs.is_empty(), "{rs:?}");
        // Two roots closer than the step (1 ± 10⁻⁴, step 0.27): both found by the touch test.
        let rs = all_roots(|x| (x - 1.0) * (x - 1.0) - 1e-8, 0.0, 3.0, &[], 11).unwrap();
        assert_eq!(rs.len(), 2, "{rs:?}");
        assert!(
            close(rs[0], 1.0 - 1e-4, 1e-12) && close(rs[1], 1.0 + 1e-4, 1e-12),
            "{rs:?}"
        );
        // A very fine grid does not lose or duplicate roots.
        let rs = all_roots(|x| x * x - 2.0, 0.0, 2.0, &[], 20_000_000).unwrap();
        assert_eq!(rs.len(), 1, "{rs:?}");
        assert!(close(rs[0], 2f64.sqrt(), 4e-16), "{rs:?}");
        // The grid is bounded.
        for g in [0, 1, MAX_GRID + 1, usize::MAX] {
            let r = all_roots(|x| x, -1.0, 1.0, &[], g);
            assert!(
                matches!(r, Err(TheoryError::InvalidArgument { ref name, .. }) if name == "grid"),
                "{g}: {r:?}"
            );
        }
        // A root exactly on a grid point.
        let rs = all_roots(|x| x - 1.0, 0.0, 2.0, &[], 4).unwrap();
        assert_eq!(rs, vec![1.0]);
    }

    #[test]
    fn binomial_tails_match_direct_sums() {
        // n = 10, p = ½: P(X ≤ 2) = (1 + 10 + 45)/1024, P(X ≥ 2) = 1 − 11/1024.
        let (le, ge) = binomial_tails(2, 10, 0.5);
        assert!((le - 56.0 / 1024.0).abs() < 1e-14 && (ge - 1013.0 / 1024.0).abs() < 1e-14);
        // n = 3, p = 0.1: P(X ≥ 3) = 0.001, P(X ≤ 3) = 1.
        let (le, ge) = binomial_tails(3, 3, 0.1);
        assert!((ge - 1e-3).abs() < 1e-15 && (le - 1.0).abs() < 1e-14);
        assert_eq!(binomial_tails(0, 100, 0.0), (1.0, 1.0));
        assert_eq!(binomial_tails(1, 100, 0.0), (1.0, 0.0));
        assert_eq!(binomial_tails(101, 100, 0.3), (1.0, 0.0));
        // Large n: the two tails at the mean overlap by the pmf there, 1/√(2πnpq) to O(1/n).
        let (n, p) = (6_291_456u64, 0.3);
        let k = 1_887_437;
        let (le, ge) = binomial_tails(k, n, p);
        let pmf = 1.0 / (2.0 * std::f64::consts::PI * n as f64 * p * (1.0 - p)).sqrt();
        assert!((le + ge - 1.0 - pmf).abs() < 1e-3 * pmf, "{le} + {ge}");
        // Normal approximation with continuity correction: P(X ≤ mean) ≈ ½ + O(1/√n).
        assert!((le - 0.5).abs() < 1e-3, "{le}");
    }

    #[test]
    fn maximize_smooth_and_at_ends() {
        // −(x − 0.3)² + 2: maximum 2 at 0.3.
        let m = maximize(|x| 2.0 - (x - 0.3) * (x - 0.3), 0.0, 1.0, 10, 0.0).unwrap();
        assert!(close(m.x, 0.3, 1e-8) && close(m.value, 2.0, 1e-15), "{m:?}");
        // x e^{−x}: maximum e^{−1} at 1.
        let m = maximize(|x: f64| x * (-x).exp(), 0.0, 5.0, 20, 0.0).unwrap();
        assert!(
            close(m.x, 1.0, 1e-7) && close(m.value, (-1.0f64).exp(), 1e-15),
            "{m:?}"
        );
        // Increasing: the maximum is at the upper end.
        let m = maximize(|x| x, 0.0, 1.0, 10, 0.0).unwrap();
        assert!(close(m.x, 1.0, 1e-8) && close(m.value, 1.0, 1e-8), "{m:?}");
        // Poles (−∞) are allowed.
        let m = maximize(|x: f64| (x - 0.5f64).abs().ln(), 0.0, 0.75, 6, 0.0).unwrap();
        assert!(close(m.x, 0.0, 1e-8), "{m:?}");
        assert!(matches!(
            maximize(|_| f64::NEG_INFINITY, 0.0, 1.0, 4, 0.0),
            Err(TheoryError::NoSolution(_))
        ));
        assert!(matches!(
            maximize(|x| x, 1.0, 0.0, 4, 0.0),
            Err(TheoryError::InvalidArgument { ref name, .. }) if name == "range"
        ));
    }
}
