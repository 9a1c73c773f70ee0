//! The exact escape probability P(|w_t| ≥ δ) at finite t for SGD on the quadratic with a
//! finite noise law (App. D.1, Eqs 78–80, made exact), beside Lemma 1's log-normal
//! approximation.
//!
//! On L̂ = x w²/2, w_t = w₀ Π_{i ≤ t}(1 − λx̄_i) (Eq. 27). With x̄ taking the values v_j with
//! probabilities p_j (j = 1…m; the multinomial law of the minibatch mean for S > 1), the
//! product depends only on the counts n = (n₁, …, n_m), Σn_j = t, of each value:
//! |w_t| = |w₀| F(n), F(n) = Π|1 − λv_j|^{n_j}, with multinomial probability
//! t!/Π n_j! Π p_j^{n_j}. So
//!
//!   P(|w_t| ≥ δ) = Σ_n P(n) · P(|w₀| ≥ δ/F(n)),
//!
//! summed over all C(t + m − 1, m − 1) count vectors in log space (no sampling). For w₀ a
//! point the inner probability is an indicator; for w₀ ~ U[lo, hi] it is
//! G(r) = |{w ∈ [lo, hi] : |w| ≥ r}|/(hi − lo), piecewise linear in r = δ/F(n). A count vector
//! that uses a value with 1 − λv_j = 0 gives w_t = 0: not escaped.
//!
//! The criterion is the simulation engine's (`[observe] escape = { delta }`): escaped iff
//! |w_t| ≥ δ; a diverged run counts as escaped, an exact 0 does not. The engine's divergence
//! bound (default 10⁵⁰) and absorption below 2⁻⁹⁶⁹ freeze a run, which the exact sum ignores:
//! they agree as long as no path of t steps crosses those thresholds and comes back, which
//! holds whenever max F over t steps times max|w₀| stays below the bound and min nonzero
//! F·|w₀| stays above 2⁻⁹⁶⁹ relative to δ (e.g. t ≤ 50 with factors in [0.2, 3]).
//!
//! Lemma 1's approximation (Eqs 79–80): ln|w_t/w₀| ≈ N(tμ, ts²), so
//! P(|w_t| ≥ δ) ≈ E_{w₀} Φ̄((ln δ − ln|w₀| − tμ)/(s√t)).

use crate::noise::NoiseLaw;
use crate::numeric::erfc;
use crate::numeric::{integrate, Tolerance};
use crate::theory::log_moments::{check_lr, count_vectors, is_zero_factor, BatchMean};
use crate::theory::{invalid, TheoryError};
use statrs::function::factorial::ln_factorial;

/// The most count vectors [`escape_probability`] enumerates: C(t + m − 1, m − 1) for m values
/// of x̄ and t steps (t + 1 for two values; about t²/2 for three).
pub const MAX_PATH_COUNT_VECTORS: u64 = 4_000_000;

/// The law of w₀.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Init {
    /// Every run starts at w₀.
    Point {
        /// w₀.
        w0: f64,
    },
    /// w₀ ~ U[lo, hi] (Fig. 1: [−1, 1]).
    Uniform {
        /// Lower end.
        lo: f64,
        /// Upper end.
        hi: f64,
    },
}

