//! The log-moments of one SGD step on the quadratic (Lemma 1, Prop. 6, App. B.2):
//! μ(λ) = E ln|1 − λx̄| and s²(λ) = Var ln|1 − λx̄|.
//!
//! On L̂ = x w²/2 (Eq. 4) a minibatch step multiplies w by 1 − λx̄, where x̄ is the mean of the
//! `batch` = S i.i.d. data points of the step (Def. 1, Eq. 27), so ln|w_t/w₀| is a sum of t
//! i.i.d. copies of ln|1 − λx̄| (Eq. 28) with mean μ and variance s² (Eq. 29). For a law on the
//! field y (`Field::Y`) the data x stay at their default 1, so x̄ ≡ 1.
//!
//! [`BatchMean`] is the law of x̄ for a [`NoiseLaw`]: exact atoms for finite laws (the
//! multinomial law of the batch mean), N(m, σ²/S) for Gaussian data, the scaled Irwin–Hall law
//! for uniform data. Expectations over it are exact sums for atoms and adaptive quadrature
//! ([`crate::numeric::integrate`]) in y = 1 − λx̄ otherwise, with a break at the integrable
//! logarithmic singularity y = 0 (Prop. 6).

use crate::model::Field;
use crate::noise::{Law, NoiseLaw};
use crate::numeric::{integrate, Integral, Tolerance};
use crate::theory::{invalid, TheoryError};
use statrs::function::factorial::ln_factorial;

/// The most count vectors (c₁, …, c_n), Σcᵢ = S, that the exact law of a minibatch mean of a
/// finite law may enumerate: C(S + n − 1, n − 1) ≤ this, else [`TheoryError::TooLarge`].
pub const MAX_COUNT_VECTORS: u64 = 1_000_000;

/// The largest minibatch of uniform data handled exactly (Irwin–Hall density). The density's
/// alternating sum Σ(−1)ᵏ C(S,k)(u − k)^(S−1) cancels: even evaluated on the nearer half
/// (u ≤ S/2) its terms exceed the result by up to 1.1·10⁴ at S = 24 (relative error ≈ 10⁻¹²),
/// 1.3·10⁵ at S = 30 and 8·10⁶ at S = 40. Beyond, use the Gaussian law N(m, σ²/S) it tends to.
pub const MAX_UNIFORM_BATCH: usize = 24;

/// The tolerance of the quadratures behind [`BatchMean::log_moments`] and [`BatchMean::mu`].
pub const QUAD_TOL: Tolerance = Tolerance {
    abs: 1e-13,
    rel: 1e-12,
};

/// Whether one step multiplies w by exactly 0: the rounded product λx̄ is exactly 1, so that
/// 1 − λx̄ evaluates to 0 (Prop. 1: λ = 1, x = 1). A product one ulp away (λ = 1 + 2⁻⁵², or
/// an overflow to ±∞) is not: the factor is then tiny (or huge) but nonzero, and w is not
/// absorbed.
pub fn is_zero_factor(lr: f64, xbar: f64) -> bool {
    lr * xbar == 1.0
}

/// ln|1 − λx| for any finite λ > 0 and x, without overflow or loss of precision (Eq. 81's
/// integrand):
/// - −∞ exactly when λx rounds to 1 ([`is_zero_factor`]: one step sets w to 0);
/// - ln_1p(−λx) for |λx| ≤ 10⁻³ (relative accuracy down to the smallest λx);
/// - ln λ + ln|x| + ln_1p(−1/(λx)) for |λx| ≥ 2⁶⁰ or when λx overflows, so that
///   λ = 10¹⁵⁰, x = ±10²⁰⁰ gives 805.9 rather than ±∞;
/// - ln|1 − λx| in between.
pub fn ln_abs_factor(lr: f64, x: f64) -> f64 {
    let p = lr * x;
    if p == 1.0 {
        return f64::NEG_INFINITY;
    }
    let big = 1.152_921_504_606_847e18; // 2⁶⁰
    if p.is_finite() && p.abs() <= 1e-3 {
        (-p).ln_1p()
    } else if !p.is_finite() || p.abs() >= big {
        let tail = if p.is_finite() {
            (-1.0 / p).ln_1p()
        } else {
            0.0
        };
        lr.abs().ln() + x.abs().ln() + tail
    } else {
        (1.0 - p).abs().ln()
    }
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

/// How a result was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// A finite sum over exact atoms (error: rounding only).
    Exact,
    /// Adaptive quadrature (error: the quadrature's estimate).
    Quadrature,
}

