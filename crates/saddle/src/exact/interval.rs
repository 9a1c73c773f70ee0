//! One interval between record steps: the product of factors it applies to a run, and where a
//! batch of runs reads its random words.

use super::{Counts, Factors, TABLE_STEPS};
use crate::rng::{LaneWords, Philox4x32};
use std::sync::atomic::{AtomicU64, Ordering};

/// Beyond this |ln| a factor's product is not formed (its exp could overflow, or underflow,
/// where the state times it would not): the state is then advanced in logs.
pub const SAFE_LN: f64 = 700.0;

/// What one interval does to a run: w ↦ w · Π_k f_k^{n_k}.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Product {
    /// The product, within e^±[`SAFE_LN`] (a normal number).
    Value(f64),
    /// A product beyond e^±SAFE_LN, or 0 (a zero factor was drawn), by its logarithm.
    Log {
        /// ln|Π f_k^{n_k}| (−∞ for 0).
        ln_abs: f64,
        /// Whether the product is negative.
        negative: bool,
    },
}

impl Product {
    /// The product of the factors drawn `counts[k]` times each.
    pub fn of_counts(f: &Factors, counts: &[u64]) -> Product {
        let (mut ln_abs, mut negative) = (0.0, false);
        for (k, &n) in counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            ln_abs += n as f64 * f.ln_abs[k];
            negative ^= f.negative[k] && n % 2 == 1;
        }
        if ln_abs.abs() <= SAFE_LN {
            let v = ln_abs.exp();
            Product::Value(if negative { -v } else { v })
        } else {
            Product::Log { ln_abs, negative }
        }
    }
}

/// One interval between record steps: its count sampler and the products it yields. With two
/// factors the product is a function of the first count alone, so it is computed once per
/// count value that occurs (a cell's runs draw only a few dozen distinct counts of the n + 1)
/// and kept: the ensemble's runs share the interval, and any thread may fill an entry, with
/// the same value.
#[derive(Debug)]
pub struct Interval {
    counts: Counts,
    /// Two factors: the product's bits for first counts `lo..lo + products.len()` ([`LOG`]
    /// for a [`Product::Log`]), [`UNSET`] until first needed.
    products: Vec<AtomicU64>,
    lo: u64,
}

/// Marks a product not computed yet: a NaN, which no product is.
const UNSET: u64 = u64::MAX;
/// Marks a product kept by its logarithm ([`Product::Log`], recomputed when drawn): another NaN.
const LOG: u64 = u64::MAX - 1;

impl Interval {
    /// The interval of `n` steps (its counts tabulated if `n` ≤ [`TABLE_STEPS`]).
    pub fn new(f: &Factors, n: u64) -> Interval {
        Interval::with_table(f, n, n <= TABLE_STEPS)
    }

    /// The intervals between the record steps `record` (sorted, from step 0): the first ones,
    /// up to [`TABLE_STEPS`] steps in all, with tabulated counts, the others with drawn ones.
    /// Memory and set-up time are bounded whatever the steps.
    pub fn between(f: &Factors, record: &[u64]) -> Vec<Interval> {
        let mut budget = TABLE_STEPS;
        let mut prev = 0;
        record
            .iter()
            .map(|&stop| {
                let n = stop - prev;
                prev = stop;
                let tabulate = n <= budget;
                if tabulate && f.len() == 2 {
                    budget -= n;
                }
                Interval::with_table(f, n, tabulate)
            })
            .collect()
    }

    fn with_table(f: &Factors, n: u64, tabulate: bool) -> Interval {
        let counts = Counts::with_table(f, n, tabulate);
        // Kept for the counts within 10 standard deviations of the mean (all but a fraction
        // 10⁻²² of the draws); the rare others are computed when drawn. Only with a table
        // (so at most n + 1 of them); drawn counts have their products computed each time.
        let (lo, hi) = match counts {
            Counts::Two { n, .. } => {
                let p = f.first_share();
                let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
                let lo = (mean - 10.0 * sd - 1.0).max(0.0) as u64;
                let hi = ((mean + 10.0 * sd + 1.0).min(n as f64) as u64).max(lo);
                (lo, hi + 1)
            }
            _ => (0, 0),
        };
        let products = (lo..hi).map(|_| AtomicU64::new(UNSET)).collect();
        Interval {
            counts,
            products,
            lo,
        }
    }

