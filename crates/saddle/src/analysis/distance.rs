//! A simulated histogram beside a density: the binned-law distances of
//! [`crate::theory::distance`] for an ensemble's 1-D histogram.

use crate::observe::Histogram;
use crate::theory::distance::{compare, BinnedCounts, Comparison};
use crate::theory::TheoryError;

/// The L1 and Kolmogorov–Smirnov distances between an ensemble's 1-D histogram `h` (under-
/// and overflow as one cell each) and the law of CDF `cdf`, with the L1 distance's
/// expectation and spread under sampling alone and the KS critical value at level `alpha`
/// ([`compare`]).
///
/// # Errors
/// [`TheoryError::InvalidArgument`] when `h` is not 1-D or `cdf` does not give a law on the
/// bins.
pub fn histogram_distance(
    h: &Histogram,
    cdf: impl Fn(f64) -> f64,
    alpha: f64,
) -> Result<Comparison, TheoryError> {
    let counts = BinnedCounts::from_observed(h)?;
    compare(&counts, cdf, alpha)
}

/// The CDF of the piecewise-constant density `p` on the equal cells of [lo, hi] (a finite-
/// volume solution of Eq. 52): 0 below lo, h Σ_{cells below w} pᵢ plus the covered part of
/// w's cell inside, 1 above hi (capped at 1).
pub fn cell_cdf(p: &[f64], lo: f64, hi: f64) -> impl Fn(f64) -> f64 + '_ {
    let cells = p.len();
    let step = (hi - lo) / cells as f64;
    move |w: f64| {
        if w <= lo {
            return 0.0;
        }
        let x = ((w - lo) / step).min(cells as f64);
        let i = (x as usize).min(cells);
        let full: f64 = p[..i].iter().sum::<f64>() * step;
        let part = if i < cells {
            p[i] * (x - i as f64) * step
        } else {
            0.0
        };
        (full + part).min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(lo: f64, hi: f64, counts: Vec<u64>, underflow: u64, overflow: u64) -> Histogram {
        Histogram {
            params: vec![0],
            step: 0,
            lo: vec![lo],
            hi: vec![hi],
            bins: vec![counts.len()],
            counts,
            underflow,
            overflow,
            excluded: 0,
        }
    }

    #[test]
    fn the_cdf_of_cell_densities_by_hand() {
        // Cells [0, ½) and [½, 1) with densities ½ and 3/2.
        let f = cell_cdf(&[0.5, 1.5], 0.0, 1.0);
        for (w, want) in [
            (-1.0, 0.0),
            (0.0, 0.0),
            (0.25, 0.125),
            (0.5, 0.25),
            (0.75, 0.625),
            (1.0, 1.0),
            (3.0, 1.0),
        ] {
            assert!((f(w) - want).abs() < 1e-15, "F({w}) = {}", f(w));
        }
    }

    #[test]
    fn distances_of_a_histogram_to_the_uniform_law_by_hand() {
        // 40 values, 30 in [0, ½) and 10 in [½, 1), against U[0, 1]: frequencies (0, ¾, ¼, 0)
        // against (0, ½, ½, 0), L1 = ¼ + ¼; KS = the largest CDF gap, ¾ − ½ at w = ½.
        let h = hist(0.0, 1.0, vec![30, 10], 0, 0);
        let c = histogram_distance(&h, |w| w.clamp(0.0, 1.0), 0.01).unwrap();
        assert_eq!(c.n, 40);
        assert!((c.l1 - 0.5).abs() < 1e-15, "{}", c.l1);
        assert!((c.ks - 0.25).abs() < 1e-15, "{}", c.ks);
        // Under- and overflow are cells of their own: with half the values outside [0, 1]
        // against U[−½, 3/2], every cell has probability ¼.
        let h = hist(0.0, 1.0, vec![5, 5], 5, 5);
        let c = histogram_distance(&h, |w| ((w + 0.5) / 2.0).clamp(0.0, 1.0), 0.01).unwrap();
        assert!(c.l1.abs() < 1e-15, "{}", c.l1);
        // A 2-D histogram has no such distance.
        let mut h2 = hist(0.0, 1.0, vec![1, 1, 1, 1], 0, 0);
        h2.bins = vec![2, 2];
        h2.lo = vec![0.0, 0.0];
        h2.hi = vec![1.0, 1.0];
        assert!(histogram_distance(&h2, |w| w, 0.01).is_err());
    }
}
