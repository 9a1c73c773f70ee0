//! The ensemble engine: R independent runs × T steps of an optimizer on a model with noise,
//! streamed through observers (problem / solver / observer, as argmin separates them).
//!
//! Runs are split into fixed chunks of [`CHUNK`] runs, independent of the thread count.
//! Chunks run in parallel (rayon); each run draws from its own counter-based stream keyed by
//! (seed, cell, run), and chunk accumulators are merged in chunk order, so the result is
//! byte-identical whatever the thread count. Memory is O(R·d) at most (only when final
//! states are kept), never O(R·T).

// Lane loops index several parallel per-lane arrays at once; iterator zips would hide that.
// `!(x <= b)` is meant: it is true for NaN, which a divergence check must catch.
#![allow(clippy::needless_range_loop, clippy::neg_cmp_op_on_partial_ord)]

use crate::exact::{Factors, Interval, LaneSource, Next, Product, Walls};
use crate::model::{Model, Moments, Sample};
use crate::noise::{coin_sample, NoiseLaw, Sampler};
use crate::observe::{Accumulator, ObserveSpec, Observed, RunView, Status, TooLarge};
use crate::optimizer::Optimizer;
use crate::rng::{standard_normal, stream, LaneBits, LaneWords, Philox4x32};
use crate::vector::{to_lanes, Vector};
use rayon::prelude::*;

/// Runs per chunk: the unit of parallel work and of deterministic merging.
pub const CHUNK: u64 = 256;

/// Chunks run in parallel between two merges: bounds the accumulators held at once.
pub const WINDOW: u64 = 1024;

/// The memory the accumulators of one window may take together (as
/// [`ObserveSpec::chunk_bytes`] estimates it): observers that hold more per chunk (many
/// histogram steps or trace points, kept final states) are merged in smaller windows, of at
/// least as many chunks as there are threads. The window changes no result: chunks are merged
/// in chunk order whatever its size.
pub const WINDOW_BYTES: u64 = 64 << 20;

/// Runs advanced together in lockstep within a chunk. Thirty-two runs give the processor
/// enough independent work per step to keep its vector units busy (measured against 16:
/// `docs/performance.md`).
pub const LANES: usize = 32;

/// What a chunk of runs does: step, or draw from the exact law ([`crate::exact`]).
#[derive(Clone, Copy)]
enum Job<'j> {
    Step,
    Exact(&'j Factors, &'j [Interval]),
    /// Exact mode with one two-factor interval and only the final step observed.
    ExactFinal(&'j Factors, &'j Interval),
}

/// Runs whose streams' first blocks exact mode computes at once, and whose final values it
/// adds to the means in one batch ([`crate::stats::Welford::push_all`]): fewer, larger
/// batches cost less per run (64: −11 % CPU time for the paper-scale Fig. 3 sweep against 16;
/// 256 was slower).
const EXACT_LANES: usize = 64;

/// Steps whose data each run draws ahead, in one go.
pub const BLOCK: usize = 32;

/// The most data a group draws ahead for a block: [`BLOCK`] steps of minibatches of up to 64,
/// fewer steps for larger minibatches (1 MB of samples per group, whatever the batch up to
/// 2048; one step's samples beyond). How many steps are drawn at once changes no draw: each
/// run reads its stream in the same order.
const BLOCK_SAMPLES: usize = BLOCK * 64 * LANES;

/// Steps per block when the data are coin flips (one bit per step, no buffer): 64, the
/// width of the bit word.
const COIN_BLOCK: usize = 64;

/// The data of a block: the sample for step k of lane l.
trait Draws {
    fn at(&self, k: usize, l: usize) -> Sample;
}

/// Samples drawn into a buffer, index k·LANES + l.
struct Buffered<'a>(&'a [Sample]);

impl Draws for Buffered<'_> {
    #[inline(always)]
    fn at(&self, k: usize, l: usize) -> Sample {
        self.0[k * LANES + l]
    }
}

/// Two equally likely values, one per step: bit k of lane l's word picks heads (1) or
/// tails (0), so the draws for a block cost one or two random words per run, no buffer.
struct Coins {
    bits: [u64; LANES],
    heads: Sample,
    tails: Sample,
}

impl Draws for Coins {
    #[inline(always)]
    fn at(&self, k: usize, l: usize) -> Sample {
        coin_sample(self.bits[l] & (1 << k) != 0, self.heads, self.tails)
    }
}

/// Up to [`LANES`] runs in flight, structure-of-arrays.
struct Group<'s, W, S> {
    run: [u64; LANES],
    rng: [Philox4x32; LANES],
    sampler: [Sampler<'s>; LANES],
    w: [W; LANES],
    w0: [W; LANES],
    state: S,
    status: [Status; LANES],
    alive: [bool; LANES],
    /// The lanes' coin flips, read in lockstep, where the data are fair coin flips
    /// ([`Ensemble::flips`]); the per-lane streams and samplers are then unused.
    flips: Option<LaneBits<LANES>>,
    /// Data for the block: index (k·batch + b)·LANES + lane.
    xs: Vec<Sample>,
    /// σ·ξ for the block: index (k·d + i)·LANES + lane.
    eps: Vec<f64>,
    /// Lanes in use.
    n: usize,
}

/// How the initial state w₀ is drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    /// Each coordinate i uniform in \[lo\[i\], hi\[i\]).
    Uniform {
        /// Lower ends.
        lo: Vec<f64>,
        /// Upper ends.
        hi: Vec<f64>,
    },
    /// A fixed point.
    Point(Vec<f64>),
}

/// Where the gradient comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradientSource {
    /// The minibatch gradient ĝ (Def. 1): SGD and the stochastic optimizers.
    Sampled,
    /// The expected gradient ∇L (GD).
    Expected,
}

