//! Distances between a histogram of simulated parameters and a reference density (used to lay
//! the ensembles of Figs 1, 9 and 10 beside the stationary laws of App. C and Prop. 10), with
//! the spread those distances have under pure sampling noise.
//!
//! A histogram has B equal bins on [lo, hi] plus an underflow and an overflow count; the
//! reference is given by its CDF (or directly by the B + 2 probabilities of the same cells:
//! mass below lo, each bin, mass above hi). For n draws from the reference the counts are
//! multinomial(n; p₀, …, p_{B+1}), which gives the expected L1 distance exactly and its standard
//! deviation to a good approximation, and the Kolmogorov–Smirnov distance has the usual
//! critical values, so a caller can set tolerances from the sample size rather than by hand.

use super::{invalid, TheoryError};
use crate::observe::Histogram;
use serde::Serialize;
use statrs::function::gamma::ln_gamma;
use std::f64::consts::PI;

/// Counts on B equal bins of [lo, hi] plus underflow and overflow.
///
/// Bin i is [lo + i·w, lo + (i + 1)·w), w = (hi − lo)/B, except that the last bin includes hi;
/// x < lo is underflow and x > hi is overflow (the convention of the ensemble's histograms).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BinnedCounts {
    /// Lower edge.
    pub lo: f64,
    /// Upper edge.
    pub hi: f64,
    /// Counts per bin (B ≥ 1 bins).
    pub counts: Vec<u64>,
    /// Values below lo.
    pub underflow: u64,
    /// Values above hi.
    pub overflow: u64,
}

impl BinnedCounts {
    /// Checks and builds.
    ///
    /// # Errors
    /// [`TheoryError::InvalidArgument`] `lo`/`hi` (finite, lo < hi), `counts` (no bins, or no
    /// value at all).
    pub fn new(
        lo: f64,
        hi: f64,
        counts: Vec<u64>,
        underflow: u64,
        overflow: u64,
    ) -> Result<Self, TheoryError> {
        check_range(lo, hi)?;
        if counts.is_empty() {
            return invalid("counts", "a histogram needs at least one bin");
        }
        let out = Self {
            lo,
            hi,
            counts,
            underflow,
            overflow,
        };
        if out.total() == 0 {
            return invalid("counts", "the histogram is empty (no values at all)");
        }
        Ok(out)
    }

    /// Bins `samples` on `bins` equal bins of [lo, hi].
    ///
    /// # Errors
    /// As [`Self::new`], plus `bins` (≥ 1) and `samples` (a NaN).
    pub fn from_samples(
        samples: &[f64],
        lo: f64,
        hi: f64,
        bins: usize,
    ) -> Result<Self, TheoryError> {
        check_range(lo, hi)?;
        if bins == 0 {
            return invalid("bins", "need at least one bin");
        }
        let width = (hi - lo) / bins as f64;
        let mut counts = vec![0u64; bins];
        let (mut under, mut over) = (0u64, 0u64);
        for &x in samples {
            if x.is_nan() {
                return invalid("samples", "a sample is NaN");
            }
            if x < lo {
                under += 1;
            } else if x > hi {
                over += 1;
            } else {
                let mut i = (((x - lo) / width) as usize).min(bins - 1);
                if i > 0 && x < lo + width * i as f64 {
                    i -= 1;
                } else if i + 1 < bins && x >= lo + width * (i + 1) as f64 {
                    i += 1;
                }
                counts[i] += 1;
            }
        }
        Self::new(lo, hi, counts, under, over)
    }

    /// The 1-D histogram of an ensemble (`observe::Histogram`); diverged runs (`excluded`)
    /// are left out, so n counts the runs that did not diverge.
    ///
    /// # Errors
    /// [`TheoryError::InvalidArgument`] `histogram` when it is not one-dimensional, plus as
    /// [`Self::new`].
    pub fn from_observed(h: &Histogram) -> Result<Self, TheoryError> {
        if h.bins.len() != 1 || h.lo.len() != 1 || h.hi.len() != 1 {
            return invalid(
                "histogram",
                format!("need a 1-D histogram, got {} axes", h.bins.len()),
            );
        }
        Self::new(h.lo[0], h.hi[0], h.counts.clone(), h.underflow, h.overflow)
    }