    /// Draw the interval's counts (into `counts`, one per factor) and return their product.
    #[inline(always)]
    pub fn draw(&self, f: &Factors, rng: &mut Philox4x32, counts: &mut [u64]) -> Product {
        self.counts.draw(f, rng, counts);
        self.product(f, counts)
    }

    /// Draw the interval's product for each of a batch of runs whose words come from `src`,
    /// into `out[i]` for the runs with `live[i]` (the others' entries are left as they are).
    /// Each run's draw is the one [`Interval::draw`] makes from its stream; with two factors
    /// every run reads the same number of words, so they are read across runs at once.
    /// `counts` is scratch, one entry per factor.
    #[inline(always)]
    pub fn draw_lanes<const N: usize>(
        &self,
        f: &Factors,
        src: &mut LaneSource<N>,
        live: &[bool],
        counts: &mut [u64],
        out: &mut [Product; N],
    ) {
        match &self.counts {
            Counts::Two { table, .. } => {
                let u = src.uniforms(live.len());
                for i in 0..live.len() {
                    if live[i] {
                        out[i] = self.product_of_first(f, table.invert(u[i]));
                    }
                }
            }
            Counts::Many { .. } | Counts::TwoDrawn { .. } => {
                let streams = src.streams();
                for i in 0..live.len() {
                    if live[i] {
                        out[i] = self.draw(f, &mut streams[i], counts);
                    }
                }
            }
            // No randomness: one product for all.
            Counts::Empty | Counts::One { .. } => {
                self.counts.fixed(counts);
                let p = self.product(f, counts);
                for i in 0..live.len() {
                    if live[i] {
                        out[i] = p;
                    }
                }
            }
        }
    }

    /// Whether the interval has two factors (its counts one binomial).
    pub fn is_two(&self) -> bool {
        matches!(self.counts, Counts::Two { .. })
    }

    /// Two factors: the first counts drawn by the uniforms `u` (as [`Interval::draw`] does
    /// with each stream's next uniform).
    #[inline(always)]
    pub fn invert_all<const N: usize>(&self, u: &[f64; N]) -> [u64; N] {
        match &self.counts {
            Counts::Two { table, .. } => table.invert_all(u),
            _ => unreachable!("invert_all is for two-factor intervals"),
        }
    }

    /// Two factors: the product for first count `k`, as [`Interval::draw`] returns it.
    #[inline(always)]
    pub fn product_of_first(&self, f: &Factors, k: u64) -> Product {
        match &self.counts {
            Counts::Two { n, .. } => self.product(f, &[k, n - k]),
            _ => unreachable!("product_of_first is for two-factor intervals"),
        }
    }

    /// Two factors: the product for first count `k` as a number where it is one
    /// ([`Product::Value`]) and `k` is within the kept window, else NaN.
    #[inline(always)]
    pub fn kept_value(&self, f: &Factors, k: u64) -> f64 {
        match self.products.get(k.wrapping_sub(self.lo) as usize) {
            // LOG is a NaN too.
            Some(cell) => match cell.load(Ordering::Relaxed) {
                UNSET => match self.product_of_first(f, k) {
                    Product::Value(v) => v,
                    Product::Log { .. } => f64::NAN,
                },
                bits => f64::from_bits(bits),
            },
            None => f64::NAN,
        }
    }

    /// The product of the counts `counts`, kept from an earlier draw where there is one.
    #[inline(always)]
    fn product(&self, f: &Factors, counts: &[u64]) -> Product {
        let kept = counts[0]
            .checked_sub(self.lo)
            .and_then(|k| self.products.get(k as usize));
        let Some(cell) = kept else {
            return Product::of_counts(f, counts);
        };
        match cell.load(Ordering::Relaxed) {
            UNSET => {
                let p = Product::of_counts(f, counts);
                let bits = match p {
                    Product::Value(v) => v.to_bits(),
                    Product::Log { .. } => LOG,
                };
                cell.store(bits, Ordering::Relaxed);
                p
            }
            LOG => Product::of_counts(f, counts),
            bits => Product::Value(f64::from_bits(bits)),
        }
    }
}

