//! The ensemble engine: R independent runs × T steps of an optimizer on a model with noise,
//! streamed through observers (problem / solver / observer, as argmin separates them).
//!
//! One executor and several kernels. The executor ([`Ensemble::execute`]) splits the runs into
//! fixed chunks of [`CHUNK`] runs, independent of the thread count, runs the chunks in
//! parallel (rayon), each compiled for the widest vector unit the processor has, reports
//! progress and merges the chunks' observer accumulators in chunk order. A kernel
//! ([`Kernel`]) runs one chunk: the lane-stepping kernel (`step`) for every model and
//! optimizer, the exact kernels (`exact`) for SGD on the quadratic only. Each run draws from
//! its own counter-based stream keyed by (seed, cell, run), so the result is byte-identical
//! whatever the thread count. Memory is O(R·d) at most (only when final states are kept),
//! never O(R·T). The run rules (diverged, absorbed, box) are those of [`crate::rules`].

mod exact;
mod step;

use crate::model::{Model, Moments, Sample};
use crate::noise::NoiseLaw;
use crate::observe::{Accumulator, ObserveSpec, Observed, TooLarge};
use crate::optimizer::{Optimizer, WeightDecay};
use crate::rng::{LaneWords, Philox4x32};
use crate::rules::Rules;
pub use crate::rules::{reflect, Boundary, ABSORB_BELOW};
use crate::vector::Vector;
use rayon::prelude::*;
use std::ops::Range;

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

impl Init {
    /// Check that the initial state has `want` coordinates, the parameters of model `model`.
    pub fn check_dim(&self, model: &str, want: usize) -> Result<(), EnsembleError> {
        let got = match self {
            Init::Uniform { lo, .. } => lo.len(),
            Init::Point(p) => p.len(),
        };
        if got != want {
            return Err(EnsembleError::InitDimension {
                model: model.into(),
                got,
                want,
            });
        }
        Ok(())
    }
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
    /// Weight decay, applied to every optimizer's gradient or state.
    pub decay: WeightDecay,
    /// Observers.
    pub observe: ObserveSpec,
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
    rules: Rules,
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
        settings
            .init
            .check_dim(model.name(), <M::W as Vector>::DIM)?;
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
            rules: Rules::new(
                settings.bound,
                model.origin_is_fixed() && settings.sigma == 0.0 && opt.rests_with_zero_gradient(),
            ),
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
    #[inline(always)]
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
    #[inline(always)]
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
        execute(self, progress, &step::Step)
    }

    #[inline(always)]
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
}

/// A coordinate of w₀ drawn uniform in \[lo, hi) from a uniform u in \[0, 1).
#[inline(always)]
fn uniform_in(lo: f64, hi: f64, u: f64) -> f64 {
    lo + (hi - lo) * u
}

/// The executor: run `kernel` over every chunk of runs in parallel and merge the
/// accumulators in chunk order, a window of [`WINDOW`] chunks at a time, so memory stays
/// bounded however many runs there are (only kept final states grow with R) and the
/// result does not depend on the thread count.
fn execute<M: Model, O: Optimizer<M::W>, K: Kernel<M, O>>(
    e: &Ensemble<'_, M, O>,
    progress: Option<&(dyn Fn(u64) + Sync)>,
    kernel: &K,
) -> Outcome {
    let s = e.settings;
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
                let acc = run_chunk(e, kernel, lo..hi);
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

/// One chunk of runs of an ensemble: what a kernel computes. Its `chunk` is
/// `#[inline(always)]`, so each vector build of the executor compiles its own copy. The
/// ensemble is passed to the builds as an argument of its own, not through the kernel: as a
/// function's reference argument the compiler knows nothing else writes to it, and keeps its
/// fields out of the step loop (read through the kernel instead, the GD step ran 20 % slower).
trait Kernel<M: Model, O: Optimizer<M::W>>: Sync {
    /// Whether to compile AVX2 and AVX-512 builds of this kernel (the model's choice:
    /// [`Model::VECTOR_BUILDS`]); otherwise only the baseline build exists.
    const VECTOR_BUILDS: bool;
    /// The accumulated observers of the runs `runs` of `e`.
    fn chunk(&self, e: &Ensemble<'_, M, O>, runs: Range<u64>) -> Accumulator;
}

/// A chunk of runs, compiled for the widest vector unit the processor has.
fn run_chunk<M: Model, O: Optimizer<M::W>, K: Kernel<M, O>>(
    e: &Ensemble<'_, M, O>,
    k: &K,
    runs: Range<u64>,
) -> Accumulator {
    #[cfg(target_arch = "x86_64")]
    if K::VECTOR_BUILDS {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx512dq") && has!("avx2") {
            // SAFETY: the processor supports AVX-512F/DQ and AVX2 (checked just above).
            return unsafe { chunk_avx512(e, k, runs) };
        }
        if has!("avx2") {
            // SAFETY: the processor supports AVX2 (checked just above).
            return unsafe { chunk_avx2(e, k, runs) };
        }
    }
    k.chunk(e, runs)
}

/// [`Kernel::chunk`] compiled with AVX2 enabled, so the lane loops use 256-bit vectors. Only
/// instructions that round exactly as their scalar forms are involved (no FMA contraction),
/// so the results are bit-identical to the baseline build.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn chunk_avx2<M: Model, O: Optimizer<M::W>, K: Kernel<M, O>>(
    e: &Ensemble<'_, M, O>,
    k: &K,
    runs: Range<u64>,
) -> Accumulator {
    k.chunk(e, runs)
}

/// [`Kernel::chunk`] compiled with AVX-512F and DQ (and AVX2): 512-bit lane loops, with DQ's
/// conversions between 64-bit integers and doubles (exact, as their scalar forms),
/// bit-identical results for the same reason.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512dq")]
unsafe fn chunk_avx512<M: Model, O: Optimizer<M::W>, K: Kernel<M, O>>(
    e: &Ensemble<'_, M, O>,
    k: &K,
    runs: Range<u64>,
) -> Accumulator {
    k.chunk(e, runs)
}
