//! Theory: the paper's analytical results as callable code, so that every simulation can be
//! laid beside its prediction.
//!
//! Discrete time (App. B, D): the log-moments μ(λ), s²(λ) of Lemma 1 ([`log_moments`]), the
//! phase boundary of Prop. 2 ([`phase`]), the escape rate of Prop. 3 ([`escape_rate`]), the
//! exact escape probability at finite t ([`escape_probability`]), Prop. 4's sharp-flat
//! construction ([`sharp_flat`]), Prop. 5's AMSGrad interval ([`amsgrad`]) and the Kesten tail
//! exponent of SGD with additive noise ([`kesten`]).
//!
//! Continuous time (App. C, D.5): stationary densities of the 1-D Fokker–Planck equation
//! ([`stationary`]), its transient solution ([`fokker_planck`]), the designed noise of Prop. 10
//! ([`designed_noise`]) and distances between a histogram and a density ([`distance`]).

pub mod amsgrad;
pub mod designed_noise;
pub mod distance;
pub mod escape_probability;
pub mod escape_rate;
pub mod fokker_planck;
pub mod kesten;
pub mod log_moments;
pub mod phase;
pub mod sharp_flat;
pub mod stationary;

pub use crate::numeric::TheoryError;

pub(crate) use crate::numeric::invalid;
