//! Analysis: the paper's theory laid beside a simulated experiment.
//!
//! [`crate::theory`] takes numbers (a noise law, λ, S, a drift, a noise strength); this module
//! reads them off a validated [`Experiment`] by one rule each, so that every front end asks the
//! same question the same way:
//! - [`inputs`]: the parameters of an experiment as theory inputs (the two-point a of Eq. 83,
//!   the quartic b, the data moments m and v, App. C's closed form for the experiment);
//! - [`stationary`]: the stationary density of Eq. 57 for an experiment, beside the closed
//!   forms of Eqs 63, 65, 68 and 76;
//! - [`transient`]: the transient Fokker–Planck density of Eq. 52 from the experiment's
//!   initial law, compared with the ensemble's histograms;
//! - [`distance`]: the distance between a simulated histogram and a density (§D.5);
//! - [`escape`]: the law of w₀ for the escape probability of Eqs 79–80, and the simulated
//!   escape fraction beside it.

pub mod distance;
pub mod escape;
pub mod inputs;
pub mod stationary;
pub mod transient;

use crate::config::Experiment;
use crate::experiment::RunError;
use crate::theory::TheoryError;

/// Why an experiment could not be laid beside its theory.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// The theory rejected the experiment's parameters.
    #[error(transparent)]
    Theory(#[from] TheoryError),
    /// The experiment could not be run (or its landscape built).
    #[error(transparent)]
    Run(#[from] RunError),
    /// The analysis needs another optimizer (its `optimizer.kind`).
    #[error("needs optimizer.kind = \"{0}\"")]
    Optimizer(&'static str),
    /// The analysis needs a one-parameter experiment (the experiment's name).
    #[error("{0}: the escape probability needs a one-parameter experiment")]
    NotOneParameter(String),
    /// The experiment does not record what the analysis compares with (the observer).
    #[error("the experiment does not observe {0}")]
    NotObserved(&'static str),
}

/// Whether the experiment's optimizer is the one named `name` as in experiment files
/// (`"sgd"`, `"sde"`, …): the one place this module reads the optimizer's kind.
fn optimizer_is(e: &Experiment, name: &str) -> bool {
    e.optimizer.kind() == name
}

/// The time of one step in the units of Eq. 49: dt for the SDE, 1 for a discrete optimizer
/// (whose step t is the time λ-rescaled in Eq. 49, App. C.1).
pub fn time_per_step(e: &Experiment) -> f64 {
    e.optimizer.dt().unwrap_or(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_table;

    pub(crate) fn exp(text: &str) -> Experiment {
        Experiment::from_table(&parse_table(text).expect("toml")).expect("valid")
    }

    #[test]
    fn the_time_of_a_step_is_dt_for_the_sde_only() {
        let sde = exp(
            "name = 't'\nruns = 1\nsteps = 1\n[model]\nkind = 'quadratic'\n[noise]\nkind = 'two-point'\na = -1.0\n[optimizer]\nkind = 'sde'\nlr = 0.5\ndt = 0.125\n[diffusion]\nkind = 'minibatch'",
        );
        assert_eq!(sde.optimizer.dt(), Some(0.125));
        assert_eq!(time_per_step(&sde), 0.125);
        let sgd = exp(
            "name = 't'\nruns = 1\nsteps = 1\n[model]\nkind = 'quadratic'\n[noise]\nkind = 'two-point'\na = -1.0\n[optimizer]\nkind = 'sgd'\nlr = 0.5",
        );
        assert_eq!(sgd.optimizer.dt(), None);
        assert_eq!(time_per_step(&sgd), 1.0);
        assert!(optimizer_is(&sgd, "sgd") && !optimizer_is(&sgd, "sde"));
    }
}
