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

mod counts;
mod factors;
mod interval;
mod walls;

pub use crate::rules::Next;
pub use counts::{BinomialTable, Counts, TABLE_STEPS};
pub use factors::Factors;
pub use interval::{Interval, LaneSource, Product, SAFE_LN};
pub use walls::Walls;