/// Everything about an ensemble except the model, noise and optimizer.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Number of runs R.
    pub runs: u64,
    /// Number of steps T.
    pub steps: u64,
    /// Seed.
    pub seed: u64,
    /// Sweep cell index (part of every stream's key).
    pub cell: u32,
    /// Initial state.
    pub init: Init,
    /// Gradient source.
    pub gradient: GradientSource,
    /// Injected Gaussian noise σ: w ← w − λ(ĝ + σξ) (App. C.2, Fig. 9).
    pub sigma: f64,
    /// Box constraint: bring each coordinate back into [lo, hi] after every step (Props 4, 5;
    /// Fig. 10), as `boundary` says.
    pub clip: Option<(f64, f64)>,
    /// How a coordinate that leaves the box is brought back.
    pub boundary: Boundary,
    /// A run with a non-finite coordinate or one of magnitude above this bound is diverged.
    pub bound: f64,
    /// Observers.
    pub observe: ObserveSpec,
}

/// What happens to a coordinate that leaves the box [lo, hi] (`optimizer.clip`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Boundary {
    /// Set it to the nearest wall (clip; "truncated" in Fig. 10).
    #[default]
    Truncate,
    /// Reflect it at the walls, as often as needed to land inside.
    Reflect,
}

impl Boundary {
    /// The name used in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Boundary::Truncate => "truncate",
            Boundary::Reflect => "reflect",
        }
    }
}

/// `x` reflected into [lo, hi]: the walls act as mirrors, so a point beyond `hi` by d lands at
/// hi − d, folded again while it is outside (the map is periodic with period 2(hi − lo)).
/// Non-finite `x` gives NaN, which the engine counts as diverged.
#[inline(always)]
pub fn reflect(x: f64, lo: f64, hi: f64) -> f64 {
    if x >= lo && x <= hi {
        return x;
    }
    let width = hi - lo;
    let y = (x - lo).rem_euclid(2.0 * width);
    lo + if y > width { 2.0 * width - y } else { y }
}

/// Errors of the engine.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EnsembleError {
    /// GD needs an expected gradient that this model/noise pair does not provide.
    #[error("optimizer `gd` needs the expected gradient, which model `{0}` does not give for this noise (use discrete or two-point noise, or a built-in model)")]
    NoExpectedGradient(String),
    /// Initial state of the wrong length.
    #[error("init has {got} values but model `{model}` has {want} parameters")]
    InitDimension {
        /// Model name.
        model: String,
        /// Values given.
        got: usize,
        /// Parameters of the model.
        want: usize,
    },
    /// An observer would hold more than the engine allows.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
}

/// The outcome of an ensemble.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Runs that diverged.
    pub diverged: u64,
    /// Runs absorbed at 0.
    pub absorbed: u64,
    /// Observer results.
    pub observed: Observed,
}

/// An ensemble problem: a model, its noise, an optimizer and settings.
pub struct Ensemble<'a, M: Model, O: Optimizer<M::W>> {
    model: &'a M,
    noise: &'a NoiseLaw,
    opt: &'a O,
    settings: &'a Settings,
    record: Vec<u64>,
    atoms: Option<Vec<(Sample, f64)>>,
    moments: Moments,
    absorbing: bool,
    coin: Option<(Sample, Sample)>,
    /// Exact mode always by its general path (tests compare it with the shortcut).
    full_exact: bool,
}

impl<'a, M: Model, O: Optimizer<M::W>> Ensemble<'a, M, O> {
    /// Check and prepare an ensemble.
    pub fn new(
        model: &'a M,
        noise: &'a NoiseLaw,
        opt: &'a O,
        settings: &'a Settings,
    ) -> Result<Self, EnsembleError> {
        let d = <M::W as Vector>::DIM;
        let got = match &settings.init {
            Init::Uniform { lo, .. } => lo.len(),
            Init::Point(p) => p.len(),
        };
        if got != d {
            return Err(EnsembleError::InitDimension {
                model: model.name().into(),
                got,
                want: d,
            });
        }
        // Before anything is allocated for the observers.
        settings.observe.check_size(settings.runs)?;
        let e = Ensemble {
            model,
            noise,
            opt,
            settings,
            record: settings.observe.record_steps(settings.steps),
            atoms: noise.atoms(),
            moments: noise.moments(),
            absorbing: model.origin_is_fixed()
                && settings.sigma == 0.0
                && opt.rests_with_zero_gradient(),
            coin: noise.sampler().coin(),
            full_exact: false,
        };
        if settings.gradient == GradientSource::Expected {
            let mut g = M::W::zeros();
            if !e.expected_grad(&M::W::zeros(), &mut g) {
                return Err(EnsembleError::NoExpectedGradient(model.name().into()));
            }
        }
        Ok(e)
    }

    /// Expected loss L(w): an exact sum over the atoms of a finite law, else the model's
    /// closed form from the moments.
    pub fn expected_loss(&self, w: &M::W) -> Option<f64> {
        match &self.atoms {
            Some(atoms) => Some(atoms.iter().map(|(s, p)| p * self.model.loss(w, s)).sum()),
            None => self.model.expected_loss(w, &self.moments),
        }
    }

    /// [`Ensemble::expected_loss`] of the one-coordinate states `w`, across them (atom by
    /// atom, so the sum over a finite law vectorises across runs), NaN where there is none.
    /// The same values: each lane's sum adds the same terms in the same order, from −0.0 as
    /// [`Iterator::sum`] does.
    #[inline(always)]
    fn expected_loss_lanes<const N: usize>(&self, w: &[f64; N]) -> [f64; N] {
        let mut loss = [-0.0; N];
        match &self.atoms {
            Some(atoms) => {
                for (s, p) in atoms {
                    for (l, &w) in loss.iter_mut().zip(w) {
                        *l += p * self.model.loss(&M::W::from_slice(&[w]), s);
                    }
                }
            }
            None => {
                for (l, &w) in loss.iter_mut().zip(w) {
                    *l = self
                        .expected_loss(&M::W::from_slice(&[w]))
                        .unwrap_or(f64::NAN);
                }
            }
        }
        loss
    }

