//! The factors 1 − λx̄_k of one SGD step on the quadratic, with their probabilities.

use crate::noise::BatchMean;
use crate::noise::NoiseLaw;

/// The factors 1 − λx̄_k of one step, with their probabilities.
#[derive(Clone, Debug, PartialEq)]
pub struct Factors {
    /// ln|f_k| (−∞ for a zero factor).
    pub ln_abs: Vec<f64>,
    /// f_k < 0.
    pub negative: Vec<bool>,
    /// P(x̄ = x̄_k).
    pub probs: Vec<f64>,
}

impl Factors {
    /// The factors of SGD with learning rate `lr` on the quadratic with data law `noise`
    /// (its minibatch mean x̄ must be a finite law). None when it is not.
    pub fn new(noise: &NoiseLaw, lr: f64) -> Option<Factors> {
        let law = BatchMean::from_noise(noise).ok()?;
        let (values, probs) = law.atoms()?;
        let mut f = Factors {
            ln_abs: Vec::new(),
            negative: Vec::new(),
            probs: Vec::new(),
        };
        for (&x, &p) in values.iter().zip(probs) {
            if p <= 0.0 {
                continue;
            }
            let y = 1.0 - lr * x;
            f.ln_abs.push(y.abs().ln());
            f.negative.push(y < 0.0);
            f.probs.push(p);
        }
        Some(f)
    }

    /// The number of distinct factors.
    pub fn len(&self) -> usize {
        self.probs.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.probs.is_empty()
    }

    /// With two factors: the probability of the first, the p of its binomial count.
    pub(super) fn first_share(&self) -> f64 {
        self.probs[0] / (self.probs[0] + self.probs[1])
    }
}
