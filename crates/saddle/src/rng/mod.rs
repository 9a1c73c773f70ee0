//! Randomness in saddle.
//!
//! Every random draw in the crate comes from a counter-based
//! [Philox4x32-10](philox) stream keyed by the triple `(seed, cell, run)`:
//! the experiment's seed, the index of the parameter cell being simulated, and
//! the index of the independent run within that cell. A run's draws are a
//! pure function of that triple and depend on nothing else — not on which
//! thread executes the run, how work is chunked, or in which order runs are
//! scheduled — so results are byte-identical whatever the thread count,
//! chunking or order. A later CUDA backend uses the same generator with the
//! same layout, so it draws the very same streams.
//!
//! Use [`stream`] to open the stream of a run, [`Philox4x32::next_f64`] for
//! uniforms, [`standard_normal`] for Gaussian draws, and [`Bits`] for cheap
//! fair coin flips. Because [`Philox4x32`] implements [`rand_core::Rng`], any
//! `rand_distr` distribution can also sample from it directly.

pub mod philox;

pub use philox::{blocks, philox4x32_10, Bits, LaneBits, LaneWords, Philox4x32};

/// The stream of run `run` in cell `cell` of an experiment seeded with `seed`.
///
/// Equivalent to [`Philox4x32::new`]`(seed, cell, run)`; see [`Philox4x32`]
/// for the key and counter layout.
#[inline]
#[must_use]
pub fn stream(seed: u64, cell: u32, run: u32) -> Philox4x32 {
    Philox4x32::new(seed, cell, run)
}

/// One standard normal draw (mean 0, variance 1) from `rng`.
///
/// This is `rand_distr::StandardNormal` sampled from the stream; the rest of
/// the crate takes its normals from here so that the sampling method is fixed
/// in one place.
#[inline]
pub fn standard_normal(rng: &mut Philox4x32) -> f64 {
    rand_distr::Distribution::sample(&rand_distr::StandardNormal, rng)
}
