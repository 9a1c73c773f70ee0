//! Roots: Brent's root finder and all roots of a function in an interval (a scan refined by
//! Brent's method).

use super::maxima::maximize;
use super::{invalid, TheoryError};

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

#[cfg(test)]
mod tests {
    use super::*;

    fn close(x: f64, y: f64, tol: f64) -> bool {
        (x - y).abs() <= tol
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
}
