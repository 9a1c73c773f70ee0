//! The law of the minibatch mean x̄ = (1/S) Σ x_b of a data law (Def. 1, Eq. 27): one SGD
//! step on the quadratic L̂ = x w²/2 (Eq. 4) multiplies w by 1 − λx̄.
//!
//! [`BatchMean`] is the law of x̄ for a [`NoiseLaw`]: exact atoms for finite laws (the
//! multinomial law of the batch mean), N(m, σ²/S) for Gaussian data, the scaled Irwin–Hall law
//! for uniform data. The expectations over it that the theory needs (Lemma 1's log-moments)
//! are in [`crate::theory::log_moments`].

use super::Field;
use super::{Law, NoiseLaw};
use crate::numeric::{invalid, TheoryError};
use statrs::function::factorial::ln_factorial;

/// The most count vectors (c₁, …, c_n), Σcᵢ = S, that the exact law of a minibatch mean of a
/// finite law may enumerate: C(S + n − 1, n − 1) ≤ this, else [`TheoryError::TooLarge`].
pub const MAX_COUNT_VECTORS: u64 = 1_000_000;

/// The largest minibatch of uniform data handled exactly (Irwin–Hall density). The density's
/// alternating sum Σ(−1)ᵏ C(S,k)(u − k)^(S−1) cancels: even evaluated on the nearer half
/// (u ≤ S/2) its terms exceed the result by up to 1.1·10⁴ at S = 24 (relative error ≈ 10⁻¹²),
/// 1.3·10⁵ at S = 30 and 8·10⁶ at S = 40. Beyond, use the Gaussian law N(m, σ²/S) it tends to.
pub const MAX_UNIFORM_BATCH: usize = 24;

/// Whether one step multiplies w by exactly 0: the rounded product λx̄ is exactly 1, so that
/// 1 − λx̄ evaluates to 0 (Prop. 1: λ = 1, x = 1). A product one ulp away (λ = 1 + 2⁻⁵², or
/// an overflow to ±∞) is not: the factor is then tiny (or huge) but nonzero, and w is not
/// absorbed.
pub fn is_zero_factor(lr: f64, xbar: f64) -> bool {
    lr * xbar == 1.0
}

/// The law of the minibatch mean x̄ = (1/S) Σ x_b that multiplies w by 1 − λx̄ in one SGD
/// step on the quadratic (Eq. 27 with batch S).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum BatchMean {
    /// Finitely many values (sorted, distinct) with positive probabilities summing to 1:
    /// two-point, discrete and with-replacement datasets, exactly (multinomial for S > 1).
    Atoms {
        /// The values of x̄, increasing.
        values: Vec<f64>,
        /// Their probabilities.
        probs: Vec<f64>,
        /// The minibatch size S the atoms were built for.
        batch: usize,
    },
    /// x̄ ~ N(mean, std²), std = σ/√S (App. B.2, Prop. 7), std > 0.
    Gaussian {
        /// E x̄.
        mean: f64,
        /// Standard deviation of x̄ (σ/√S).
        std: f64,
        /// The minibatch size S.
        batch: usize,
    },
    /// x̄ = lo + (hi − lo)·U/S with U ~ Irwin–Hall(S) (the sum of S uniforms on [0, 1]):
    /// the mean of S data drawn from U[lo, hi].
    Uniform {
        /// Lower end of the data law.
        lo: f64,
        /// Upper end of the data law.
        hi: f64,
        /// S ≤ [`MAX_UNIFORM_BATCH`].
        batch: usize,
    },
}

/// The number of count vectors (c₁, …, c_n) with Σcᵢ = s, saturating at `cap + 1`.
pub fn count_vectors(n: usize, s: u64, cap: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    // C(s + n − 1, n − 1), computed incrementally: C(s + k, k) = C(s + k − 1, k − 1)(s + k)/k.
    let mut c: u128 = 1;
    for k in 1..n as u128 {
        c = c * (s as u128 + k) / k;
        if c > cap as u128 {
            return cap + 1;
        }
    }
    c as u64
}

