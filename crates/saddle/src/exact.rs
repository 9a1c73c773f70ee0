//! Exact mode (`mode = "exact"`): SGD on the quadratic L̂ = x w²/2 without stepping.
//!
//! One SGD step multiplies w by 1 − λx̄, with x̄ the minibatch mean of the step's data, so
//! w_t = w₀ · Π_k f_k^{n_k(t)}, where f_k = 1 − λx̄_k runs over the atoms of x̄ (a finite law)
//! and n(t) = (n_k(t)) counts how often each was drawn in t steps. The counts are multinomial,
//! and their increments over disjoint intervals are independent, so the state at every record
//! step can be drawn from its exact law by drawing the increments between record steps: for
//! two atoms one binomial per interval, by inversion of its tabulated CDF (for intervals of up
//! to [`TABLE_STEPS`] steps in all), else with `rand_distr`'s BTPE sampler (Kachitvichyanukul
//! & Schmeiser 1988, exact, O(1) memory and expected time); for more atoms, one binomial per
//! atom, conditionally on the ones before. The cost is O(record steps) per run, and memory
//! O(record steps + [`TABLE_STEPS`]), not O(T): T = 8·10¹⁵ costs what T = 10⁷ does.
//!
//! The state is carried as ln|w| and a sign, so it neither overflows nor underflows between
//! record steps. What differs from stepping (documented in `docs/experiment-files.md`):
//! divergence (|w| > bound, or a loss that overflows) and absorption below
//! [`crate::rules::ABSORB_BELOW`] are judged at the record steps only, where stepping
//! judges them at every step; a run absorbed by a factor that is exactly 0 is absorbed at
//! the first record step after it. Each run draws w₀ first from its stream (seed, cell, run),
//! as stepping does, so both modes start every run at the same w₀; the rest of the stream is
//! used differently.