    /// Expected gradient ∇L(w), as [`Ensemble::expected_loss`]. Returns false if unknown.
    fn expected_grad(&self, w: &M::W, g: &mut M::W) -> bool {
        match &self.atoms {
            Some(atoms) => {
                *g = M::W::zeros();
                for (s, p) in atoms {
                    self.model.grad_acc(w, s, *p, g);
                }
                true
            }
            None => self.model.expected_grad(w, &self.moments, g),
        }
    }

    /// Run the whole ensemble. `progress` is called with the number of runs just finished.
    pub fn run(&self, progress: Option<&(dyn Fn(u64) + Sync)>) -> Outcome {
        self.reduce(progress, |runs| self.run_chunk(Job::Step, runs))
    }

    /// Run `chunk` over every chunk of runs in parallel and merge the accumulators in chunk
    /// order, a window of [`WINDOW`] chunks at a time, so memory stays bounded however many
    /// runs there are (only kept final states grow with R) and the result does not depend on
    /// the thread count.
    fn reduce(
        &self,
        progress: Option<&(dyn Fn(u64) + Sync)>,
        chunk: impl Fn(std::ops::Range<u64>) -> Accumulator + Sync,
    ) -> Outcome {
        let s = self.settings;
        let chunks = s.runs.div_ceil(CHUNK);
        let mut total = Accumulator::new(&s.observe, s.steps);
        let window = (WINDOW_BYTES / s.observe.chunk_bytes(CHUNK))
            .max(rayon::current_num_threads() as u64)
            .clamp(1, WINDOW);
        let mut start = 0;
        while start < chunks {
            let end = (start + window).min(chunks);
            let accs: Vec<Accumulator> = (start..end)
                .into_par_iter()
                .map(|c| {
                    let lo = c * CHUNK;
                    let hi = (lo + CHUNK).min(s.runs);
                    let acc = chunk(lo..hi);
                    if let Some(p) = progress {
                        p(hi - lo);
                    }
                    acc
                })
                .collect();
            for a in accs {
                total.merge_from(a);
            }
            start = end;
        }
        let observed = total.finish(&s.observe);
        Outcome {
            diverged: observed.final_point.diverged,
            absorbed: observed.final_point.absorbed,
            observed,
        }
    }

    /// Run the whole ensemble in exact mode ([`crate::exact`]): each run's state at each
    /// record step is drawn from its exact law w_t = w₀ Π f_k^{n_k(t)}, for a one-parameter
    /// model whose step multiplies w by one of the factors `f` (SGD on the quadratic, no
    /// injected noise, no box). Chunks, streams, observers and merging are those of
    /// [`Ensemble::run`], so the result is byte-identical whatever the thread count.
    pub fn run_exact(&self, f: &Factors, progress: Option<&(dyn Fn(u64) + Sync)>) -> Outcome {
        let intervals = Interval::between(f, &self.record);
        // The common case (a phase diagram's cells: the final step only, two factors) has a
        // kernel of its own, written across runs; it gives the same result.
        let job = match intervals.as_slice() {
            [one] if one.is_two() && self.settings.observe.final_only() && !self.full_exact => {
                Job::ExactFinal(f, one)
            }
            _ => Job::Exact(f, &intervals),
        };
        self.reduce(progress, |runs| self.run_chunk(job, runs))
    }

    /// [`Ensemble::exact_chunk`] for one two-factor interval (from step 0 to T) and only the
    /// final step observed ([`ObserveSpec::final_only`]): each stage across the batch's runs
    /// at once, with the rare runs that leave the range of plain products (absorbed,
    /// diverged, a product kept by its logarithm or outside the kept window) taken through
    /// the general path one by one. Draws, states and records are those of `exact_chunk`.
    #[inline(always)]
    fn exact_final_chunk(
        &self,
        f: &Factors,
        interval: &Interval,
        runs: std::ops::Range<u64>,
    ) -> Accumulator {
        let _ftz = crate::flush::FlushToZero::on();
        let s = self.settings;
        let mut acc = Accumulator::new(&s.observe, s.steps);
        let walls = Walls::new(s.bound);
        let limit = s.bound.min(f64::MAX);
        // A run whose new state is a plain product within the walls, from a start that does
        // not absorb (NaN, where no product was kept, is not).
        let start_floor = if self.absorbing { ABSORB_BELOW } else { 0.0 };
        let plain = |w0: f64, w: f64| {
            w.abs() >= ABSORB_BELOW && w.abs() <= limit && w0.abs() >= start_floor
        };
        let t = s.steps;
        let has_loss = self.expected_loss(&M::W::zeros()).is_some();
        let alive = [Status::Alive; EXACT_LANES];
        let mut w0 = [0.0; EXACT_LANES];
        let mut w = [0.0; EXACT_LANES];
        let mut status = [Status::Alive; EXACT_LANES];
        let mut first = runs.start;
        while first < runs.end {
            let n = (runs.end - first).min(EXACT_LANES as u64) as usize;
            let mut src = LaneWords::<EXACT_LANES>::new(s.seed, s.cell, first as u32);
            for (w0, x) in w0.iter_mut().zip(self.init_lanes(&mut src)) {
                *w0 = x.as_slice()[0];
            }
            let k = interval.invert_all(&src.next_f64());
            // The kept products (NaN where there is none to take), the new states and their
            // losses.
            let mut rare = false;
            // A plain loop: `array::map` here is not inlined.
            let mut v = [0.0; EXACT_LANES];
            for (v, &k) in v.iter_mut().zip(&k) {
                *v = interval.kept_value(f, k);
            }
            for i in 0..EXACT_LANES {
                w[i] = w0[i] * v[i];
                rare |= !plain(w0[i], w[i]);
            }
            let mut loss = self.expected_loss_lanes(&w);
            for l in loss {
                // A loss that overflows diverges the run (`recorded_loss`).
                rare |= has_loss && !l.is_finite();
            }
            if rare {
                // Run by run, as `exact_chunk`.
                for i in 0..n {
                    status[i] = Status::Alive;
                    if !plain(w0[i], w[i]) {
                        let w0i = M::W::from_slice(&[w0[i]]);
                        status[i] = self.start_status(&w0i);
                        w[i] = w0[i];
                        if status[i] == Status::Alive {
                            let p = interval.product_of_first(f, k[i]);
                            land(walls.advance(w0[i], &p), t, &mut w[i], &mut status[i]);
                        }
                    }
                    let wi = M::W::from_slice(&[w[i]]);
                    loss[i] = self
                        .recorded_loss(&wi, &mut status[i], t)
                        .unwrap_or(f64::NAN);
                }
                acc.record_final(&s.observe, &w[..n], &status[..n], &loss[..n]);
            } else {
                acc.record_final(&s.observe, &w[..n], &alive[..n], &loss[..n]);
            }
            first += n as u64;
        }
        acc
    }

