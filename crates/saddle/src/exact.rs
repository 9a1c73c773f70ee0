//! Exact mode (`mode = "exact"`): SGD on the quadratic L̂ = x w²/2 without stepping.
//!
//! One SGD step multiplies w by 1 − λx̄, with x̄ the minibatch mean of the step's data, so
//! w_t = w₀ · Π_k f_k^{n_k(t)}, where f_k = 1 − λx̄_k runs over the atoms of x̄ (a finite law)
//! and n(t) = (n_k(t)) counts how often each was drawn in t steps. The counts are multinomial,
//! and their increments over disjoint intervals are independent, so the state at every record
//! step can be drawn from its exact law by drawing the increments between record steps: for
//! two atoms one binomial per interval, by inversion of its tabulated CDF; for more, one
//! binomial per atom, conditionally on the ones before. The cost is O(record steps) per run,
//! not O(T).
//!
//! The state is carried as ln|w| and a sign, so it neither overflows nor underflows between
//! record steps. What differs from stepping (documented in `docs/experiment-files.md`):
//! divergence (|w| > bound, or a loss that overflows) and absorption below
//! [`crate::ensemble::ABSORB_BELOW`] are judged at the record steps only, where stepping
//! judges them at every step; a run absorbed by a factor that is exactly 0 is absorbed at
//! the first record step after it. Each run draws w₀ first from its stream (seed, cell, run),
//! as stepping does, so both modes start every run at the same w₀; the rest of the stream is
//! used differently.

use crate::noise::NoiseLaw;
use crate::rng::Philox4x32;
use crate::theory::log_moments::BatchMean;
use rand_distr::{Binomial, Distribution};
use statrs::function::factorial::ln_binomial;
use std::sync::{Arc, Mutex};

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
}

/// A sampler of the count increments over an interval of `n` steps.
#[derive(Clone, Debug)]
pub enum Counts {
    /// No steps: all counts 0.
    Empty,
    /// One factor: it is drawn every step.
    One {
        /// Steps.
        n: u64,
    },
    /// Two factors: the count of the first is Binomial(n, p), drawn by inverting its CDF
    /// with a guide table (O(1) expected comparisons per draw).
    Two {
        /// Steps.
        n: u64,
        /// The CDF and its guide table, shared by every sampler of the same (n, p).
        table: Arc<BinomialTable>,
    },
    /// More factors: conditional binomials, drawn with `rand_distr`.
    Many {
        /// Steps.
        n: u64,
    },
}

/// The CDF of Binomial(n, p) with a guide table for inverting it.
#[derive(Debug)]
pub struct BinomialTable {
    /// CDF at k = 0..=n, ending at exactly 1.
    cdf: Vec<f64>,
    /// guide\[j\]: the smallest k with cdf\[k\] ≥ j/len.
    guide: Vec<u32>,
}

impl BinomialTable {
    fn new(n: u64, p: f64) -> BinomialTable {
        let (lp, lq) = (p.ln(), (1.0 - p).ln());
        let mut cdf = Vec::with_capacity(n as usize + 1);
        let mut acc = 0.0;
        for k in 0..=n {
            let ln_pmf = ln_binomial(n, k)
                + if k == 0 { 0.0 } else { k as f64 * lp }
                + if k == n { 0.0 } else { (n - k) as f64 * lq };
            acc += ln_pmf.exp();
            cdf.push(acc);
        }
        for c in cdf.iter_mut() {
            *c /= acc;
        }
        cdf[n as usize] = 1.0;
        let len = (n as usize + 1).clamp(64, 4096);
        let mut guide = Vec::with_capacity(len);
        let mut k = 0usize;
        for j in 0..len {
            let u = j as f64 / len as f64;
            while cdf[k] < u {
                k += 1;
            }
            guide.push(k as u32);
        }
        BinomialTable { cdf, guide }
    }