/// μ(λ) and s²(λ) of Lemma 1 (Eq. 26–29): the result of [`log_moments`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LogMoments {
    /// The learning rate λ.
    pub lr: f64,
    /// The minibatch size S.
    pub batch: usize,
    /// μ(λ) = E ln|1 − λx̄| (Eq. 81; Eq. 83 for two-point noise). −∞ when
    /// `zero_probability` > 0 (Prop. 1: w_t = 0 after finitely many steps with probability 1);
    /// JSON writes −∞ as the string "-inf" (never null).
    #[serde(serialize_with = "crate::numeric::serialize_f64")]
    pub mu: f64,
    /// s²(λ) = Var ln|1 − λx̄|; `None` (null) when it does not exist (`zero_probability` > 0).
    pub s2: Option<f64>,
    /// P(1 − λx̄ = 0): the probability of an atom at which one step sets w to exactly 0.
    pub zero_probability: f64,
    /// `exact` (atoms) or `quadrature`.
    pub method: Method,
    /// Estimated absolute error of `mu` (rounding for exact sums).
    pub mu_error: f64,
    /// Estimated absolute error of `s2`.
    pub s2_error: Option<f64>,
    /// The number of distinct values of x̄ for the exact method, else `None`.
    pub atoms: Option<usize>,
}