use crate::noise::BatchMean;
use crate::noise::NoiseLaw;
use crate::rng::{LaneWords, Philox4x32};
pub use crate::rules::Next;
use crate::rules::{Rules, ABSORB_BELOW};
use rand_distr::{Binomial, Distribution};
use statrs::function::factorial::ln_binomial;
use std::f64::consts::LN_2;
use std::sync::atomic::{AtomicU64, Ordering};
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

    /// With two factors: the probability of the first, the p of its binomial count.
    fn first_share(&self) -> f64 {
        self.probs[0] / (self.probs[0] + self.probs[1])
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
    fn invert(&self, u: f64) -> u64 {
        self.search(self.bucket(u), u)
    }

    /// [`BinomialTable::invert`] for each of `u`, the guide's buckets computed across them
    /// first (so that step vectorises).
    #[inline(always)]
    fn invert_all<const N: usize>(&self, u: &[f64; N]) -> [u64; N] {
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
    fn with_table(f: &Factors, n: u64, tabulate: bool) -> Counts {
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
    fn fixed(&self, out: &mut [u64]) {
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

/// How far beyond a wall the exponent bracket of [`Walls::advance`] must put ln|w| to decide
/// without a logarithm: far above the rounding of ln|x| + ln|Π| (about 10⁻¹³ at |ln| ≤ 2000).
const BRACKET_MARGIN: f64 = 1e-6;

/// The walls of the state's range: absorption below [`ABSORB_BELOW`], divergence above the
/// bound.
#[derive(Clone, Copy, Debug)]
pub struct Walls {
    rules: Rules,
    ln_limit: f64,
    ln_absorb: f64,
}

impl Walls {
    /// Divergence above `bound` (or f64's largest value, if lower).
    pub fn new(bound: f64) -> Walls {
        let rules = Rules::new(bound, true);
        Walls {
            rules,
            ln_limit: rules.limit().ln(),
            ln_absorb: ABSORB_BELOW.ln(),
        }
    }

    /// The state after an interval whose product is `p`, from the state `x` (a live run:
    /// ABSORB_BELOW ≤ |x| ≤ the bound). Within [`SAFE_LN`] the product is a normal number, so
    /// x · p is the true new state rounded once: if it underflows, the true state is below
    /// ABSORB_BELOW too, and if it overflows, past the bound. Beyond SAFE_LN (or for a zero
    /// factor) the product itself may not be representable, and the state is advanced in logs.
    // `!(x <= b)` is meant: it is true for NaN.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    #[inline]
    pub fn advance(&self, x: f64, p: &Product) -> Next {
        match *p {
            Product::Value(v) => self.rules.land_value(x * v),
            Product::Log { ln_abs, negative } => {
                // Most such runs end far beyond a wall (a phase diagram's escaping and
                // trapped cells): x's binary exponent brackets ln|x| within ln 2, which
                // settles them without a logarithm, with a margin far above the rounding of
                // the sum below, so the answer is the one it gives.
                let biased = (x.to_bits() >> 52) & 0x7ff;
                if (1..0x7ff).contains(&biased) {
                    let e = biased as f64 - 1023.0;
                    if (e + 1.0) * LN_2 + ln_abs < self.ln_absorb - BRACKET_MARGIN {
                        return Next::Absorbed;
                    }
                    if e * LN_2 + ln_abs > self.ln_limit + BRACKET_MARGIN {
                        return Next::Diverged;
                    }
                }
                self.advance_in_logs(x, ln_abs, negative)
            }
        }
    }

    /// [`Walls::advance`] by a product ±exp(`ln_abs`) (sign `negative`), in logarithms:
    /// ln|w| = ln|x| + ln|Π| against the walls' logarithms.
    // `!(x <= b)` is meant: it is true for NaN.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    #[inline]
    fn advance_in_logs(&self, x: f64, ln_abs: f64, negative: bool) -> Next {
        let ln_w = x.abs().ln() + ln_abs;
        if ln_w < self.ln_absorb {
            Next::Absorbed
        } else if !(ln_w <= self.ln_limit) {
            Next::Diverged
        } else {
            let v = ln_w.exp();
            Next::At(if (x < 0.0) != negative { -v } else { v })
        }
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

    /// The state after an interval is the one computed in logs, on both sides of SAFE_LN and
    /// of the walls, over the whole range of live states.
    #[test]
    fn advance_agrees_with_logs() {
        let walls = Walls::new(1e300);
        let (ln_absorb, ln_limit) = (ABSORB_BELOW.ln(), 1e300f64.ln());
        let mut checked = 0;
        for e in (-969..=996).step_by(7) {
            for sx in [1.0, -1.0] {
                let x = sx * 2f64.powi(e) * 1.37;
                for s in [
                    -1500.0f64, -800.0, -701.0, -699.5, -320.0, -1.0, 0.0, 2.5, 333.0, 699.5,
                    701.0, 900.0, 1500.0,
                ] {
                    for negative in [false, true] {
                        let p = if s.abs() <= SAFE_LN {
                            Product::Value(if negative { -s.exp() } else { s.exp() })
                        } else {
                            Product::Log {
                                ln_abs: s,
                                negative,
                            }
                        };
                        let ln_w = x.abs().ln() + s;
                        let got = walls.advance(x, &p);
                        if ln_w < ln_absorb - 1e-9 {
                            assert_eq!(got, Next::Absorbed, "x = {x}, ln p = {s}");
                        } else if ln_w > ln_limit + 1e-9 {
                            assert_eq!(got, Next::Diverged, "x = {x}, ln p = {s}");
                        } else if ln_w > ln_absorb + 1e-9 && ln_w < ln_limit - 1e-9 {
                            let Next::At(y) = got else {
                                panic!("x = {x}, ln p = {s}: {got:?}")
                            };
                            assert!(((y.abs().ln() - ln_w) / ln_w.abs().max(1.0)).abs() < 1e-13);
                            assert_eq!(y < 0.0, (x < 0.0) != negative);
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 7000);
        // A zero factor absorbs.
        let zero = Product::Log {
            ln_abs: f64::NEG_INFINITY,
            negative: false,
        };
        assert_eq!(walls.advance(0.5, &zero), Next::Absorbed);
    }

    /// Beyond e^±700 the exponent bracket decides exactly as the logarithms do: over live
    /// states of every binade, with products that put ln|w| near either wall (within a few
    /// units, down to the last bits) and far beyond them.
    #[test]
    fn exponent_bracket_decides_as_the_logarithms() {
        let mut rng = Philox4x32::new(8, 0, 0);
        let mut decided = [0u32; 3];
        for bound in [1e300, 1e12, f64::MAX] {
            let walls = Walls::new(bound);
            for e in -969..=996 {
                for _ in 0..4 {
                    let x =
                        (1.0 + rng.next_f64()) * 2f64.powi(e) * if e % 2 == 0 { 1.0 } else { -1.0 };
                    if x.abs() < ABSORB_BELOW || x.abs() > walls.rules.limit() {
                        continue;
                    }
                    let lx = x.abs().ln();
                    let near = [walls.ln_absorb - lx, walls.ln_limit - lx];
                    for target in near {
                        for d in [
                            -3.0, -0.7, -1e-9, -1e-14, 0.0, 1e-14, 1e-9, 0.7, 3.0, 900.0, -900.0,
                        ] {
                            let ln_abs = target + d;
                            if ln_abs.abs() <= SAFE_LN {
                                continue;
                            }
                            for negative in [false, true] {
                                let p = Product::Log { ln_abs, negative };
                                let got = walls.advance(x, &p);
                                assert_eq!(
                                    got,
                                    walls.advance_in_logs(x, ln_abs, negative),
                                    "x {x:e} ln {ln_abs}"
                                );
                                decided[match got {
                                    Next::Absorbed => 0,
                                    Next::Diverged => 1,
                                    Next::At(_) => 2,
                                }] += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(decided.iter().all(|&n| n > 1000), "{decided:?}");
    }

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