    /// n: all values, underflow and overflow included.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.underflow + self.overflow + self.counts.iter().sum::<u64>()
    }

    /// The B + 1 bin edges lo + i·w (the last one exactly hi).
    #[must_use]
    pub fn edges(&self) -> Vec<f64> {
        edges(self.lo, self.hi, self.counts.len())
    }

    /// The B + 2 relative frequencies: underflow, each bin, overflow.
    #[must_use]
    pub fn frequencies(&self) -> Vec<f64> {
        let n = self.total() as f64;
        std::iter::once(self.underflow)
            .chain(self.counts.iter().copied())
            .chain(std::iter::once(self.overflow))
            .map(|c| c as f64 / n)
            .collect()
    }
}

fn check_range(lo: f64, hi: f64) -> Result<(), TheoryError> {
    if !lo.is_finite() {
        return invalid("lo", format!("lower edge must be finite, got {lo}"));
    }
    if !(hi.is_finite() && hi > lo) {
        return invalid(
            "hi",
            format!("need a finite upper edge > lo = {lo}, got {hi}"),
        );
    }
    Ok(())
}

fn edges(lo: f64, hi: f64, bins: usize) -> Vec<f64> {
    let width = (hi - lo) / bins as f64;
    (0..=bins)
        .map(|i| if i == bins { hi } else { lo + width * i as f64 })
        .collect()
}

/// The B + 2 probabilities of the cells of a histogram under a reference law with CDF `cdf`:
/// [F(lo), F(e₁) − F(lo), …, F(hi) − F(e_{B−1}), 1 − F(hi)], edges as in [`BinnedCounts`].
///
/// # Errors
/// [`TheoryError::InvalidArgument`] `lo`, `hi`, `bins` (≥ 1), `cdf` (a value outside [0, 1],
/// not finite, or decreasing by more than 10⁻¹² between edges; smaller decreases are rounding
/// and are set to 0).
pub fn bin_probabilities(
    cdf: impl Fn(f64) -> f64,
    lo: f64,
    hi: f64,
    bins: usize,
) -> Result<Vec<f64>, TheoryError> {
    check_range(lo, hi)?;
    if bins == 0 {
        return invalid("bins", "need at least one bin");
    }
    let mut out = Vec::with_capacity(bins + 2);
    let mut prev = 0.0;
    for e in edges(lo, hi, bins)
        .into_iter()
        .chain(std::iter::once(f64::INFINITY))
    {
        let f = if e.is_infinite() { 1.0 } else { cdf(e) };
        if !(f.is_finite() && (0.0..=1.0).contains(&f)) {
            return invalid("cdf", format!("CDF({e}) = {f} is not in [0, 1]"));
        }
        if f < prev - 1e-12 {
            return invalid("cdf", format!("CDF decreases at {e}: {prev} then {f}"));
        }
        out.push((f - prev).max(0.0));
        prev = prev.max(f);
    }
    Ok(out)
}

fn check_probs(counts: &BinnedCounts, probs: &[f64]) -> Result<(), TheoryError> {
    if probs.len() != counts.counts.len() + 2 {
        return invalid(
            "probs",
            format!(
                "need B + 2 = {} probabilities (underflow, bins, overflow), got {}",
                counts.counts.len() + 2,
                probs.len()
            ),
        );
    }
    check_prob_vector(probs)
}

fn check_prob_vector(probs: &[f64]) -> Result<(), TheoryError> {
    if probs.iter().any(|p| !(p.is_finite() && *p >= 0.0)) {
        return invalid("probs", "probabilities must be finite and ≥ 0");
    }
    let s: f64 = probs.iter().sum();
    if (s - 1.0).abs() > 1e-9 {
        return invalid("probs", format!("probabilities must sum to 1, sum to {s}"));
    }
    Ok(())
}