    #[inline(always)]
    fn exact_chunk(
        &self,
        f: &Factors,
        intervals: &[Interval],
        runs: std::ops::Range<u64>,
    ) -> Accumulator {
        // As when stepping: a loss (or a square in the statistics) below the normal range is
        // 0, not a subnormal number, whose arithmetic is a hundred times slower. The states
        // themselves never go below ABSORB_BELOW, a normal number.
        let _ftz = crate::flush::FlushToZero::on();
        let s = self.settings;
        let mut acc = Accumulator::new(&s.observe, s.steps);
        let walls = Walls::new(s.bound);
        let mut counts = vec![0u64; f.len()];
        let mut w0 = [M::W::zeros(); EXACT_LANES];
        let mut w = [M::W::zeros(); EXACT_LANES];
        let mut status = [Status::Alive; EXACT_LANES];
        let mut live = [true; EXACT_LANES];
        let mut loss = [None; EXACT_LANES];
        let mut p = [Product::Value(1.0); EXACT_LANES];
        let mut first = runs.start;
        while first < runs.end {
            let n = (runs.end - first).min(EXACT_LANES as u64) as usize;
            // The batch's streams, read across runs while every run reads the same words.
            let mut src = LaneSource::<EXACT_LANES>::new(s.seed, s.cell, first as u32);
            match &s.init {
                Init::Point(x) => w0 = [M::W::from_slice(x); EXACT_LANES],
                Init::Uniform { lo, hi } => {
                    for (c, (l, h)) in lo.iter().zip(hi).enumerate() {
                        let u = src.uniforms(n);
                        for i in 0..EXACT_LANES {
                            w0[i].as_mut_slice()[c] = uniform_in(*l, *h, u[i]);
                        }
                    }
                }
            }
            for i in 0..n {
                w[i] = w0[i];
                status[i] = self.start_status(&w0[i]);
            }
            for (&stop, interval) in self.record.iter().zip(intervals) {
                for i in 0..n {
                    live[i] = status[i] == Status::Alive;
                }
                interval.draw_lanes(f, &mut src, &live[..n], &mut counts, &mut p);
                for i in 0..n {
                    if live[i] {
                        let next = walls.advance(w[i].as_slice()[0], &p[i]);
                        land(next, stop, &mut w[i].as_mut_slice()[0], &mut status[i]);
                    }
                }
                for i in 0..n {
                    loss[i] = self.recorded_loss(&w[i], &mut status[i], stop);
                }
                let views: [RunView<'_>; EXACT_LANES] = std::array::from_fn(|i| RunView {
                    run: first + i as u64,
                    t: stop,
                    w: w[i].as_slice(),
                    w0: w0[i].as_slice(),
                    status: status[i],
                    loss: loss[i],
                });
                acc.record_batch(&s.observe, &views[..n]);
            }
            first += n as u64;
        }
        acc
    }

    /// A chunk of runs, compiled for the widest vector unit the processor has.
    fn run_chunk(&self, job: Job<'_>, runs: std::ops::Range<u64>) -> Accumulator {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f") && has!("avx512dq") && has!("avx2") {
                // SAFETY: the processor supports AVX-512F/DQ and AVX2 (checked just above).
                return unsafe { self.run_chunk_avx512(job, runs) };
            }
            if has!("avx2") {
                // SAFETY: the processor supports AVX2 (checked just above).
                return unsafe { self.run_chunk_avx2(job, runs) };
            }
        }
        self.chunk_body(job, runs)
    }

    #[inline(always)]
    fn chunk_body(&self, job: Job<'_>, runs: std::ops::Range<u64>) -> Accumulator {
        match job {
            Job::Step => self.run_chunk_body(runs),
            Job::Exact(f, intervals) => self.exact_chunk(f, intervals, runs),
            Job::ExactFinal(f, interval) => self.exact_final_chunk(f, interval, runs),
        }
    }

    /// [`Ensemble::chunk_body`] compiled with AVX2 enabled, so the lane loops use
    /// 256-bit vectors. Only instructions that round exactly as their scalar forms are
    /// involved (no FMA contraction), so the results are bit-identical to the baseline build.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_chunk_avx2(&self, job: Job<'_>, runs: std::ops::Range<u64>) -> Accumulator {
        self.chunk_body(job, runs)
    }

    /// [`Ensemble::chunk_body`] compiled with AVX-512F and DQ (and AVX2): 512-bit lane loops,
    /// with DQ's conversions between 64-bit integers and doubles (exact, as their scalar
    /// forms), bit-identical results for the same reason.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,avx512f,avx512dq")]
    unsafe fn run_chunk_avx512(&self, job: Job<'_>, runs: std::ops::Range<u64>) -> Accumulator {
        self.chunk_body(job, runs)
    }

    #[inline(always)]
    fn run_chunk_body(&self, runs: std::ops::Range<u64>) -> Accumulator {
        let _ftz = crate::flush::FlushToZero::on();
        let s = self.settings;
        let mut acc = Accumulator::new(&s.observe, s.steps);
        let d = <M::W as Vector>::DIM;
        let mut g = Group {
            run: [0; LANES],
            rng: std::array::from_fn(|_| stream(s.seed, s.cell, 0)),
            sampler: std::array::from_fn(|_| self.noise.sampler()),
            w: [M::W::zeros(); LANES],
            w0: [M::W::zeros(); LANES],
            state: self.opt.init_lanes(),
            status: [Status::Alive; LANES],
            alive: [false; LANES],
            flips: None,
            xs: vec![Sample::default(); self.block_steps() * self.noise.batch * LANES],
            eps: vec![0.0; if s.sigma != 0.0 { BLOCK * d * LANES } else { 0 }],
            n: 0,
        };
        let mut first = runs.start;
        while first < runs.end {
            let last = (first + LANES as u64).min(runs.end);
            g.n = (last - first) as usize;
            g.state = self.opt.init_lanes();
            if self.flips().is_some() {
                // Every run of the group draws the same words (w₀, then a flip per step) until
                // it stops, so all streams are read in lockstep, across runs.
                let mut words = LaneWords::<LANES>::new(s.seed, s.cell, first as u32);
                g.w0 = self.init_lanes(&mut words);
                g.flips = Some(LaneBits::new(words));
            }
            for l in 0..LANES {
                let run = first + l as u64;
                g.run[l] = run;
                if l >= g.n {
                    g.alive[l] = false;
                    g.w[l] = M::W::zeros();
                    continue;
                }
                if g.flips.is_none() {
                    g.rng[l] = stream(s.seed, s.cell, run as u32);
                    g.sampler[l].reset();
                    g.w0[l] = self.init(&mut g.rng[l]);
                }
                g.w[l] = g.w0[l];
                g.status[l] = self.start_status(&g.w0[l]);
                g.alive[l] = g.status[l] == Status::Alive;
            }
            self.run_group(&mut g, &mut acc);
            first = last;
        }
        acc
    }

    /// Advance a group of up to [`LANES`] runs in lockstep, [`BLOCK`] steps at a time: first
    /// each run draws its data (and injected noise) for the block from its own stream, in
    /// the order a step-by-step run would, then the steps run with the runs interleaved and
    /// no data-dependent branch, so the processor overlaps (and the compiler can vectorise)
    /// independent runs. Runs that diverge or are absorbed are handled in a rare scalar
    /// pass, which keeps their final states.
    #[inline(always)]
    fn run_group(&self, g: &mut Group<'_, M::W, O::Lanes<LANES>>, acc: &mut Accumulator) {
        let s = self.settings;
        let d = <M::W as Vector>::DIM;
        let batch = self.noise.batch;
        let sampled = s.gradient == GradientSource::Sampled;
        let mut t = 0u64;
        for &stop in &self.record {
            while t < stop && g.alive.iter().any(|a| *a) {
                let plain = self.plain();
                let coins = self.flips().zip(g.flips.as_mut());
                let block = if coins.is_some() {
                    COIN_BLOCK
                } else {
                    self.block_steps()
                };
                let k_max = (stop - t).min(block as u64) as usize;
                if let Some(((heads, tails), flips)) = coins {
                    // Two equally likely values: the block's data are its coin bits, 64
                    // steps at most (two words, taken in the order flip by flip would). Runs
                    // that have stopped draw too; their flips are not used.
                    let (k_lo, k_hi) = (k_max.min(32) as u32, k_max.saturating_sub(32) as u32);
                    let lo = flips.take(k_lo);
                    let hi = if k_hi > 0 {
                        flips.take(k_hi)
                    } else {
                        [0; LANES]
                    };
                    let mut bits = [0u64; LANES];
                    for l in 0..LANES {
                        bits[l] = u64::from(lo[l]) | u64::from(hi[l]) << 32;
                    }
                    self.block_at_walls::<true, _>(g, &Coins { bits, heads, tails }, t, k_max);
                } else {
                    for l in 0..g.n {
                        if !g.alive[l] {
                            continue;
                        }
                        let (rng, sampler) = (&mut g.rng[l], &mut g.sampler[l]);
                        if s.sigma == 0.0 {
                            if sampled {
                                sampler.fill(rng, &mut g.xs, l, LANES, k_max * batch);
                            }
                        } else {
                            for k in 0..k_max {
                                if sampled {
                                    sampler.fill(
                                        rng,
                                        &mut g.xs,
                                        k * batch * LANES + l,
                                        LANES,
                                        batch,
                                    );
                                }
                                for i in 0..d {
                                    g.eps[(k * d + i) * LANES + l] = s.sigma * standard_normal(rng);
                                }
                            }
                        }
                    }
                    let xs = std::mem::take(&mut g.xs);
                    if plain {
                        self.block_at_walls::<true, _>(g, &Buffered(&xs), t, k_max);
                    } else {
                        self.block_at_walls::<false, _>(g, &Buffered(&xs), t, k_max);
                    }
                    g.xs = xs;
                }
                t += k_max as u64;
            }
            t = stop;
            for l in 0..g.n {
                let loss = self.recorded_loss(&g.w[l], &mut g.status[l], stop);
                if matches!(g.status[l], Status::Diverged(_)) {
                    g.alive[l] = false;
                }
                acc.record(
                    &s.observe,
                    &RunView {
                        run: g.run[l],
                        t: stop,
                        w: g.w[l].as_slice(),
                        w0: g.w0[l].as_slice(),
                        status: g.status[l],
                        loss,
                    },
                );
            }
        }
    }

    /// [`Ensemble::block`] with the walls' kind fixed at compile time.
    #[inline(always)]
    fn block_at_walls<const PLAIN: bool, D: Draws>(
        &self,
        g: &mut Group<'_, M::W, O::Lanes<LANES>>,
        data: &D,
        t0: u64,
        k_max: usize,
    ) {
        let s = self.settings;
        if s.clip.is_some() {
            self.block::<PLAIN, true, D>(g, data, t0, k_max);
        } else {
            self.block::<PLAIN, false, D>(g, data, t0, k_max);
        }
    }

    /// `k_max` steps of a group whose data are drawn, starting after step `t`. `PLAIN`
    /// (one sampled data point per step, no injected noise: the common case) is a
    /// compile-time flag so that case's loop carries no batch loop or noise branch; `BOX`
    /// likewise keeps the walls out of the loop of runs without a box.
    #[inline(always)]
    fn block<const PLAIN: bool, const BOX: bool, D: Draws>(
        &self,
        g: &mut Group<'_, M::W, O::Lanes<LANES>>,
        data: &D,
        t0: u64,
        k_max: usize,
    ) {
        let s = self.settings;
        let d = <M::W as Vector>::DIM;
        let batch = self.noise.batch;
        let scale = 1.0 / batch as f64;
        let sampled = s.gradient == GradientSource::Sampled;
        let (sigma, bound, absorbing) = (s.sigma, s.bound, self.absorbing);
        // `BOX` (a box constraint) is a compile-time flag so the clamp is not in the common
        // case's loop. Reflecting walls fold the state first, in a pass of its own, so the
        // clamp loop stays as it is (the fold lands inside, so the clamp then leaves it).
        let (lo, hi) = s.clip.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
        let reflecting = s.boundary == Boundary::Reflect;
        // A state diverges when non-finite or beyond the bound: |x| ≤ min(bound, f64::MAX)
        // fails for both (NaN compares false, ∞ exceeds MAX), whatever the bound.
        let finite_bound = bound.min(f64::MAX);
        // Whether a new state has diverged (a coordinate non-finite or beyond the bound), and
        // whether it has reached 0 (every coordinate below ABSORB_BELOW).
        let verdict = |x: &M::W| {
            let (mut out, mut tiny) = (false, true);
            for x in x.as_slice() {
                out |= !(x.abs() <= finite_bound);
                tiny &= x.abs() < ABSORB_BELOW;
            }
            (out, tiny)
        };
        // The same test for every lane at once, on the states' bits: with m the largest
        // |x|'s bits shifted left by one (the sign dropped; for |x| and NaN the order of the
        // bits is that of the values, NaN above ∞), a lane has diverged iff m > B and has
        // reached 0 iff m < A (B, A: the bound's and ABSORB_BELOW's bits, shifted alike), so
        // it stops iff m − A > B − A in wrapping arithmetic: one subtraction and one
        // comparison per lane. A lane that has stopped compares with u64::MAX instead of
        // B − A (its `limit`), which nothing exceeds.
        let big = finite_bound.to_bits() << 1;
        let (floor, span) = match absorbing {
            false => (0, big),
            true if ABSORB_BELOW <= finite_bound => {
                let small = ABSORB_BELOW.to_bits() << 1;
                (small, big - small)
            }
            // A bound below ABSORB_BELOW: every state stops (m is even, so m − 1 > 0).
            true => (1, 0),
        };
        let limits = |a: &[bool; LANES]| {
            let mut m = [u64::MAX; LANES];
            for (m, a) in m.iter_mut().zip(a) {
                if *a {
                    *m = span;
                }
            }
            m
        };
        let mut limit = limits(&g.alive);
        // The lanes' states (and the optimizer's) live in a local copy for the block, so the
        // compiler can keep them in registers from step to step instead of storing them
        // through `g` every step; the parameters coordinate by coordinate (`Vector::Lanes`),
        // so a model with several needs no shuffles between runs and coordinates.
        let mut w = to_lanes(&g.w);
        let mut state = g.state;
        // Each phase below is a simple loop over the lanes, which the compiler vectorises.
        for k in 0..k_max {
            let t = t0 + k as u64 + 1;
            let mut grad = M::W::splat::<LANES>(M::W::zeros());
            for l in 0..LANES {
                let wl = M::W::lane(&w, l);
                let mut gl = M::W::zeros();
                if PLAIN {
                    self.model.grad(&wl, &data.at(k, l), &mut gl);
                } else {
                    if sampled {
                        for b in 0..batch {
                            let x = data.at(k * batch + b, l);
                            self.model.grad_acc(&wl, &x, scale, &mut gl);
                        }
                    } else {
                        self.expected_grad(&wl, &mut gl);
                    }
                    if sigma != 0.0 {
                        for (i, gi) in gl.as_mut_slice().iter_mut().enumerate() {
                            *gi += g.eps[(k * d + i) * LANES + l];
                        }
                    }
                }
                M::W::set_lane(&mut grad, l, gl);
            }
            let mut next = w;
            self.opt.update_lanes(&mut state, &mut next, &grad, t);
            if BOX && reflecting {
                for i in 0..d {
                    for l in 0..LANES {
                        let x = M::W::at_mut(&mut next, i, l);
                        *x = reflect(*x, lo, hi);
                    }
                }
            }
            if BOX {
                for i in 0..d {
                    for l in 0..LANES {
                        let x = M::W::at_mut(&mut next, i, l);
                        *x = x.clamp(lo, hi);
                    }
                }
            }
            // Whether any alive lane stopped (diverged or reached 0), with the test above:
            // plain integer operations over the lanes, which the compiler vectorises.
            let mut stopped = false;
            for l in 0..LANES {
                let mut m = 0u64;
                for i in 0..d {
                    m = m.max(M::W::at(&next, i, l).to_bits() << 1);
                }
                stopped |= m.wrapping_sub(floor) > limit[l];
            }
            if stopped {
                // Rare: mark the lanes that stopped, diverged before absorbed, and keep their
                // final states in `g.w`: a lane that reaches 0 its new state, one that
                // diverges its last.
                for l in 0..LANES {
                    let (out, tiny) = verdict(&M::W::lane(&next, l));
                    if g.alive[l] && (out || (tiny && absorbing)) {
                        // (Lanes taken by value, not through a chosen reference, which
                        // would keep both arrays in memory rather than in registers.)
                        (g.status[l], g.w[l]) = if out {
                            (Status::Diverged(t), M::W::lane(&w, l))
                        } else {
                            (Status::Absorbed(t), M::W::lane(&next, l))
                        };
                        g.alive[l] = false;
                    }
                }
                limit = limits(&g.alive);
            }
            // Every lane steps on, so this is a plain copy: a stopped lane's state is kept
            // in `g.w` (above, or from before the block) and is not read from `w` again.
            // (Its values are meaningless, and cost nothing extra: subnormals are flushed,
            // and non-finite values take no slow path.)
            w = next;
        }
        for l in 0..LANES {
            if g.alive[l] {
                g.w[l] = M::W::lane(&w, l);
            }
        }
        g.state = state;
    }

    /// The expected loss of a run recorded at step `stop` (None once it has diverged). A
    /// finite state whose loss overflows has diverged as surely as one past the bound: it is
    /// marked so here, never averaged into an infinite mean.
    fn recorded_loss(&self, w: &M::W, status: &mut Status, stop: u64) -> Option<f64> {
        if matches!(status, Status::Diverged(_)) {
            return None;
        }
        match self.expected_loss(w) {
            Some(v) if !v.is_finite() => {
                *status = Status::Diverged(stop);
                None
            }
            other => other,
        }
    }

    /// A run's status at step 0: absorbed if it starts at 0 where 0 absorbs.
    #[inline(always)]
    fn start_status(&self, w0: &M::W) -> Status {
        if self.absorbing && is_zero(w0) {
            Status::Absorbed(0)
        } else {
            Status::Alive
        }
    }

    fn init(&self, rng: &mut Philox4x32) -> M::W {
        match &self.settings.init {
            Init::Point(p) => M::W::from_slice(p),
            Init::Uniform { lo, hi } => {
                let mut w = M::W::zeros();
                for ((x, l), h) in w.as_mut_slice().iter_mut().zip(lo).zip(hi) {
                    *x = uniform_in(*l, *h, rng.next_f64());
                }
                w
            }
        }
    }

    /// [`Ensemble::init`] for `N` runs whose streams are read in lockstep.
    #[inline(always)]
    fn init_lanes<const N: usize>(&self, words: &mut LaneWords<N>) -> [M::W; N] {
        match &self.settings.init {
            Init::Point(p) => [M::W::from_slice(p); N],
            Init::Uniform { lo, hi } => {
                let mut w = [M::W::zeros(); N];
                for (c, (l, h)) in lo.iter().zip(hi).enumerate() {
                    let u = words.next_f64();
                    for i in 0..N {
                        w[i].as_mut_slice()[c] = uniform_in(*l, *h, u[i]);
                    }
                }
                w
            }
        }
    }

    /// The data of every step, where each is one fair coin flip between two samples and
    /// nothing else is drawn (SGD with batch 1, no injected noise): the two samples.
    #[inline(always)]
    fn flips(&self) -> Option<(Sample, Sample)> {
        self.coin.filter(|_| self.plain())
    }

    /// Steps per block of drawn data: [`BLOCK`], fewer for minibatches above 64
    /// ([`BLOCK_SAMPLES`]).
    #[inline(always)]
    fn block_steps(&self) -> usize {
        (BLOCK_SAMPLES / (self.noise.batch * LANES).max(1)).clamp(1, BLOCK)
    }

    /// Whether each step's gradient is one sampled data point's, with no injected noise.
    #[inline(always)]
    fn plain(&self) -> bool {
        let s = self.settings;
        s.gradient == GradientSource::Sampled && self.noise.batch == 1 && s.sigma == 0.0
    }
}

