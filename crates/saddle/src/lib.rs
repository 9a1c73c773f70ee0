//! # saddle
//!
//! Noise-driven dynamics of stochastic optimizers, after *SGD May Never Escape Saddle Points*
//! (Ziyin, Li, Simon, Ueda, 2021). The crate simulates huge ensembles of SGD, momentum,
//! RMSProp, Adam, AMSGrad and GD trajectories on the paper's landscapes and on user formulas,
//! with state-dependent minibatch noise and injected noise, and measures what the paper
//! measures: final distributions, escape fractions, the escape rate γ̂ (Eq. 8), losses.
//!
//! Layers, from the bottom (each imports only from the layers below it; the rules and the
//! path of data are in `docs/architecture.md`):
//! - [`rng`]: the counter-based Philox4x32-10 generator, streams keyed by (seed, cell, run);
//!   [`vector`], [`stats`], [`flush`]; [`numeric`]: quadrature, roots and maxima;
//! - [`model`]: sampled losses L̂(w; x) and their gradients; [`noise`]: data distributions;
//! - [`optimizer`]: update rules; [`sde`]: the continuous-time limit (Eq. 49); [`exact`]: the
//!   exact law of SGD on the quadratic; [`observe`]: what is measured; [`rules`]: when a run
//!   diverges or is absorbed, and the box;
//! - [`ensemble`]: the CPU engine, one executor and its kernels;
//! - [`config`]: experiment files (TOML) to experiments, each optimizer kind in a module of
//!   its own; [`sweep`]: parameter grids;
//! - [`plan`]: an experiment validated for running; [`backend`]: the seam through which a
//!   plan runs on an engine; [`experiment`]: running an experiment into a
//!   [`experiment::Summary`];
//! - [`theory`]: the paper's closed forms and numerical theory;
//! - [`analysis`]: an experiment's parameters as theory inputs, and its theory beside its
//!   simulation (closed forms, densities against histograms).

pub mod analysis;
pub mod backend;
pub mod config;
pub mod ensemble;
pub mod exact;
pub mod experiment;
pub mod flush;
pub mod model;
pub mod noise;
pub mod numeric;
pub mod observe;
pub mod optimizer;
pub mod plan;
pub mod rng;
pub mod rules;
pub mod sde;
pub mod stats;
pub mod sweep;
pub mod theory;
pub mod vector;

/// The crate version, reported in every summary.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
