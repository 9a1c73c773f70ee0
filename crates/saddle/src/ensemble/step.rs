//! The lane-stepping kernel: every model and optimizer, step by step. Runs advance in groups
//! of [`LANES`] in lockstep, structure of arrays, [`BLOCK`] steps at a time, so the compiler
//! vectorises across runs; the run rules are [`crate::rules`]'.

// Lane loops index several parallel per-lane arrays at once; iterator zips would hide that.
#![allow(clippy::needless_range_loop)]

use super::{Ensemble, GradientSource, Kernel, LANES};
use crate::model::{Model, Sample};
use crate::noise::{coin_sample, Sampler};
use crate::observe::{Accumulator, RunView, Status};
use crate::optimizer::{Optimizer, WeightDecay};
use crate::rng::{standard_normal, stream, LaneBits, LaneWords, Philox4x32};
use crate::rules::{recorded_loss, reflect, Boundary, LaneTest};
use crate::vector::{to_lanes, Vector};
use std::ops::Range;

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

/// The stepping kernel.
pub(super) struct Step;

impl<M: Model, O: Optimizer<M::W>> Kernel<M, O> for Step {
    const VECTOR_BUILDS: bool = M::VECTOR_BUILDS;
    #[inline(always)]
    fn chunk(&self, e: &Ensemble<'_, M, O>, runs: Range<u64>) -> Accumulator {
        e.step_chunk(runs)
    }
}

impl<M: Model, O: Optimizer<M::W>> Ensemble<'_, M, O> {
    #[inline(always)]
    pub(super) fn step_chunk(&self, runs: Range<u64>) -> Accumulator {
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
                g.status[l] = self.rules.start_status(g.w0[l].as_slice());
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
                let w = &g.w[l];
                let loss = recorded_loss(|| self.expected_loss(w), &mut g.status[l], stop);
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
        let (sigma, decay, rules) = (s.sigma, s.decay, self.rules);
        // `BOX` (a box constraint) is a compile-time flag so the clamp is not in the common
        // case's loop. Reflecting walls fold the state first, in a pass of its own, so the
        // clamp loop stays as it is (the fold lands inside, so the clamp then leaves it).
        let (lo, hi) = s.clip.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
        let reflecting = s.boundary == Boundary::Reflect;
        // Whether a lane stopped (diverged or reached 0), for every lane at once on the
        // states' bits: one subtraction and one comparison per lane (`rules::LaneTest`).
        let test = rules.lane_test();
        let mut limit = test.limits(&g.alive);
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
            if !PLAIN {
                decay.to_gradient::<M::W, LANES>(&w, &mut grad);
                decay.to_state::<M::W, LANES>(&mut next);
            }
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
                    m = m.max(LaneTest::key(M::W::at(&next, i, l)));
                }
                stopped |= test.stopped(m, limit[l]);
            }
            if stopped {
                // Rare: mark the lanes that stopped, diverged before absorbed, and keep their
                // final states in `g.w`: a lane that reaches 0 its new state, one that
                // diverges its last.
                for l in 0..LANES {
                    let (out, tiny) = rules.verdict(M::W::lane(&next, l).as_slice());
                    if g.alive[l] && (out || (tiny && rules.absorbing())) {
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
                limit = test.limits(&g.alive);
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

    /// Whether each step's gradient is one sampled data point's, with no injected noise and
    /// no weight decay (whose terms are compiled only into the general step, so the plain
    /// step's loop carries none: with them the compiler no longer kept the lanes' states in
    /// registers, and plain SGD ran 40 % slower).
    #[inline(always)]
    fn plain(&self) -> bool {
        let s = self.settings;
        s.gradient == GradientSource::Sampled
            && self.noise.batch == 1
            && s.sigma == 0.0
            && s.decay == WeightDecay::NONE
    }
}

#[cfg(test)]
mod tests {
    use super::super::{chunk_avx2, chunk_avx512, Boundary, GradientSource, Init, Settings};
    use super::*;
    use crate::model::{Field, TinyNet};
    use crate::noise::{Law, NoiseLaw};
    use crate::observe::{EscapeSpec, Hist2dSpec, ObserveSpec};
    use crate::optimizer::{Adam, WeightDecay};

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
            decay: WeightDecay::NONE,
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
            let base = e.step_chunk(0..300).finish(&settings.observe);
            if has!("avx2") {
                // SAFETY: AVX2 is present (checked just above).
                let fast = unsafe { chunk_avx2(&e, &Step, 0..300) }.finish(&settings.observe);
                assert_eq!(fast, base, "AVX2 build differs from the baseline");
            }
            if has!("avx2") && has!("avx512f") && has!("avx512dq") {
                // SAFETY: AVX-512F/DQ and AVX2 are present (checked just above).
                let fast = unsafe { chunk_avx512(&e, &Step, 0..300) }.finish(&settings.observe);
                assert_eq!(fast, base, "AVX-512 build differs from the baseline");
            }
            let finals = base.final_states.unwrap();
            assert_eq!(finals.len(), 300);
        }
    }
}