pub(crate) fn check_lr(lr: f64) -> Result<(), TheoryError> {
    if !(lr.is_finite() && lr > 0.0) {
        return invalid(
            "lr",
            format!("the learning rate must be finite and > 0 (got {lr})"),
        );
    }
    Ok(())
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
    fn y_density(&self, lr: f64) -> Option<(f64, f64, Vec<f64>, Box<dyn Fn(f64) -> f64 + '_>)> {
        self.z_density(1.0, lr)
    }

    /// z = c − k·x̄ (k > 0) for a continuous law in its standard variable u: z = ν − κ·u with
    /// u of density φ on [u_lo, u_hi] (Gaussian: u ~ N(0, 1) cut at ±40, beyond which φ is 0 in
    /// f64; uniform: u ~ Irwin–Hall(S) on [0, S]), with φ's break points. `None` for atoms.
    fn standard(&self, c: f64, k: f64) -> Option<Standard> {
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

    /// E g(y), y = 1 − λx̄: an exact sum over atoms (g is evaluated at every atom, also at
    /// y = 0), or adaptive quadrature over the density of y with a break at y = 0 (where g may
    /// have an integrable singularity) and at the density's own kinks.
    pub fn expect<G: Fn(f64) -> f64>(
        &self,
        lr: f64,
        g: G,
        tol: Tolerance,
    ) -> Result<Integral, TheoryError> {
        check_lr(lr)?;
        match self {
            BatchMean::Atoms {
                values,
                probs,
                batch,
            } => Ok(sum_atoms(
                values,
                probs,
                *batch,
                |i| g(1.0 - lr * values[i]),
            )),
            _ => {
                let (lo, hi, breaks, dens) = self.y_density(lr).expect("continuous law");
                integrate(|y| dens(y) * g(y), lo, hi, &breaks, tol)
            }
        }
    }

    /// μ(λ) = E ln|1 − λx̄| alone (cheaper than [`BatchMean::log_moments`]): −∞ if an atom
    /// sits at 1 − λx̄ = 0.
    pub fn mu(&self, lr: f64) -> Result<f64, TheoryError> {
        check_lr(lr)?;
        if self.zero_probability(lr) > 0.0 {
            return Ok(f64::NEG_INFINITY);
        }
        Ok(self.expect_ln(lr, |l| l, QUAD_TOL)?.value)
    }

    /// E h(ln|1 − λx̄|), computed so that no overflow changes the answer: over atoms with
    /// [`ln_abs_factor`] (never ±∞ but for an exact zero factor); for continuous laws by
    /// quadrature in y = 1 − λx̄, or, when λ·x̄ overflows on the law's ±40σ range, in
    /// z = 1/λ − x̄ with ln|y| = ln λ + ln|z|.
    pub fn expect_ln<H: Fn(f64) -> f64>(
        &self,
        lr: f64,
        h: H,
        tol: Tolerance,
    ) -> Result<Integral, TheoryError> {
        check_lr(lr)?;
        if let BatchMean::Atoms { values, .. } = self {
            // The same sum as `expect`, with the logarithm taken by ln_abs_factor.
            let (values, probs, batch) = (values, self.atoms().expect("atoms").1, self.batch());
            return Ok(sum_atoms(values, probs, batch, |i| {
                h(ln_abs_factor(lr, values[i]))
            }));
        }
        let y = self.standard(1.0, lr).expect("continuous law");
        let (lo, hi) = y.range();
        let width_ok = (hi - lo).is_finite() && lo.is_finite() && hi.is_finite();
        // y = 1 − λx̄ directly or, where λx̄ overflows, ln|y| = ln λ + ln|z| with z = 1/λ − x̄.
        let (st, shift) = if width_ok {
            (y, 0.0)
        } else {
            (
                self.standard(1.0 / lr, 1.0).expect("continuous law"),
                lr.ln(),
            )
        };
        let (z_lo, z_hi) = st.range();
        // A support narrow against its distance from 0 (below 10⁻³ of it, down to no float
        // between its ends): ln|z| is smooth there, nodes in z would sit on a coarse grid of
        // floats (or collapse onto a few), and at small λ ln(1 − λx̄) is best taken as ln_1p;
        // so integrate over the standard variable u.
        let narrow =
            z_lo > 0.0 && z_hi - z_lo <= 1e-3 * z_lo || z_hi < 0.0 && z_hi - z_lo <= 1e-3 * -z_hi;
        if narrow {
            let (nu, kappa, phi) = (st.nu, st.kappa, &st.phi);
            // ln|y| by ln_abs_factor where λx̄ does not overflow: ln(1 + ·) of a small λx̄
            // keeps its digits (1 − λx̄ would round to 1 at λ = 10⁻²⁰).
            let ln_abs = |u: f64| {
                if width_ok {
                    ln_abs_factor(lr, st.m + st.s * u)
                } else {
                    shift + (nu - kappa * u).abs().ln()
                }
            };
            return integrate(|u| phi(u) * h(ln_abs(u)), st.u_lo, st.u_hi, &st.breaks, tol);
        }
        let (lo, hi, breaks, dens) = st.density();
        integrate(|z| dens(z) * h(shift + z.abs().ln()), lo, hi, &breaks, tol)
    }

    /// dμ/dλ = E[−x̄/(1 − λx̄)] for a finite law (exact), `None` for continuous laws or at a
    /// pole.
    pub fn mu_derivative(&self, lr: f64) -> Option<f64> {
        let (values, probs) = self.atoms()?;
        if self.zero_probability(lr) > 0.0 {
            return None;
        }
        Some(
            values
                .iter()
                .zip(probs)
                .map(|(v, p)| -p * v / (1.0 - lr * v))
                .sum(),
        )
    }

    /// μ(λ) and s²(λ) (Lemma 1). s² is computed as E(ln|y| − μ)² after μ (no cancellation).
    ///
    /// # Errors
    /// `InvalidArgument` (`lr`) for λ ≤ 0 or non-finite; `Numeric` if a quadrature fails.
    pub fn log_moments(&self, lr: f64) -> Result<LogMoments, TheoryError> {
        check_lr(lr)?;
        let zero = self.zero_probability(lr);
        let (method, atoms) = match self {
            BatchMean::Atoms { values, .. } => (Method::Exact, Some(values.len())),
            _ => (Method::Quadrature, None),
        };
        let batch = self.batch();
        if zero > 0.0 {
            return Ok(LogMoments {
                lr,
                batch,
                mu: f64::NEG_INFINITY,
                s2: None,
                zero_probability: zero,
                method,
                mu_error: 0.0,
                s2_error: None,
                atoms,
            });
        }
        let m = self.expect_ln(lr, |l| l, QUAD_TOL)?;
        let mu = m.value;
        let v = self.expect_ln(
            lr,
            |l| {
                let d = l - mu;
                d * d
            },
            QUAD_TOL,
        )?;
        let s2 = v.value.max(0.0);
        let (mut mu_error, mut s2_error) = (m.error, v.error + m.error * m.error);
        if let BatchMean::Uniform { batch, .. } = self {
            // Rounding in the Irwin–Hall sum: relative error of the density ≲ c(S)·ε with
            // c(S) ≤ 1.2·10⁴ for S ≤ 24; E|ln|y|| ≤ √(μ² + s²).
            let c = irwin_hall_condition(*batch) * f64::EPSILON;
            mu_error += c * (mu * mu + s2).sqrt();
            s2_error += c * (s2 + mu * mu);
        }
        Ok(LogMoments {
            lr,
            batch,
            mu,
            s2: Some(s2),
            zero_probability: 0.0,
            method,
            mu_error,
            s2_error: Some(s2_error),
            atoms,
        })
    }
}

/// Σ pᵢ·t(i) over atoms, with its rounding bound: the sum (n terms), and for S > 1 the
/// multinomial probabilities, each exp(ln S! − Σ ln cᵢ! + Σ cᵢ ln pᵢ) with a relative error of
/// a few ε times the magnitude of that exponent (≲ S ln S + |ln P|).
fn sum_atoms<T: Fn(usize) -> f64>(values: &[f64], probs: &[f64], batch: usize, t: T) -> Integral {
    let mut sum = 0.0;
    let mut abs = 0.0;
    let mut ln_p_max = 0.0f64;
    for (i, p) in probs.iter().enumerate() {
        let term = p * t(i);
        sum += term;
        abs += term.abs();
        if batch > 1 {
            ln_p_max = ln_p_max.max(-p.ln());
        }
    }
    let s = batch as f64;
    let rel_p = if batch > 1 {
        4.0 * (s * (s.ln() + 1.0) + ln_p_max)
    } else {
        0.0
    };
    Integral {
        value: sum,
        error: (values.len() as f64 + 4.0 + rel_p) * f64::EPSILON * abs,
        evaluations: values.len() as u64,
        pieces: 0,
    }
}

/// A continuous law of z = c − k·x̄ in its standard variable: x̄ = m + s·u and z = ν − κ·u
/// (ν = c − k·m, κ = k·s), u of density φ on
/// [u_lo, u_hi] with kinks at `breaks` ([`BatchMean::standard`]).
struct Standard {
    nu: f64,
    kappa: f64,
    /// x̄ = m + s·u.
    m: f64,
    s: f64,
    u_lo: f64,
    u_hi: f64,
    breaks: Vec<f64>,
    phi: Box<dyn Fn(f64) -> f64>,
}

impl Standard {
    /// The range [ν − κ·u_hi, ν − κ·u_lo] of z.
    fn range(&self) -> (f64, f64) {
        (
            self.nu - self.kappa * self.u_hi,
            self.nu - self.kappa * self.u_lo,
        )
    }

    /// The range of z, its break points (φ's, mapped, and 0) and its density φ((ν − z)/κ)/κ.
    #[allow(clippy::type_complexity)]
    fn density(self) -> (f64, f64, Vec<f64>, Box<dyn Fn(f64) -> f64>) {
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
fn irwin_hall_condition(s: usize) -> f64 {
    // 2·1.5^(S−1) bounds every measured ratio from above, within a factor 3.
    2.0 * 1.5f64.powi(s as i32 - 1)
}

/// μ(λ) and s²(λ) of Lemma 1 for the data law `noise` (minibatch mean of `noise.batch`
/// i.i.d. draws): exact sums for finite laws, quadrature for Gaussian and uniform data.
///
/// # Errors
/// See [`BatchMean::from_noise_with_cap`] and [`BatchMean::log_moments`].
pub fn log_moments(noise: &NoiseLaw, lr: f64) -> Result<LogMoments, TheoryError> {
    check_lr(lr)?;
    BatchMean::from_noise(noise)?.log_moments(lr)
}

/// μ(λ) = ½ ln|(1 − λ)(1 − λ(a − 1))| for two-point noise (Eq. 83), in closed form.
///
/// Where the product overflows, underflows or loses its relative precision (λ(a − 1) beyond
/// 2⁶⁰ or below 10⁻³), μ = ½(ln|1 − λ| + ln|1 − λ(a − 1)|) by [`ln_abs_factor`]: finite for
/// every finite λ > 0 and a, and −∞ only where λ = 1 or λ(a − 1) = 1 exactly.
pub fn two_point_mu(a: f64, lr: f64) -> f64 {
    let b = lr * (a - 1.0);
    let q = (1.0 - lr) * (1.0 - b);
    let plain = |p: f64| p.is_finite() && p.abs() > 1e-3 && p.abs() < 1.152_921_504_606_847e18;
    if q.is_normal() && plain(lr) && plain(b) {
        0.5 * q.abs().ln()
    } else {
        0.5 * (ln_abs_factor(lr, 1.0) + ln_abs_factor(lr, a - 1.0))
    }
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
    fn irwin_hall_integrates_to_one_and_matches_s2() {
        // S = 2: the triangle.
        assert!((irwin_hall(0.5, 2) - 0.5).abs() < 1e-15);
        assert!((irwin_hall(1.5, 2) - 0.5).abs() < 1e-15);
        for s in [2, 3, 7, 24] {
            let brk: Vec<f64> = (1..s).map(|k| k as f64).collect();
            let i = integrate(|u| irwin_hall(u, s), 0.0, s as f64, &brk, QUAD_TOL).unwrap();
            assert!((i.value - 1.0).abs() < 1e-11, "S = {s}: {i:?}");
        }
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
