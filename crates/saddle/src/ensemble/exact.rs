//! The exact kernels: SGD on the quadratic with a finite noise law, each run's state at each
//! record step drawn from its exact law w_t = w₀ Π f_k^{n_k(t)} ([`crate::exact`]) instead of
//! stepping. Compiled for that one (model, optimizer) pair only; the run rules are
//! [`crate::rules`]', applied to products by [`Walls`].

// Lane loops index several parallel per-lane arrays at once; iterator zips would hide that.
#![allow(clippy::needless_range_loop)]

use super::{execute, uniform_in, Ensemble, Init, Kernel, Outcome};
use crate::exact::{Factors, Interval, LaneSource, Product, Walls};
use crate::model::Quadratic;
use crate::observe::{Accumulator, RunView, Status};
use crate::optimizer::Sgd;
use crate::rng::LaneWords;
use crate::rules::recorded_loss;
use crate::vector::Vector;
use std::ops::Range;

/// Runs whose streams' first blocks exact mode computes at once, and whose final values it
/// adds to the means in one batch ([`crate::stats::Welford::push_all`]): fewer, larger
/// batches cost less per run (64: −11 % CPU time for the paper-scale Fig. 3 sweep against 16;
/// 256 was slower).
const EXACT_LANES: usize = 64;

/// The general exact kernel: any record steps, any number of factors.
struct Exact<'k> {
    f: &'k Factors,
    intervals: &'k [Interval],
}

impl Kernel<Quadratic, Sgd> for Exact<'_> {
    const VECTOR_BUILDS: bool = true;
    #[inline(always)]
    fn chunk(&self, e: &Ensemble<'_, Quadratic, Sgd>, runs: Range<u64>) -> Accumulator {
        e.exact_chunk(self.f, self.intervals, runs)
    }
}

/// The exact kernel for one two-factor interval and only the final step observed.
struct ExactFinal<'k> {
    f: &'k Factors,
    interval: &'k Interval,
}

impl Kernel<Quadratic, Sgd> for ExactFinal<'_> {
    const VECTOR_BUILDS: bool = true;
    #[inline(always)]
    fn chunk(&self, e: &Ensemble<'_, Quadratic, Sgd>, runs: Range<u64>) -> Accumulator {
        e.exact_final_chunk(self.f, self.interval, runs)
    }
}

impl Ensemble<'_, Quadratic, Sgd> {
    /// Run the whole ensemble in exact mode ([`crate::exact`]): each run's state at each
    /// record step is drawn from its exact law w_t = w₀ Π f_k^{n_k(t)}, for a one-parameter
    /// model whose step multiplies w by one of the factors `f` (SGD on the quadratic, no
    /// injected noise, no box). Chunks, streams, observers and merging are those of
    /// [`Ensemble::run`], so the result is byte-identical whatever the thread count.
    pub fn run_exact(&self, f: &Factors, progress: Option<&(dyn Fn(u64) + Sync)>) -> Outcome {
        let intervals = Interval::between(f, &self.record);
        // The common case (a phase diagram's cells: the final step only, two factors) has a
        // kernel of its own, written across runs; it gives the same result.
        match intervals.as_slice() {
            [one] if one.is_two() && self.settings.observe.final_only() && !self.full_exact => {
                let k = ExactFinal { f, interval: one };
                execute(self, progress, &k)
            }
            _ => {
                let k = Exact {
                    f,
                    intervals: &intervals,
                };
                execute(self, progress, &k)
            }
        }
    }

    /// [`Ensemble::exact_chunk`] for one two-factor interval (from step 0 to T) and only the
    /// final step observed ([`ObserveSpec::final_only`]): each stage across the batch's runs
    /// at once, with the rare runs that leave the range of plain products (absorbed,
    /// diverged, a product kept by its logarithm or outside the kept window) taken through
    /// the general path one by one. Draws, states and records are those of `exact_chunk`.
    #[inline(always)]
    fn exact_final_chunk(&self, f: &Factors, interval: &Interval, runs: Range<u64>) -> Accumulator {
        let _ftz = crate::flush::FlushToZero::on();
        let s = self.settings;
        let mut acc = Accumulator::new(&s.observe, s.steps);
        let walls = Walls::new(s.bound);
        // A run whose new state is a plain product within the walls, from a start that does
        // not absorb (NaN, where no product was kept, is not).
        let rules = self.rules;
        let plain = |w0: f64, w: f64| rules.untouched(w0, w);
        let t = s.steps;
        let has_loss = self.expected_loss(&[0.0]).is_some();
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
                        let w0i = [w0[i]];
                        status[i] = self.rules.start_status(&w0i);
                        w[i] = w0[i];
                        if status[i] == Status::Alive {
                            let p = interval.product_of_first(f, k[i]);
                            walls.advance(w0[i], &p).land(t, &mut w[i], &mut status[i]);
                        }
                    }
                    let wi = [w[i]];
                    loss[i] = recorded_loss(|| self.expected_loss(&wi), &mut status[i], t)
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
    fn exact_chunk(&self, f: &Factors, intervals: &[Interval], runs: Range<u64>) -> Accumulator {
        // As when stepping: a loss (or a square in the statistics) below the normal range is
        // 0, not a subnormal number, whose arithmetic is a hundred times slower. The states
        // themselves never go below ABSORB_BELOW, a normal number.
        let _ftz = crate::flush::FlushToZero::on();
        let s = self.settings;
        let mut acc = Accumulator::new(&s.observe, s.steps);
        let walls = Walls::new(s.bound);
        let mut counts = vec![0u64; f.len()];
        let mut w0 = [[0.0]; EXACT_LANES];
        let mut w = [[0.0]; EXACT_LANES];
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
                Init::Point(x) => w0 = [<[f64; 1]>::from_slice(x); EXACT_LANES],
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
                status[i] = self.rules.start_status(&w0[i]);
            }
            for (&stop, interval) in self.record.iter().zip(intervals) {
                for i in 0..n {
                    live[i] = status[i] == Status::Alive;
                }
                interval.draw_lanes(f, &mut src, &live[..n], &mut counts, &mut p);
                for i in 0..n {
                    if live[i] {
                        let next = walls.advance(w[i][0], &p[i]);
                        next.land(stop, &mut w[i][0], &mut status[i]);
                    }
                }
                for i in 0..n {
                    let wi = &w[i];
                    loss[i] = recorded_loss(|| self.expected_loss(wi), &mut status[i], stop);
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
}

#[cfg(test)]
mod tests {
    use super::super::{Boundary, GradientSource, Settings};
    use super::*;
    use crate::model::Field;
    use crate::noise::{Law, NoiseLaw};
    use crate::observe::{EscapeSpec, ObserveSpec};
    use crate::optimizer::WeightDecay;

    /// Exact mode's kernel for one interval observed at the final step gives what its
    /// general path gives, bit for bit: for plain runs, and for batches with runs absorbed at
    /// the start or by the interval, diverged, or whose product is kept by its logarithm;
    /// with and without the escape observer.
    #[test]
    fn exact_final_kernel_is_the_general_path() {
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
                    decay: WeightDecay::NONE,
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
}