/// Where the random words of a batch of `N` runs come from in exact mode: read across runs
/// in lockstep ([`LaneWords`]) while every run reads the same number of words (a uniform w₀,
/// two-factor intervals), and from each run's own stream from the first draw whose number
/// of words depends on its values (conditional binomials, more factors) on. Either way each
/// run reads its own stream (seed, cell, run), word for word.
pub struct LaneSource<const N: usize> {
    words: LaneWords<N>,
    streams: Option<Box<[Philox4x32; N]>>,
}

impl<const N: usize> LaneSource<N> {
    /// The streams of runs `first..first + N` of `cell`.
    #[inline(always)]
    pub fn new(seed: u64, cell: u32, first: u32) -> Self {
        LaneSource {
            words: LaneWords::new(seed, cell, first),
            streams: None,
        }
    }

    /// The next uniform ([`Philox4x32::next_f64`]) of every run's stream; of the first `n`
    /// runs' streams once they are read run by run (the others' entries are 0).
    #[inline(always)]
    pub fn uniforms(&mut self, n: usize) -> [f64; N] {
        match &mut self.streams {
            None => self.words.next_f64(),
            Some(streams) => {
                let mut u = [0.0; N];
                for (u, s) in u.iter_mut().zip(streams.iter_mut()).take(n) {
                    *u = s.next_f64();
                }
                u
            }
        }
    }

    /// Each run's own stream, from where the lanes are: from now on words are read run by run.
    pub fn streams(&mut self) -> &mut [Philox4x32; N] {
        let words = &self.words;
        self.streams
            .get_or_insert_with(|| Box::new(words.streams()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factors(values: &[f64], probs: &[f64]) -> Factors {
        Factors {
            ln_abs: values.iter().map(|y: &f64| y.abs().ln()).collect(),
            negative: values.iter().map(|y| *y < 0.0).collect(),
            probs: probs.to_vec(),
        }
    }

    /// An interval's product is the product of the counts it drew, whether computed or kept
    /// from an earlier draw, and its value is ±exp(ln|Π|) with the parity's sign.
    #[test]
    fn interval_products_are_the_products_of_their_counts() {
        for f in [
            factors(&[-0.6, 2.2], &[0.5, 0.5]),
            factors(&[0.9, -1.7, 0.0], &[0.3, 0.5, 0.2]),
        ] {
            let interval = Interval::new(&f, 57);
            let mut rng = Philox4x32::new(3, 1, 4);
            let mut counts = vec![0; f.len()];
            for _ in 0..2000 {
                let p = interval.draw(&f, &mut rng, &mut counts);
                assert_eq!(counts.iter().sum::<u64>(), 57);
                assert_eq!(p, Product::of_counts(&f, &counts));
                let odd_negatives = counts
                    .iter()
                    .zip(&f.negative)
                    .filter(|(n, neg)| **neg && **n % 2 == 1)
                    .count();
                let direct: f64 = counts
                    .iter()
                    .zip(&f.ln_abs)
                    .map(|(n, l)| l.exp().powi(*n as i32))
                    .product();
                match p {
                    Product::Value(v) => {
                        assert_eq!(v < 0.0, odd_negatives % 2 == 1);
                        assert!((v.abs() / direct - 1.0).abs() < 1e-12);
                    }
                    Product::Log { ln_abs, negative } => {
                        assert_eq!(negative, odd_negatives % 2 == 1);
                        // A zero factor was drawn (57 draws stay within e^±700 otherwise).
                        assert!(counts[2] > 0 && ln_abs == f64::NEG_INFINITY && direct == 0.0);
                    }
                }
            }
        }
        // Beyond e^±SAFE_LN: by the logarithm.
        let f = factors(&[-0.5, 5.0], &[0.5, 0.5]);
        let interval = Interval::new(&f, 2000);
        let mut rng = Philox4x32::new(1, 2, 3);
        let mut counts = vec![0; 2];
        for _ in 0..100 {
            let p = interval.draw(&f, &mut rng, &mut counts);
            let ln = counts[0] as f64 * 0.5f64.ln() + counts[1] as f64 * 5f64.ln();
            assert_eq!(p, Product::of_counts(&f, &counts));
            let Product::Log { ln_abs, negative } = p else {
                panic!("{p:?} for ln {ln}")
            };
            assert!((ln_abs - ln).abs() < 1e-9 && ln > SAFE_LN);
            assert_eq!(negative, counts[0] % 2 == 1);
        }
    }
}
