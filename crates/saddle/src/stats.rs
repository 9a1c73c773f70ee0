//! Streaming mean and variance (Welford), mergeable in a fixed order so that ensemble
//! summaries are byte-identical whatever the thread count.

use serde::{Deserialize, Serialize};

/// Running count, mean and sum of squared deviations (Welford 1962; merge by Chan et al.).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Welford {
    /// Number of values.
    pub n: u64,
    /// Mean of the values.
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}

impl Welford {
    /// Add one value.
    #[inline]
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    /// Add several values at once: their mean and sum of squared deviations by two passes,
    /// merged in ([`Welford::merge`]). The same statistics as pushing them one by one, up to
    /// rounding (two passes are the more accurate), with no division per value.
    #[inline]
    pub fn push_all(&mut self, xs: &[f64]) {
        if xs.is_empty() {
            return;
        }
        let n = xs.len() as f64;
        let mut mean = sum8(xs, |x| x) / n;
        if !mean.is_finite() {
            // The sum overflowed (values near f64::MAX); a mean of scaled values does not.
            mean = sum8(xs, |x| x / n);
        }
        let m2 = sum8(xs, |x| (x - mean) * (x - mean));
        self.merge(&Welford {
            n: xs.len() as u64,
            mean,
            m2,
        });
    }

    /// Merge another accumulator into this one (Chan, Golub & LeVeque).
    pub fn merge(&mut self, o: &Welford) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *o;
            return;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        self.mean += d * o.n as f64 / n as f64;
        self.m2 += o.m2 + d * d * (self.n as f64 * o.n as f64 / n as f64);
        self.n = n;
    }

    /// The mean, or `None` with no values.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }

    /// Sample variance (n − 1 denominator), or `None` with fewer than two values.
    pub fn variance(&self) -> Option<f64> {
        (self.n > 1).then(|| self.m2 / (self.n - 1) as f64)
    }

    /// Standard error of the mean, or `None` with fewer than two values.
    pub fn stderr(&self) -> Option<f64> {
        self.variance().map(|v| (v / self.n as f64).sqrt())
    }
}

/// Σ f(x) over `xs` in eight partial sums, value i into sum i mod 8, added in a fixed tree at
/// the end: the same result for the same values on every machine and thread count, and a loop
/// the compiler vectorises (one sum added value by value is a chain of dependent additions).
/// The sums start from −0.0, as `Iterator::sum` does.
#[inline]
fn sum8(xs: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [-0.0f64; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for j in 0..8 {
            acc[j] += f(c[j]);
        }
    }
    for (a, &x) in acc.iter_mut().zip(chunks.remainder()) {
        *a += f(x);
    }
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

/// Standard error of a proportion k/n: √(p(1−p)/n).
pub fn proportion_stderr(k: u64, n: u64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let p = k as f64 / n as f64;
    (p * (1.0 - p) / n as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values pushed in batches give the statistics of pushing them one by one, to rounding,
    /// including values whose plain sum overflows.
    #[test]
    fn push_all_matches_push() {
        let xs: Vec<f64> = (0..1000)
            .map(|i| ((i * 7919) % 1013) as f64 * 0.01 - 3.0)
            .collect();
        for batch in [1, 2, 7, 8, 9, 16, 64, 999, 1000] {
            let (mut one, mut all) = (Welford::default(), Welford::default());
            xs.iter().for_each(|x| one.push(*x));
            xs.chunks(batch).for_each(|c| all.push_all(c));
            assert_eq!(all.n, one.n);
            assert!((all.mean - one.mean).abs() < 1e-13, "batch {batch}");
            assert!((all.m2 / one.m2 - 1.0).abs() < 1e-12, "batch {batch}");
        }
        let big = [1.5e308, 1.7e308, 1.6e308];
        let mut w = Welford::default();
        w.push_all(&big);
        assert!((w.mean / 1.6e308 - 1.0).abs() < 1e-15);
        let mut empty = Welford::default();
        empty.push_all(&[]);
        assert_eq!(empty, Welford::default());
    }

    #[test]
    fn welford_matches_two_pass_and_merge_is_exact_enough() {
        let xs: Vec<f64> = (0..1000)
            .map(|i| ((i * 7919) % 1013) as f64 * 0.01 - 3.0)
            .collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
        let mut a = Welford::default();
        xs.iter().for_each(|x| a.push(*x));
        assert!((a.mean - mean).abs() < 1e-12);
        assert!((a.variance().unwrap() - var).abs() < 1e-10);
        let (mut l, mut r) = (Welford::default(), Welford::default());
        xs[..377].iter().for_each(|x| l.push(*x));
        xs[377..].iter().for_each(|x| r.push(*x));
        l.merge(&r);
        assert_eq!(l.n, 1000);
        assert!((l.mean - mean).abs() < 1e-12);
        assert!((l.variance().unwrap() - var).abs() < 1e-10);
    }

    /// The eight partial sums: every value is added once, whatever the length (integers, so
    /// the sum is exact), in a fixed grouping; an empty sum and a sum of −0.0 are −0.0.
    #[test]
    fn sum8_adds_every_value_once() {
        for n in 0..40usize {
            let xs: Vec<f64> = (1..=n).map(|i| i as f64).collect();
            assert_eq!(sum8(&xs, |x| x), (n * (n + 1) / 2) as f64, "n = {n}");
            assert_eq!(sum8(&xs, |x| 2.0 * x), (n * (n + 1)) as f64, "n = {n}");
        }
        assert!(sum8(&[], |x| x).is_sign_negative());
        assert!(sum8(&[-0.0; 11], |x| x).is_sign_negative());
        // The grouping is fixed: value i goes to sum i mod 8.
        let xs = [1e16, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1e16, 1.0];
        assert_eq!(sum8(&xs, |x| x), 2.0);
    }

    #[test]
    fn empty_has_no_mean() {
        assert_eq!(Welford::default().mean(), None);
        assert_eq!(Welford::default().stderr(), None);
    }
}