/// A coordinate of w₀ drawn uniform in \[lo, hi) from a uniform u in \[0, 1).
#[inline(always)]
fn uniform_in(lo: f64, hi: f64, u: f64) -> f64 {
    lo + (hi - lo) * u
}

/// Below this magnitude in every coordinate a run counts as having reached 0: 2⁻⁹⁶⁹, the
/// smallest scale at which a relative update of 2⁻⁵³ (one unit in the last place) is still a
/// normal number. With subnormals flushed to zero ([`crate::flush`]) a state below it could
/// otherwise stall, its updates underflowing to 0 while it does not.
pub const ABSORB_BELOW: f64 = f64::MIN_POSITIVE * (1u64 << 53) as f64;

/// A run of a one-parameter model after an interval ending at step `stop` took it to `next`:
/// absorbed at 0, diverged (its last finite state, at the previous record step, kept), or at
/// its new state.
#[inline(always)]
fn land(next: Next, stop: u64, w: &mut f64, status: &mut Status) {
    match next {
        Next::Absorbed => {
            *status = Status::Absorbed(stop);
            *w = 0.0;
        }
        Next::Diverged => *status = Status::Diverged(stop),
        Next::At(y) => *w = y,
    }
}

/// Whether a state has reached 0 (exactly, or below [`ABSORB_BELOW`] in every coordinate).
#[inline(always)]
fn is_zero<W: Vector>(w: &W) -> bool {
    w.as_slice().iter().all(|x| x.abs() < ABSORB_BELOW)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Field, TinyNet};
    use crate::noise::Law;
    use crate::observe::{EscapeSpec, Hist2dSpec};
    use crate::optimizer::Adam;

    /// The AVX2 and AVX-512 builds of the engine and the baseline build give identical
    /// results (each vector build is checked where the processor has it).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_builds_and_baseline_agree_bit_for_bit() {
        use std::arch::is_x86_feature_detected as has;
        let noise = NoiseLaw {
            law: Law::Discrete {
                values: vec![-1.0, 2.0, 0.5],
                probs: vec![0.3, 0.3, 0.4],
            },
            field: Field::Y,
            batch: 2,
        };
        let opt = Adam {
            lr: 0.05,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: true,
            bias_correction: true,
        };
        let settings = Settings {
            runs: 300,
            steps: 400,
            seed: 7,
            cell: 3,
            init: Init::Uniform {
                lo: vec![-1.0, 0.0],
                hi: vec![1.0, 1.0],
            },
            gradient: GradientSource::Sampled,
            sigma: 0.01,
            clip: Some((-3.0, 3.0)),
            boundary: Boundary::Truncate,
            bound: 1e6,
            observe: ObserveSpec {
                histograms2d: vec![Hist2dSpec {
                    params: [0, 1],
                    lo: [-3.0, -3.0],
                    hi: [3.0, 3.0],
                    bins: [8, 8],
                    steps: vec![0, 17, 400],
                }],
                trace_steps: crate::observe::log_steps(400, 10),
                escape: Some(EscapeSpec {
                    delta: 0.5,
                    center: vec![0.0, 0.0],
                }),
                escape_rate_steps: vec![10, 400],
                final_states: true,
                ..ObserveSpec::default()
            },
        };
        // With bias correction, and without (AMSGrad's kept roots: `Adam::amsgrad_lanes`).
        for opt in [
            opt,
            Adam {
                bias_correction: false,
                ..opt
            },
        ] {
            let e = Ensemble::new(&TinyNet, &noise, &opt, &settings).unwrap();
            let base = e.run_chunk_body(0..300).finish(&settings.observe);
            if has!("avx2") {
                // SAFETY: AVX2 is present (checked just above).
                let fast = unsafe { e.run_chunk_avx2(Job::Step, 0..300) }.finish(&settings.observe);
                assert_eq!(fast, base, "AVX2 build differs from the baseline");
            }
            if has!("avx2") && has!("avx512f") && has!("avx512dq") {
                // SAFETY: AVX-512F/DQ and AVX2 are present (checked just above).
                let fast =
                    unsafe { e.run_chunk_avx512(Job::Step, 0..300) }.finish(&settings.observe);
                assert_eq!(fast, base, "AVX-512 build differs from the baseline");
            }
            let finals = base.final_states.unwrap();
            assert_eq!(finals.len(), 300);
        }
    }

    /// Exact mode's kernel for one interval observed at the final step gives what its
    /// general path gives, bit for bit: for plain runs, and for batches with runs absorbed at
    /// the start or by the interval, diverged, or whose product is kept by its logarithm;
    /// with and without the escape observer.
    #[test]
    fn exact_final_kernel_is_the_general_path() {
        use crate::model::Quadratic;
        use crate::optimizer::Sgd;
        let noise = |a: f64| NoiseLaw {
            law: Law::TwoPoint { a },
            field: Field::X,
            batch: 1,
        };
        let uniform = |lo: f64, hi: f64| Init::Uniform {
            lo: vec![lo],
            hi: vec![hi],
        };
        // (a, λ, steps, init, bound): what happens to the runs.
        let cases: [(f64, f64, u64, Init, f64); 7] = [
            // Plain products (μ < 0): states far below 1, none absorbed.
            (-1.0, 0.8, 1000, uniform(-1.0, 1.0), 1e300),
            // Growth past a low bound: some diverge.
            (-1.0, 1.8, 60, uniform(-1.0, 1.0), 1e12),
            // μ = 0 over 4·10⁵ steps: products beyond e^±700 (kept by their logarithm),
            // absorbed or diverged.
            (-1.0, 1.28, 400_000, uniform(-1.0, 1.0), 1e300),
            // A factor of exactly 0 (λ = 1): absorbed by the interval.
            (-1.0, 1.0, 40, uniform(-0.5, 0.5), 1e300),
            // A start at 0: absorbed at step 0; and a fixed start.
            (0.5, 0.3, 200, Init::Point(vec![0.0]), 1e300),
            (0.5, 0.3, 200, Init::Point(vec![0.7]), 1e300),
            // Few steps: every count in the kept window.
            (-0.3, 0.6, 3, uniform(-2.0, 3.0), 1e300),
        ];
        for (a, lr, steps, init, bound) in cases {
            for escape in [true, false] {
                let noise = noise(a);
                let opt = Sgd { lr };
                let settings = Settings {
                    runs: 1000,
                    steps,
                    seed: 11,
                    cell: 5,
                    init: init.clone(),
                    gradient: GradientSource::Sampled,
                    sigma: 0.0,
                    clip: None,
                    boundary: Boundary::Truncate,
                    bound,
                    observe: ObserveSpec {
                        escape: escape.then(|| EscapeSpec {
                            delta: 0.05,
                            center: vec![0.0],
                        }),
                        ..ObserveSpec::default()
                    },
                };
                let f = Factors::new(&noise, lr).unwrap();
                let mut e = Ensemble::new(&Quadratic, &noise, &opt, &settings).unwrap();
                let fast = e.run_exact(&f, None);
                e.full_exact = true;
                let general = e.run_exact(&f, None);
                assert_eq!(fast, general, "a = {a}, λ = {lr}, T = {steps}");
                let what = (fast.absorbed, fast.diverged);
                match lr {
                    1.8 => assert!(what.1 > 0, "{what:?}"),
                    1.28 => assert!(what.0 > 0 && what.1 > 0, "{what:?}"),
                    1.0 => assert!(what.0 > 0, "{what:?}"),
                    _ => {}
                }
                if let Init::Point(x) = &init {
                    assert_eq!(fast.absorbed == 1000, x[0] == 0.0);
                }
            }
        }
    }

    #[test]
    fn reflection_folds_into_the_box() {
        assert_eq!(reflect(0.5, -1.0, 1.0), 0.5);
        assert_eq!(reflect(1.25, -1.0, 1.0), 0.75);
        assert_eq!(reflect(-1.5, -1.0, 1.0), -0.5);
        // Beyond the opposite wall: 3.5 → 1 − 2.5 = −1.5 → −1 + 0.5 = −0.5.
        assert_eq!(reflect(3.5, -1.0, 1.0), -0.5);
        assert_eq!(reflect(1.0, -1.0, 1.0), 1.0);
        assert!(reflect(f64::INFINITY, -1.0, 1.0).is_nan());
        assert!(reflect(f64::NAN, -1.0, 1.0).is_nan());
        for i in 0..1000 {
            let x = -50.0 + 0.1 * i as f64;
            let y = reflect(x, 0.0, 4.0);
            assert!((0.0..=4.0).contains(&y), "{x} -> {y}");
        }
    }
}