impl Init {
    fn check(&self) -> Result<(), TheoryError> {
        match *self {
            Init::Point { w0 } => {
                if !w0.is_finite() {
                    return invalid("w0", format!("must be finite (got {w0})"));
                }
            }
            Init::Uniform { lo, hi } => {
                if !lo.is_finite() || !hi.is_finite() || lo >= hi {
                    return invalid(
                        "hi",
                        format!(
                            "the initial law U[lo, hi] needs finite lo < hi (got [{lo}, {hi}])"
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// P(|w₀| ≥ r) for r ≥ 0 (r = +∞ → 0).
    pub fn tail(&self, r: f64) -> f64 {
        match *self {
            Init::Point { w0 } => {
                if w0.abs() >= r {
                    1.0
                } else {
                    0.0
                }
            }
            Init::Uniform { lo, hi } => {
                if r <= 0.0 {
                    return 1.0;
                }
                let right = (hi - lo.max(r)).max(0.0);
                let left = (hi.min(-r) - lo).max(0.0);
                ((right + left) / (hi - lo)).min(1.0)
            }
        }
    }
}

/// P(|w_t| ≥ δ) exactly and in Lemma 1's approximation: the result of
/// [`escape_probability`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EscapeProbability {
    /// The learning rate λ.
    pub lr: f64,
    /// The number of steps t.
    pub t: u64,
    /// The threshold δ.
    pub delta: f64,
    /// The law of w₀.
    pub init: Init,
    /// The exact P(|w_t| ≥ δ) (null for continuous laws, which have no finite enumeration).
    pub exact: Option<f64>,
    /// Bound on the rounding error of `exact`.
    pub exact_error: Option<f64>,
    /// Count vectors summed for `exact`.
    pub count_vectors: Option<u64>,
    /// P(w_t = 0 exactly) = 1 − (1 − p₀)^t, p₀ = P(1 − λx̄ = 0) (Prop. 1).
    pub zero_probability: f64,
    /// Lemma 1's log-normal approximation E Φ̄((ln δ − ln|w₀| − tμ)/(s√t)) (null when μ or
    /// s² does not exist, i.e. `zero_probability` > 0).
    pub lognormal: Option<f64>,
    /// μ(λ) (−∞ → JSON "-inf").
    #[serde(serialize_with = "crate::numeric::serialize_f64")]
    pub mu: f64,
    /// s²(λ).
    pub s2: Option<f64>,
}

/// A tie |w₀|F(n) = δ within this relative rounding (of the summed logs) counts as escaped:
/// the criterion is ≥, and exact ties arise for point w₀ with dyadic factors.
const TIE_RELATIVE: f64 = 64.0 * f64::EPSILON;

/// P(|w_t| ≥ δ) for the quadratic with the data law `noise`, exactly for finite laws (see the
/// module doc), with Lemma 1's approximation beside it.
///
/// # Errors
/// `InvalidArgument` (`lr`, `delta` ≤ 0 or non-finite, `w0`, `hi`, the law's arguments);
/// `TooLarge` beyond [`MAX_PATH_COUNT_VECTORS`] count vectors.
pub fn escape_probability(
    noise: &NoiseLaw,
    lr: f64,
    t: u64,
    delta: f64,
    init: &Init,
) -> Result<EscapeProbability, TheoryError> {
    escape_probability_with_cap(noise, lr, t, delta, init, MAX_PATH_COUNT_VECTORS)
}

/// [`escape_probability`] with an explicit cap on the count vectors.
pub fn escape_probability_with_cap(
    noise: &NoiseLaw,
    lr: f64,
    t: u64,
    delta: f64,
    init: &Init,
    cap: u64,
) -> Result<EscapeProbability, TheoryError> {
    check_lr(lr)?;
    if !(delta.is_finite() && delta > 0.0) {
        return invalid(
            "delta",
            format!("the escape threshold must be finite and > 0 (got {delta})"),
        );
    }
    init.check()?;
    let law = BatchMean::from_noise(noise)?;
    let lm = law.log_moments(lr)?;
    let lognormal = match lm.s2 {
        Some(s2) => Some(lognormal_escape(lm.mu, s2, t, delta, init)?),
        None => None,
    };
    let p0 = lm.zero_probability;
    let zero_probability = if p0 > 0.0 {
        -(t as f64 * (-p0).ln_1p()).exp_m1()
    } else {
        0.0
    };
    let (exact, exact_error, count) = match law.atoms() {
        Some((values, probs)) => {
            let (p, e, n) = exact_sum(values, probs, lr, t, delta, init, cap)?;
            (Some(p), Some(e), Some(n))
        }
        None => (None, None, None),
    };
    Ok(EscapeProbability {
        lr,
        t,
        delta,
        init: init.clone(),
        exact,
        exact_error,
        count_vectors: count,
        zero_probability,
        lognormal,
        mu: lm.mu,
        s2: lm.s2,
    })
}

fn exact_sum(
    values: &[f64],
    probs: &[f64],
    lr: f64,
    t: u64,
    delta: f64,
    init: &Init,
    cap: u64,
) -> Result<(f64, f64, u64), TheoryError> {
    let m = values.len();
    let count = count_vectors(m, t, cap);
    if count > cap {
        return Err(TheoryError::TooLarge(format!(
            "t: the exact escape probability over {t} steps with {m} values of x̄ needs more \
             than {cap} count vectors (C({}, {})); use fewer steps",
            t + m as u64 - 1,
            m - 1
        )));
    }
    // ln|1 − λv_j| (−∞ for a zero factor) and ln p_j.
    let zero: Vec<bool> = values.iter().map(|v| is_zero_factor(lr, *v)).collect();
    let ln_y: Vec<f64> = values
        .iter()
        .zip(&zero)
        .map(|(v, z)| {
            if *z {
                f64::NEG_INFINITY
            } else {
                (1.0 - lr * v).abs().ln()
            }
        })
        .collect();
    let ln_p: Vec<f64> = probs.iter().map(|p| p.ln()).collect();
    // ln n! on demand (no table of t + 1 values: with one value of x̄ there is one count
    // vector however large t is, and a table would take 8t bytes).
    let ln_delta = delta.ln();

    struct Ctx<'a> {
        ln_y: &'a [f64],
        ln_p: &'a [f64],
        zero: &'a [bool],
        ln_delta: f64,
        init: &'a Init,
        /// ln t!.
        ln_t_fact: f64,
        sum: f64,
        /// Σ P(n)·(rounding of G at r = δ/F(n)), where G is strictly between 0 and 1.
        g_error: f64,
    }
    fn rec(i: usize, left: usize, ln_f: f64, scale: f64, lp: f64, dead: bool, c: &mut Ctx) {
        let m = c.ln_y.len();
        let visit = |n: usize, c: &mut Ctx| {
            let lp = lp + n as f64 * c.ln_p[i] - ln_factorial(n as u64);
            let dead = dead || (n > 0 && c.zero[i]);
            let (ln_f, scale) = if n > 0 && !c.zero[i] {
                let d = n as f64 * c.ln_y[i];
                (ln_f + d, scale + d.abs())
            } else {
                (ln_f, scale)
            };
            (lp, dead, ln_f, scale)
        };
        if i == m - 1 {
            let (lp, dead, ln_f, scale) = visit(left, c);
            if dead {
                return;
            }
            let prob = (c.ln_t_fact + lp).exp();
            if prob == 0.0 {
                return;
            }
            let inner = escape_given(ln_f, scale, c.ln_delta, c.init);
            c.sum += prob * inner;
            if let Init::Uniform { lo, hi } = *c.init {
                if inner > 0.0 && inner < 1.0 {
                    // r = e^{ln δ − ln F} carries a relative error ≲ 4ε(|ln δ − ln F| + 1),
                    // and G has slope at most 2/(hi − lo).
                    let r = (c.ln_delta - ln_f).exp();
                    c.g_error +=
                        prob * 4.0 * f64::EPSILON * ((c.ln_delta - ln_f).abs() + 1.0) * r * 2.0
                            / (hi - lo);
                }
            }
            return;
        }
        for n in 0..=left {
            let (lp, dead, ln_f2, scale2) = visit(n, c);
            rec(i + 1, left - n, ln_f2, scale2, lp, dead, c);
        }
    }
    let mut ctx = Ctx {
        ln_y: &ln_y,
        ln_p: &ln_p,
        zero: &zero,
        ln_delta,
        init,
        ln_t_fact: ln_factorial(t),
        sum: 0.0,
        g_error: 0.0,
    };
    rec(0, t as usize, 0.0, 0.0, 0.0, false, &mut ctx);
    // Every term P(n)·G is ≥ 0, so relative errors do not grow in the sum: each probability
    // exp(ln t! − Σ ln n_j! + Σ n_j ln p_j) carries a relative error of a few ε times its
    // exponent's magnitude (≲ t ln(t + 1) + t·max|ln p_j|), the sum adds count·ε; plus the
    // rounding of G near its kinks.
    let ln_p_max = ln_p.iter().fold(0.0f64, |m, l| m.max(-l));
    let tf = t as f64;
    let rel = f64::EPSILON * (count as f64 + 8.0 * tf * ((tf + 1.0).ln() + ln_p_max) + 16.0);
    let err = rel * ctx.sum + ctx.g_error;
    Ok((ctx.sum.clamp(0.0, 1.0), err, count))
}

/// P(|w₀|·e^{ln_f} ≥ δ) with ties (within rounding of the summed logs) counted as escaped.
fn escape_given(ln_f: f64, scale: f64, ln_delta: f64, init: &Init) -> f64 {
    match *init {
        Init::Point { w0 } => {
            let l = w0.abs().ln() + ln_f;
            let tie = TIE_RELATIVE * (scale + w0.abs().ln().abs() + ln_delta.abs());
            if l >= ln_delta - tie {
                1.0
            } else {
                0.0
            }
        }
        Init::Uniform { .. } => {
            // r = δ/F.
            let r = (ln_delta - ln_f).exp();
            init.tail(r)
        }
    }
}

/// Lemma 1's log-normal approximation of P(|w_t| ≥ δ) (Eqs 79–80):
/// E_{w₀} Φ̄((ln δ − ln|w₀| − tμ)/(s√t)), Φ̄(z) = ½ erfc(z/√2); for U[lo, hi] by quadrature
/// over w₀ (break at 0). With s = 0 or t = 0 the law of ln|w_t/w₀| is the point tμ.
///
/// # Errors
/// `InvalidArgument` (`mu` NaN or +∞, `s2` < 0, `delta`, `w0`, `hi`); `Numeric`.
pub fn lognormal_escape(
    mu: f64,
    s2: f64,
    t: u64,
    delta: f64,
    init: &Init,
) -> Result<f64, TheoryError> {
    if mu.is_nan() || mu == f64::INFINITY {
        return invalid("mu", format!("must be finite or −∞ (got {mu})"));
    }
    if !(s2.is_finite() && s2 >= 0.0) {
        return invalid("s2", format!("must be finite and ≥ 0 (got {s2})"));
    }
    if !(delta.is_finite() && delta > 0.0) {
        return invalid(
            "delta",
            format!("the escape threshold must be finite and > 0 (got {delta})"),
        );
    }
    init.check()?;
    if mu == f64::NEG_INFINITY && t > 0 {
        return Ok(0.0);
    }
    let tf = t as f64;
    let sd = (tf * s2).sqrt();
    let shift = if t == 0 { 0.0 } else { tf * mu };
    let ln_delta = delta.ln();
    let given = |w: f64| -> f64 {
        let l = w.abs().ln();
        if sd == 0.0 {
            if l + shift >= ln_delta {
                1.0
            } else {
                0.0
            }
        } else {
            0.5 * erfc((ln_delta - l - shift) / (sd * std::f64::consts::SQRT_2))
        }
    };
    match *init {
        Init::Point { w0 } => Ok(given(w0)),
        Init::Uniform { lo, hi } => {
            let mut breaks = vec![0.0];
            if sd == 0.0 {
                // The indicator jumps at |w| = δe^{−tμ}.
                let r = (ln_delta - shift).exp();
                breaks.extend([r, -r]);
            }
            let i = integrate(
                given,
                lo,
                hi,
                &breaks,
                Tolerance {
                    abs: 1e-13,
                    rel: 1e-11,
                },
            )?;
            Ok((i.value / (hi - lo)).clamp(0.0, 1.0))
        }
    }
}