/// The L1 distance Σ_c |N_c/n − p_c| over the B + 2 cells (underflow and overflow are one
/// cell each), in [0, 2]; twice the total-variation distance of the binned laws.
///
/// # Errors
/// [`TheoryError::InvalidArgument`] `probs` (not B + 2 values, negative, or not summing to 1
/// within 10⁻⁹).
pub fn l1_distance(counts: &BinnedCounts, probs: &[f64]) -> Result<f64, TheoryError> {
    check_probs(counts, probs)?;
    Ok(counts
        .frequencies()
        .iter()
        .zip(probs)
        .map(|(f, p)| (f - p).abs())
        .sum())
}

/// The Kolmogorov–Smirnov distance evaluated at the bin edges,
/// max_e |F̂(e) − F(e)| over e ∈ {lo, e₁, …, hi}, with F̂ the empirical CDF (underflow
/// included) and F the reference CDF (cumulative sums of `probs`).
///
/// It is at most the full KS statistic sup_w |F̂ − F|, so the critical values of
/// [`ks_critical_value`] are conservative for it.
///
/// # Errors
/// As [`l1_distance`].
pub fn ks_distance(counts: &BinnedCounts, probs: &[f64]) -> Result<f64, TheoryError> {
    check_probs(counts, probs)?;
    let freq = counts.frequencies();
    let (mut fe, mut fr, mut d) = (0.0_f64, 0.0_f64, 0.0_f64);
    // Edges: after the underflow cell and after each bin.
    for (f, p) in freq.iter().zip(probs).take(freq.len() - 1) {
        fe += f;
        fr += p;
        d = d.max((fe - fr).abs());
    }
    Ok(d)
}

/// E|X − np| for X ~ Binomial(n, p), exactly (de Moivre):
/// 2(ν + 1)·C(n, ν + 1)·p^{ν+1}(1 − p)^{n−ν}, ν = ⌊np⌋.
///
/// # Errors
/// [`TheoryError::InvalidArgument`] `p` outside [0, 1], `n` = 0.
pub fn binomial_mean_abs_deviation(n: u64, p: f64) -> Result<f64, TheoryError> {
    if n == 0 {
        return invalid("n", "need n ≥ 1 draws");
    }
    if !(0.0..=1.0).contains(&p) {
        return invalid("p", format!("probability must be in [0, 1], got {p}"));
    }
    if p == 0.0 || p == 1.0 {
        return Ok(0.0);
    }
    let nf = n as f64;
    let nu = (nf * p).floor().min(nf - 1.0);
    let ln = 2.0_f64.ln() + (nu + 1.0).ln() + ln_gamma(nf + 1.0)
        - ln_gamma(nu + 2.0)
        - ln_gamma(nf - nu)
        + (nu + 1.0) * p.ln()
        + (nf - nu) * (-p).ln_1p();
    Ok(ln.exp())
}

/// The mean and standard deviation of the L1 distance of [`l1_distance`] when the histogram
/// holds n draws from the reference itself (pure sampling noise).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct L1Expectation {
    /// Number of draws n.
    pub n: u64,
    /// E\[L1\] = Σ_c E|N_c − np_c|/n, exact (binomial mean absolute deviations).
    pub mean: f64,
    /// sd\[L1\]: the exact binomial variances Var|N_c − np_c| = np_c(1 − p_c) − (E|N_c − np_c|)²
    /// of each cell, plus the covariances between cells from the normal approximation of the
    /// multinomial, Cov(|Z_c|, |Z_d|) = σ_cσ_d(2/π)(ρ arcsin ρ + √(1 − ρ²) − 1) with
    /// ρ = −√(p_c p_d/((1 − p_c)(1 − p_d))) (a small positive correction, ≈ σ_cσ_dρ²/π).
    pub sd: f64,
}