    /// The table of (n, p), computed once per process and shared: the cells of a phase
    /// diagram differ in their factors, not in (n, p), and building a table (n + 1 values of
    /// ln Γ) costs more than drawing thousands of runs from it. The table is a function of
    /// (n, p) alone, so sharing it changes no result. At most [`TABLE_CACHE`] tables are
    /// kept.
    fn shared(n: u64, p: f64) -> Arc<BinomialTable> {
        static CACHE: Mutex<Vec<TableEntry>> = Mutex::new(Vec::new());
        let key = (n, p.to_bits());
        // A poisoned lock only means another thread panicked mid-lookup; the list is intact.
        let lock = || CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let find = |cache: &[TableEntry]| {
            cache
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, t)| Arc::clone(t))
        };
        if let Some(t) = find(&lock()) {
            return t;
        }
        // Built outside the lock, so threads building other tables do not wait.
        let t = Arc::new(BinomialTable::new(n, p));
        let mut cache = lock();
        if let Some(t) = find(&cache) {
            return t;
        }
        if cache.len() >= TABLE_CACHE {
            cache.remove(0);
        }
        cache.push((key, Arc::clone(&t)));
        t
    }
}

/// A cached table and its key: (n, the bits of p).
type TableEntry = ((u64, u64), Arc<BinomialTable>);

/// Binomial tables kept for reuse by [`BinomialTable::shared`].
const TABLE_CACHE: usize = 64;

impl Counts {
    /// Prepare the sampler for intervals of `n` steps.
    pub fn new(f: &Factors, n: u64) -> Counts {
        if n == 0 {
            return Counts::Empty;
        }
        match f.len() {
            0 | 1 => Counts::One { n },
            2 => Counts::Two {
                n,
                table: BinomialTable::shared(n, f.probs[0] / (f.probs[0] + f.probs[1])),
            },
            _ => Counts::Many { n },
        }
    }

    /// Draw the increments into `out` (one per factor).
    #[inline]
    pub fn draw(&self, f: &Factors, rng: &mut Philox4x32, out: &mut [u64]) {
        match self {
            Counts::Empty => out.fill(0),
            Counts::One { n } => {
                out.fill(0);
                if let Some(o) = out.first_mut() {
                    *o = *n;
                }
            }
            Counts::Two { n, table } => {
                let (cdf, guide) = (&table.cdf, &table.guide);
                let u = rng.next_f64();
                let mut k =
                    guide[((u * guide.len() as f64) as usize).min(guide.len() - 1)] as usize;
                while cdf[k] <= u {
                    k += 1;
                }
                out[0] = k as u64;
                out[1] = n - k as u64;
            }
            Counts::Many { n } => {
                let mut left = *n;
                let mut mass = 1.0;
                let last = f.len() - 1;
                for (o, &pk) in out[..last].iter_mut().zip(&f.probs) {
                    let p = (pk / mass).clamp(0.0, 1.0);
                    let k = if left == 0 {
                        0
                    } else {
                        Binomial::new(left, p).map_or(0, |b| b.sample(rng))
                    };
                    *o = k;
                    left -= k;
                    mass -= pk;
                }
                out[last] = left;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shared table is the table built afresh (so sharing changes no draw), the same one is
    /// handed out for the same (n, p), and another (n, p) gets its own.
    #[test]
    fn shared_tables_are_the_tables_of_their_key() {
        let a = BinomialTable::shared(37, 0.3);
        let fresh = BinomialTable::new(37, 0.3);
        assert_eq!(a.cdf, fresh.cdf);
        assert_eq!(a.guide, fresh.guide);
        assert!(Arc::ptr_eq(&a, &BinomialTable::shared(37, 0.3)));
        let b = BinomialTable::shared(38, 0.3);
        let c = BinomialTable::shared(37, 0.31);
        assert_eq!(b.cdf.len(), 39);
        assert!(!Arc::ptr_eq(&a, &c));
        assert_ne!(a.cdf, c.cdf);
    }
}
