//! 1-D maximisation: a scan refined by Brent's parabolic/golden-section search.

use super::{invalid, TheoryError};

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