/// Sort atoms by value, merge equal values, drop zero probabilities.
fn merge_atoms(mut atoms: Vec<(f64, f64)>) -> (Vec<f64>, Vec<f64>) {
    atoms.retain(|(_, p)| *p > 0.0);
    atoms.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut values: Vec<f64> = Vec::with_capacity(atoms.len());
    let mut probs: Vec<f64> = Vec::with_capacity(atoms.len());
    for (v, p) in atoms {
        if values.last() == Some(&v) {
            *probs.last_mut().expect("non-empty") += p;
        } else {
            values.push(v);
            probs.push(p);
        }
    }
    (values, probs)
}

/// The exact law of the mean of `s` i.i.d. draws from the atoms (values, probs): every count
/// vector with its multinomial probability, computed in log space.
pub fn multinomial_mean(
    values: &[f64],
    probs: &[f64],
    s: usize,
    cap: u64,
) -> Result<(Vec<f64>, Vec<f64>), TheoryError> {
    let n = values.len();
    let count = count_vectors(n, s as u64, cap);
    if count > cap {
        return Err(TheoryError::TooLarge(format!(
            "batch: the exact law of the mean of {s} draws from {n} values has more than {cap} \
             count vectors (C({}, {})); use a smaller batch or fewer values",
            s + n - 1,
            n - 1
        )));
    }
    if s == 1 {
        return Ok(merge_atoms(
            values.iter().copied().zip(probs.iter().copied()).collect(),
        ));
    }
    let ln_fact: Vec<f64> = (0..=s as u64).map(ln_factorial).collect();
    let ln_p: Vec<f64> = probs.iter().map(|p| p.ln()).collect();
    let mut out = Vec::with_capacity(count as usize);
    // Depth-first over atoms 0..n−1; the last atom takes the remaining draws.
    fn rec(
        i: usize,
        left: usize,
        sum: f64,
        lp: f64,
        ctx: (&[f64], &[f64], &[f64], usize),
        out: &mut Vec<(f64, f64)>,
    ) {
        let (values, ln_p, ln_fact, s) = ctx;
        let n = values.len();
        if i == n - 1 {
            let c = left;
            let lp = lp + c as f64 * ln_p[i] - ln_fact[c];
            let total = sum + c as f64 * values[i];
            out.push((total / s as f64, (ln_fact[s] + lp).exp()));
            return;
        }
        for (c, lf) in ln_fact.iter().enumerate().take(left + 1) {
            rec(
                i + 1,
                left - c,
                sum + c as f64 * values[i],
                lp + c as f64 * ln_p[i] - lf,
                ctx,
                out,
            );
        }
    }
    rec(0, s, 0.0, 0.0, (values, &ln_p, &ln_fact, s), &mut out);
    Ok(merge_atoms(out))
}

impl BatchMean {
    /// The law of x̄ for `noise`, enumerating at most [`MAX_COUNT_VECTORS`] count vectors.
    pub fn from_noise(noise: &NoiseLaw) -> Result<BatchMean, TheoryError> {
        Self::from_noise_with_cap(noise, MAX_COUNT_VECTORS)
    }