/// The expected L1 distance and its standard deviation for n draws from `probs` (see
/// [`L1Expectation`]). The covariance sum is exact in O(K²) for K ≤ 4096 cells and its
/// leading term σ_cσ_dρ²/π, O(K), beyond.
///
/// # Errors
/// [`TheoryError::InvalidArgument`] `n` = 0, `probs` (negative, not finite, not summing to 1).
pub fn expected_l1(probs: &[f64], n: u64) -> Result<L1Expectation, TheoryError> {
    if n == 0 {
        return invalid("n", "need n ≥ 1 draws");
    }
    check_prob_vector(probs)?;
    let nf = n as f64;
    let mut mean = 0.0;
    let mut var = 0.0;
    for &p in probs {
        let p = p.min(1.0);
        let mad = binomial_mean_abs_deviation(n, p)?;
        mean += mad;
        var += (nf * p * (1.0 - p) - mad * mad).max(0.0);
    }
    // Off-diagonal covariances (normal approximation).
    let live: Vec<f64> = probs
        .iter()
        .copied()
        .filter(|&p| p > 0.0 && p < 1.0)
        .collect();
    let sig: Vec<f64> = live.iter().map(|p| (nf * p * (1.0 - p)).sqrt()).collect();
    let rho = |a: f64, b: f64| -(a * b / ((1.0 - a) * (1.0 - b))).sqrt().min(1.0);
    if live.len() <= 4096 {
        for i in 0..live.len() {
            for j in 0..i {
                let r = rho(live[i], live[j]);
                let c = (2.0 / PI) * (r * r.asin() + (1.0 - r * r).max(0.0).sqrt() - 1.0);
                var += 2.0 * sig[i] * sig[j] * c;
            }
        }
    } else {
        // Σ_{c≠d} σ_cσ_dρ²/π = (n/π)[(Σ a)² − Σ a²], a = p^{3/2}/√(1 − p).
        let a: Vec<f64> = live
            .iter()
            .map(|p| p.powf(1.5) / (1.0 - p).sqrt())
            .collect();
        let s: f64 = a.iter().sum();
        let s2: f64 = a.iter().map(|x| x * x).sum();
        var += nf / PI * (s * s - s2);
    }
    Ok(L1Expectation {
        n,
        mean: mean / nf,
        sd: var.max(0.0).sqrt() / nf,
    })
}

/// The Kolmogorov survival function Q(x) = P(K > x) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²x²}
/// (for x < 1.18 via the dual series 1 − (√(2π)/x) Σ e^{−(2k−1)²π²/(8x²)}).
#[must_use]
pub fn kolmogorov_survival(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x < 1.18 {
        let mut s = 0.0;
        for k in 1..=20 {
            let j = (2 * k - 1) as f64;
            s += (-j * j * PI * PI / (8.0 * x * x)).exp();
        }
        (1.0 - (2.0 * PI).sqrt() / x * s).clamp(0.0, 1.0)
    } else {
        let mut s = 0.0;
        for k in 1..=100 {
            let kf = k as f64;
            let term = (-2.0 * kf * kf * x * x).exp();
            s += if k % 2 == 1 { term } else { -term };
            if term < 1e-300 {
                break;
            }
        }
        (2.0 * s).clamp(0.0, 1.0)
    }
}

/// √n + 0.12 + 0.11/√n, Stephens' (1970) finite-n scaling of the KS statistic.
fn ks_scale(n: u64) -> f64 {
    let r = (n as f64).sqrt();
    r + 0.12 + 0.11 / r
}

/// The KS critical value at level α for n draws: c with P(D > c) ≈ α, c = K_α/(√n + 0.12 +
/// 0.11/√n), K_α solving Q(K_α) = α with Q = [`kolmogorov_survival`] (Stephens' approximation, accurate to
/// about 1% for n ≥ 5). Conservative for the edge-evaluated [`ks_distance`].
///
/// # Errors
/// [`TheoryError::InvalidArgument`] `n` = 0, `alpha` outside (0, 1).
pub fn ks_critical_value(n: u64, alpha: f64) -> Result<f64, TheoryError> {
    if n == 0 {
        return invalid("n", "need n ≥ 1 draws");
    }
    if !(alpha > 0.0 && alpha < 1.0) {
        return invalid("alpha", format!("level must be in (0, 1), got {alpha}"));
    }
    let (mut a, mut b) = (1e-3, 20.0);
    for _ in 0..200 {
        let m = 0.5 * (a + b);
        if kolmogorov_survival(m) > alpha {
            a = m;
        } else {
            b = m;
        }
    }
    Ok(0.5 * (a + b) / ks_scale(n))
}

