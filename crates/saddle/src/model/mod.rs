//! Models: the sampled loss L̂(w; x) of the paper (Eq. 1) and its gradient.
//!
//! A model is a landscape given per data point. The ensemble engine draws data points from a
//! [`crate::noise::NoiseLaw`] and asks the model for per-sample gradients; GD asks for the
//! expected gradient instead. Each built-in model knows its expected loss L(w) = E L̂(w; x) in
//! closed form from the first two moments of the noise ([`Moments`]). The data types
//! ([`Sample`], [`Field`], [`Moments`]) are the noise layer's, re-exported here.

pub use crate::noise::{Field, Moments, Sample};
use crate::vector::Vector;

pub mod formula;
pub mod quadratic;
pub mod quartic;
pub mod sharp_flat;
pub mod tiny_net;

pub use formula::Formula;
pub use quadratic::Quadratic;
pub use quartic::Quartic;
pub use sharp_flat::SharpFlat;
pub use tiny_net::TinyNet;

/// A sampled loss L̂(w; x) with its gradient.
///
/// Implementations must be cheap to call: the engine calls [`Model::grad_acc`] once per sample
/// per step inside a monomorphised loop.
pub trait Model: Send + Sync {
    /// The parameter vector, `[f64; D]`.
    type W: Vector;

    /// Short name used in output.
    fn name(&self) -> &str;

    /// Per-sample loss L̂(w; s).
    fn loss(&self, w: &Self::W, s: &Sample) -> f64;

    /// Add `scale · ∇_w L̂(w; s)` to `g`.
    fn grad_acc(&self, w: &Self::W, s: &Sample, scale: f64, g: &mut Self::W);

    /// `∇_w L̂(w; s)` into `g`, for one sample (a batch of 1). The default adds it to zeros;
    /// a model may write it directly, one addition less on the engine's critical path. The two
    /// differ only in the sign of a zero gradient coordinate (0 + (−0) = +0).
    #[inline(always)]
    fn grad(&self, w: &Self::W, s: &Sample, g: &mut Self::W) {
        *g = Self::W::zeros();
        self.grad_acc(w, s, 1.0, g);
    }

    /// Expected loss L(w) = E L̂(w; x) in closed form from the data moments, where known.
    fn expected_loss(&self, w: &Self::W, m: &Moments) -> Option<f64>;

    /// Expected gradient ∇L(w) in closed form from the data moments, where known
    /// (used by GD). Returns `false` when the model has no closed form.
    fn expected_grad(&self, w: &Self::W, m: &Moments, g: &mut Self::W) -> bool;

    /// Whether w = 0 is a fixed point for every data point (∇L̂(0; x) = 0 for all x), so a
    /// run that lands exactly on 0 stays there: the engine then counts it as absorbed.
    fn origin_is_fixed(&self) -> bool;

    /// Whether the engine compiles AVX2 and AVX-512 builds of its stepping kernel for this
    /// model, besides the baseline build (the results are bit-identical either way). True for
    /// the built-in landscapes, whose gradients vectorise across runs; false for formulas,
    /// whose gradient is an interpreted tape evaluated run by run, where the wider builds
    /// would only multiply the compiled code.
    const VECTOR_BUILDS: bool = true;
}