    /// The law of x̄ for `noise`, with an explicit cap on the count vectors of a finite law.
    ///
    /// # Errors
    /// `InvalidArgument`: `batch` < 1; a malformed law (`a`, `values`, `probs`, `mean`, `std`,
    /// `lo`, `hi`, `x`); a dataset drawn without replacement (`replacement`: the theory needs
    /// independent draws). `TooLarge`: more than `cap` count vectors, or uniform data with a
    /// batch above [`MAX_UNIFORM_BATCH`].
    pub fn from_noise_with_cap(noise: &NoiseLaw, cap: u64) -> Result<BatchMean, TheoryError> {
        let s = noise.batch;
        if s < 1 {
            return invalid("batch", format!("the minibatch size must be ≥ 1 (got {s})"));
        }
        let finite = |name: &str, v: f64| -> Result<(), TheoryError> {
            if v.is_finite() {
                Ok(())
            } else {
                invalid(name, format!("must be finite (got {v})"))
            }
        };
        // Validate the law whatever the field.
        let atoms: Option<Vec<(f64, f64)>> = match &noise.law {
            Law::TwoPoint { a } => {
                finite("a", *a)?;
                Some(vec![(1.0, 0.5), (a - 1.0, 0.5)])
            }
            Law::Discrete { values, probs } => {
                if values.is_empty() {
                    return invalid("values", "need at least one value");
                }
                if values.len() != probs.len() {
                    return invalid(
                        "probs",
                        format!(
                            "need one probability per value ({} values, {} probabilities)",
                            values.len(),
                            probs.len()
                        ),
                    );
                }
                for v in values {
                    finite("values", *v)?;
                }
                if probs.iter().any(|p| !(p.is_finite() && *p >= 0.0)) {
                    return invalid("probs", "probabilities must be finite and ≥ 0");
                }
                let total: f64 = probs.iter().sum();
                if (total - 1.0).abs() > 1e-9 {
                    return invalid(
                        "probs",
                        format!("probabilities must sum to 1 within 1e-9 (sum {total})"),
                    );
                }
                Some(
                    values
                        .iter()
                        .zip(probs)
                        .map(|(v, p)| (*v, p / total))
                        .collect(),
                )
            }
            Law::Dataset {
                samples,
                replacement,
            } => {
                if !replacement {
                    return invalid(
                        "replacement",
                        "the theory assumes independent draws (Def. 1, sampling with \
                         replacement); a dataset drawn without replacement has dependent \
                         minibatches: use replacement = true",
                    );
                }
                if samples.is_empty() {
                    return invalid("x", "the dataset is empty");
                }
                for smp in samples {
                    finite("x", smp.x)?;
                }
                let p = 1.0 / samples.len() as f64;
                Some(samples.iter().map(|smp| (smp.x, p)).collect())
            }
            Law::Gaussian { mean, std } => {
                finite("mean", *mean)?;
                if !(std.is_finite() && *std >= 0.0) {
                    return invalid("std", format!("must be finite and ≥ 0 (got {std})"));
                }
                None
            }
            Law::Uniform { lo, hi } => {
                finite("lo", *lo)?;
                finite("hi", *hi)?;
                if lo >= hi {
                    return invalid("hi", format!("need lo < hi (got lo = {lo}, hi = {hi})"));
                }
                None
            }
        };
        let is_dataset = matches!(noise.law, Law::Dataset { .. });
        if noise.field == Field::Y && !is_dataset {
            // The law draws the target y; the data x stay at 1.
            return Ok(BatchMean::Atoms {
                values: vec![1.0],
                probs: vec![1.0],
                batch: s,
            });
        }
        if let Some(atoms) = atoms {
            let (values, probs) = merge_atoms(atoms);
            let (values, probs) = multinomial_mean(&values, &probs, s, cap)?;
            return Ok(BatchMean::Atoms {
                values,
                probs,
                batch: s,
            });
        }
        match noise.law {
            Law::Gaussian { mean, std } => {
                let std = std / (s as f64).sqrt();
                if std == 0.0 {
                    Ok(BatchMean::Atoms {
                        values: vec![mean],
                        probs: vec![1.0],
                        batch: s,
                    })
                } else {
                    Ok(BatchMean::Gaussian {
                        mean,
                        std,
                        batch: s,
                    })
                }
            }
            Law::Uniform { lo, hi } => {
                if s > MAX_UNIFORM_BATCH {
                    return Err(TheoryError::TooLarge(format!(
                        "batch: the exact law of the mean of {s} uniform data (Irwin–Hall) is \
                         computed for batch ≤ {MAX_UNIFORM_BATCH} (its alternating sum loses \
                         precision beyond); use a Gaussian law with mean (lo + hi)/2 and std \
                         (hi − lo)/√12 instead"
                    )));
                }
                Ok(BatchMean::Uniform { lo, hi, batch: s })
            }
            _ => unreachable!("finite laws handled above"),
        }
    }

    /// The atoms, for a finite law.
    pub fn atoms(&self) -> Option<(&[f64], &[f64])> {
        match self {
            BatchMean::Atoms { values, probs, .. } => Some((values, probs)),
            _ => None,
        }
    }