/// The asymptotic p-value of a KS distance d with n draws: Q(d·(√n + 0.12 + 0.11/√n)).
/// Conservative (too large) for the edge-evaluated [`ks_distance`].
#[must_use]
pub fn ks_p_value(n: u64, d: f64) -> f64 {
    if n == 0 {
        return f64::NAN;
    }
    kolmogorov_survival(d * ks_scale(n))
}

/// A histogram laid beside a reference law (see [`compare`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// Number of values n (underflow and overflow included).
    pub n: u64,
    /// The B + 2 reference probabilities (underflow, bins, overflow).
    pub probs: Vec<f64>,
    /// L1 distance ([`l1_distance`]).
    pub l1: f64,
    /// Its expectation under sampling from the reference ([`expected_l1`]).
    pub l1_mean: f64,
    /// Its standard deviation under sampling from the reference.
    pub l1_sd: f64,
    /// (l1 − l1_mean)/l1_sd: how many standard deviations above pure sampling noise.
    pub l1_z: f64,
    /// KS distance at the bin edges ([`ks_distance`]).
    pub ks: f64,
    /// KS critical value at level `alpha` ([`ks_critical_value`]).
    pub ks_critical: f64,
    /// KS p-value ([`ks_p_value`], conservative).
    pub ks_p_value: f64,
    /// The level α.
    pub alpha: f64,
}

/// Compares a histogram with the reference law of CDF `cdf` at level `alpha`: the reference
/// cell probabilities, both distances and their sampling bounds.
///
/// # Errors
/// As [`bin_probabilities`], [`ks_critical_value`].
pub fn compare(
    counts: &BinnedCounts,
    cdf: impl Fn(f64) -> f64,
    alpha: f64,
) -> Result<Comparison, TheoryError> {
    let probs = bin_probabilities(cdf, counts.lo, counts.hi, counts.counts.len())?;
    let n = counts.total();
    let l1 = l1_distance(counts, &probs)?;
    let e = expected_l1(&probs, n)?;
    let ks = ks_distance(counts, &probs)?;
    let l1_z = if e.sd > 0.0 {
        (l1 - e.mean) / e.sd
    } else if l1 > e.mean {
        f64::INFINITY
    } else {
        0.0
    };
    Ok(Comparison {
        n,
        probs,
        l1,
        l1_mean: e.mean,
        l1_sd: e.sd,
        l1_z,
        ks,
        ks_critical: ks_critical_value(n, alpha)?,
        ks_p_value: ks_p_value(n, ks),
        alpha,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_mad_matches_direct_sum() {
        for &(n, p) in &[
            (1u64, 0.3),
            (7, 0.5),
            (30, 0.3),
            (30, 0.1),
            (200, 0.013),
            (50, 0.2),
        ] {
            let mut direct = 0.0;
            for x in 0..=n {
                let ln_pmf = ln_gamma(n as f64 + 1.0)
                    - ln_gamma(x as f64 + 1.0)
                    - ln_gamma((n - x) as f64 + 1.0)
                    + x as f64 * f64::ln(p)
                    + (n - x) as f64 * f64::ln(1.0 - p);
                direct += ln_pmf.exp() * (x as f64 - n as f64 * p).abs();
            }
            let exact = binomial_mean_abs_deviation(n, p).unwrap();
            assert!(
                (exact - direct).abs() < 1e-11 * direct.max(1.0),
                "{n} {p}: {exact} {direct}"
            );
        }
    }

    #[test]
    fn kolmogorov_quantiles() {
        // Standard table: K_{0.05} = 1.3581, K_{0.01} = 1.6276, K_{0.001} = 1.9495.
        for (alpha, k) in [(0.05, 1.358_1), (0.01, 1.627_6), (0.001, 1.949_5)] {
            let c = ks_critical_value(1_000_000, alpha).unwrap() * ks_scale(1_000_000);
            assert!((c - k).abs() < 2e-4, "{alpha}: {c}");
        }
        // The two series agree where they meet.
        let x = 1.18;
        let a = kolmogorov_survival(x - 1e-12);
        let b = kolmogorov_survival(x);
        assert!((a - b).abs() < 1e-12);
    }
}
