//! The count increments over an interval of steps: the samplers, the tabulated binomial CDFs
//! they invert, and the process-wide cache of those tables.

use super::Factors;
use crate::rng::Philox4x32;
use rand_distr::{Binomial, Distribution};
use statrs::function::factorial::ln_binomial;
use std::sync::{Arc, Mutex};

#[cfg(doc)]
use super::Interval;

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
    /// Two factors over more steps than are tabulated ([`TABLE_STEPS`]): the count of the
    /// first is Binomial(n, p), drawn with `rand_distr` (BTPE: O(1) memory and expected time,
    /// a varying number of random words).
    TwoDrawn {
        /// Steps.
        n: u64,
        /// Binomial(n, p).
        binomial: Binomial,
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
    /// (n, p) alone, so sharing it changes no result. At most [`TABLE_CACHE`] tables, of
    /// [`CACHE_ENTRIES`] values in all, are kept.
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
        let held = |c: &[TableEntry]| c.iter().map(|(_, t)| t.cdf.len()).sum::<usize>();
        while !cache.is_empty()
            && (cache.len() >= TABLE_CACHE || held(&cache) + t.cdf.len() > CACHE_ENTRIES)
        {
            cache.remove(0);
        }
        cache.push((key, Arc::clone(&t)));
        t
    }

    /// The count whose CDF interval holds `u` ∈ [0, 1): the smallest k with cdf\[k\] > u.
    #[inline(always)]
    pub(super) fn invert(&self, u: f64) -> u64 {
        self.search(self.bucket(u), u)
    }

    /// [`BinomialTable::invert`] for each of `u`, the guide's buckets computed across them
    /// first (so that step vectorises).
    #[inline(always)]
    pub(super) fn invert_all<const N: usize>(&self, u: &[f64; N]) -> [u64; N] {
        let mut j = [0usize; N];
        for (j, &u) in j.iter_mut().zip(u) {
            *j = self.bucket(u);
        }
        let mut k = [0u64; N];
        for ((k, &j), &u) in k.iter_mut().zip(&j).zip(u) {
            *k = self.search(j, u);
        }
        k
    }

    /// The guide entry to start from for `u`.
    #[inline(always)]
    fn bucket(&self, u: f64) -> usize {
        let len = self.guide.len();
        ((u * len as f64) as usize).min(len - 1)
    }

    /// The smallest k with cdf\[k\] > u, from guide entry `j` on.
    #[inline(always)]
    fn search(&self, j: usize, u: f64) -> u64 {
        let mut k = self.guide[j] as usize;
        while self.cdf[k] <= u {
            k += 1;
        }
        k as u64
    }
}

/// A cached table and its key: (n, the bits of p).
type TableEntry = ((u64, u64), Arc<BinomialTable>);

/// Binomial tables kept for reuse by [`BinomialTable::shared`].
const TABLE_CACHE: usize = 64;

/// The most CDF values the tables kept by [`BinomialTable::shared`] hold together (64 MB).
const CACHE_ENTRIES: usize = 1 << 23;

/// The most steps whose binomial counts one ensemble draws from tabulated CDFs, summed over its
/// intervals ([`Interval::between`]): a table of an interval of n steps holds n + 1 values (8
/// bytes each), so this bounds their memory (16 MB) and the time to build them whatever T.
/// Intervals beyond it draw their counts with `rand_distr`'s exact sampler instead
/// ([`Counts::TwoDrawn`]): the same law, other random numbers.
pub const TABLE_STEPS: u64 = 1 << 21;

impl Counts {
    /// Prepare the sampler for intervals of `n` steps: by a tabulated CDF if `n` ≤
    /// [`TABLE_STEPS`].
    pub fn new(f: &Factors, n: u64) -> Counts {
        Counts::with_table(f, n, n <= TABLE_STEPS)
    }

    /// [`Counts::new`], with two factors by a tabulated CDF if `tabulate`, else by
    /// `rand_distr`'s sampler.
    pub(super) fn with_table(f: &Factors, n: u64, tabulate: bool) -> Counts {
        if n == 0 {
            return Counts::Empty;
        }
        match f.len() {
            0 | 1 => Counts::One { n },
            2 if tabulate => Counts::Two {
                n,
                table: BinomialTable::shared(n, f.first_share()),
            },
            2 => match Binomial::new(n, f.first_share()) {
                Ok(binomial) => Counts::TwoDrawn { n, binomial },
                // p is a probability in (0, 1) (`Factors` keeps positive ones): not reached.
                Err(_) => Counts::Many { n },
            },
            _ => Counts::Many { n },
        }
    }

    /// The increments where they are not random (no steps, or one factor), into `out`.
    #[inline(always)]
    pub(super) fn fixed(&self, out: &mut [u64]) {
        out.fill(0);
        if let (Counts::One { n }, Some(o)) = (self, out.first_mut()) {
            *o = *n;
        }
    }

    /// Draw the increments into `out` (one per factor).
    #[inline]
    pub fn draw(&self, f: &Factors, rng: &mut Philox4x32, out: &mut [u64]) {
        match self {
            Counts::Empty | Counts::One { .. } => self.fixed(out),
            Counts::Two { n, table } => {
                let k = table.invert(rng.next_f64());
                out[0] = k;
                out[1] = n - k;
            }
            Counts::TwoDrawn { n, binomial } => {
                let k = binomial.sample(rng);
                out[0] = k;
                out[1] = n - k;
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

    /// The inversion across lanes and the one-by-one inversion both return, for every u, the
    /// smallest k with cdf[k] > u (found here by a plain scan from 0): for random uniforms,
    /// for u exactly at CDF values and just below and above them, and for u near 0 and 1.
    #[test]
    fn inversions_are_the_smallest_count_above_u() {
        let scan = |t: &BinomialTable, u: f64| t.cdf.iter().position(|&c| c > u).unwrap() as u64;
        let mut rng = Philox4x32::new(3, 0, 0);
        for (n, p) in [
            (1, 0.5),
            (7, 0.2),
            (64, 0.5),
            (1000, 0.5),
            (1000, 0.01),
            (5000, 0.97),
        ] {
            let t = BinomialTable::new(n, p);
            let mut us: Vec<f64> = (0..4096).map(|_| rng.next_f64()).collect();
            for &c in &t.cdf {
                if c < 1.0 {
                    us.extend([
                        c,
                        c.next_down().max(0.0),
                        c.next_up().min(1.0f64.next_down()),
                    ]);
                }
            }
            us.extend([0.0, f64::MIN_POSITIVE, 1.0f64.next_down()]);
            while us.len() % 16 != 0 {
                us.push(0.5);
            }
            for lanes in us.chunks_exact(16) {
                let u: [f64; 16] = lanes.try_into().unwrap();
                let k = t.invert_all(&u);
                for i in 0..16 {
                    let want = scan(&t, u[i]);
                    assert_eq!(t.invert(u[i]), want, "n {n} p {p} u {}", u[i]);
                    assert_eq!(k[i], want, "n {n} p {p} u {} (lanes)", u[i]);
                }
            }
        }
    }
}