    /// The minibatch size S.
    pub fn batch(&self) -> usize {
        match self {
            BatchMean::Atoms { batch, .. }
            | BatchMean::Gaussian { batch, .. }
            | BatchMean::Uniform { batch, .. } => *batch,
        }
    }

    /// The poles of μ in λ > 0: λ = 1/x̄ for every atom x̄ > 0, increasing (there 1 − λx̄ = 0
    /// and μ = −∞). Continuous laws have none (μ is continuous in λ).
    pub fn poles(&self) -> Vec<f64> {
        match self {
            BatchMean::Atoms { values, .. } => {
                let mut p: Vec<f64> = values
                    .iter()
                    .filter(|v| **v > 0.0)
                    .map(|v| 1.0 / v)
                    .collect();
                p.sort_by(f64::total_cmp);
                p
            }
            _ => Vec::new(),
        }
    }

    /// P(1 − λx̄ = 0) (see [`is_zero_factor`]); 0 for continuous laws.
    pub fn zero_probability(&self, lr: f64) -> f64 {
        match self {
            BatchMean::Atoms { values, probs, .. } => values
                .iter()
                .zip(probs)
                .filter(|(v, _)| is_zero_factor(lr, **v))
                .map(|(_, p)| p)
                .sum(),
            _ => 0.0,
        }
    }

    /// The range of y = 1 − λx̄ (the support's hull) for a continuous law, with the density of
    /// y and the break points of that density.
    #[allow(clippy::type_complexity)]
    pub(crate) fn y_density(
        &self,
        lr: f64,
    ) -> Option<(f64, f64, Vec<f64>, Box<dyn Fn(f64) -> f64 + '_>)> {
        self.z_density(1.0, lr)
    }

    /// z = c − k·x̄ (k > 0) for a continuous law in its standard variable u: z = ν − κ·u with
    /// u of density φ on [u_lo, u_hi] (Gaussian: u ~ N(0, 1) cut at ±40, beyond which φ is 0 in
    /// f64; uniform: u ~ Irwin–Hall(S) on [0, S]), with φ's break points. `None` for atoms.
    pub(crate) fn standard(&self, c: f64, k: f64) -> Option<Standard> {
        match *self {
            BatchMean::Atoms { .. } => None,
            BatchMean::Gaussian { mean, std, .. } => Some(Standard {
                nu: c - k * mean,
                kappa: k * std,
                m: mean,
                s: std,
                u_lo: -40.0,
                u_hi: 40.0,
                breaks: vec![
                    -20.0, -10.0, -6.0, -4.0, -2.5, -1.5, -0.75, 0.0, 0.75, 1.5, 2.5, 4.0, 6.0,
                    10.0, 20.0,
                ],
                phi: Box::new(|u: f64| (-0.5 * u * u).exp() / (2.0 * std::f64::consts::PI).sqrt()),
            }),
            BatchMean::Uniform { lo, hi, batch } => Some(Standard {
                // z = (c − k·lo) − (k(hi − lo)/S)·u, u = Σ_b (x_b − lo)/(hi − lo) ∈ [0, S].
                nu: c - k * lo,
                kappa: k * (hi - lo) / batch as f64,
                m: lo,
                s: (hi - lo) / batch as f64,
                u_lo: 0.0,
                u_hi: batch as f64,
                breaks: (1..batch).map(|j| j as f64).collect(),
                phi: Box::new(move |u: f64| irwin_hall(u, batch)),
            }),
        }
    }

    /// The law of z = c − k·x̄ (k > 0) for a continuous law, as [`BatchMean::y_density`]
    /// (which is c = 1, k = λ): with c = 1/λ, k = 1, z = y/λ, for λ so large that y overflows.
    #[allow(clippy::type_complexity)]
    fn z_density(
        &self,
        c: f64,
        lr: f64,
    ) -> Option<(f64, f64, Vec<f64>, Box<dyn Fn(f64) -> f64 + '_>)> {
        Some(self.standard(c, lr)?.density())
    }
}

/// A continuous law of z = c − k·x̄ in its standard variable: x̄ = m + s·u and z = ν − κ·u
/// (ν = c − k·m, κ = k·s), u of density φ on
/// [u_lo, u_hi] with kinks at `breaks` ([`BatchMean::standard`]).
pub(crate) struct Standard {
    pub(crate) nu: f64,
    pub(crate) kappa: f64,
    /// x̄ = m + s·u.
    pub(crate) m: f64,
    pub(crate) s: f64,
    pub(crate) u_lo: f64,
    pub(crate) u_hi: f64,
    pub(crate) breaks: Vec<f64>,
    pub(crate) phi: Box<dyn Fn(f64) -> f64>,
}

impl Standard {
    /// The range [ν − κ·u_hi, ν − κ·u_lo] of z.
    pub(crate) fn range(&self) -> (f64, f64) {
        (
            self.nu - self.kappa * self.u_hi,
            self.nu - self.kappa * self.u_lo,
        )
    }

    /// The range of z, its break points (φ's, mapped, and 0) and its density φ((ν − z)/κ)/κ.
    #[allow(clippy::type_complexity)]
    pub(crate) fn density(self) -> (f64, f64, Vec<f64>, Box<dyn Fn(f64) -> f64>) {
        let (lo, hi) = self.range();
        let (nu, kappa, phi) = (self.nu, self.kappa, self.phi);
        let mut breaks: Vec<f64> = self.breaks.iter().map(|u| nu - kappa * u).collect();
        breaks.push(0.0);
        (
            lo,
            hi,
            breaks,
            Box::new(move |z: f64| phi((nu - z) / kappa) / kappa),
        )
    }
}

/// The Irwin–Hall density of the sum of `s` independent U[0, 1]:
/// f(u) = Σ_{k ≤ u} (−1)ᵏ C(s, k)(u − k)^(s−1)/(s − 1)!, evaluated on the nearer half
/// (f(u) = f(s − u)) to limit cancellation.
pub fn irwin_hall(u: f64, s: usize) -> f64 {
    let sf = s as f64;
    if !(0.0..=sf).contains(&u) {
        return 0.0;
    }
    if s == 1 {
        return 1.0;
    }
    let u = if u > 0.5 * sf { sf - u } else { u };
    // Exact binomials and (s − 1)! in f64 for s ≤ 24 (below 2⁵³ resp. one rounding).
    let fact: f64 = (1..s).map(|k| k as f64).product();
    let mut binom = 1.0;
    let mut sum = 0.0;
    let mut k = 0usize;
    while (k as f64) < u && k <= s {
        let term = binom * (u - k as f64).powi(s as i32 - 1);
        if k % 2 == 0 {
            sum += term;
        } else {
            sum -= term;
        }
        binom = binom * (s - k) as f64 / (k + 1) as f64;
        k += 1;
    }
    (sum / fact).max(0.0)
}

/// Ratio Σ|terms|/|f| of the Irwin–Hall sum, bounded over u (measured: 1, 3, 15.5, 80.5, 417,
/// 2.2·10³, 1.1·10⁴ for S = 2, 4, 8, 12, 16, 20, 24), interpolated geometrically.
pub(crate) fn irwin_hall_condition(s: usize) -> f64 {
    // 2·1.5^(S−1) bounds every measured ratio from above, within a factor 3.
    2.0 * 1.5f64.powi(s as i32 - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_vectors_is_the_binomial() {
        assert_eq!(count_vectors(2, 10, 1000), 11);
        assert_eq!(count_vectors(3, 4, 1000), 15);
        assert_eq!(count_vectors(10, 16, 10), 11);
        assert_eq!(count_vectors(1, 5, 10), 1);
    }

    #[test]
    fn multinomial_mean_of_two_fair_values() {
        let (v, p) = multinomial_mean(&[0.0, 1.0], &[0.5, 0.5], 3, 100).unwrap();
        assert_eq!(v, vec![0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]);
        for (got, want) in p.iter().zip([0.125, 0.375, 0.375, 0.125]) {
            assert!((got - want).abs() < 1e-15);
        }
    }
}
