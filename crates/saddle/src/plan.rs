//! A validated plan: what to run, described without reference to how. A [`Plan`] is built
//! from an [`Experiment`] (parsed from TOML, or written out in code) by [`Plan::new`], which
//! enforces every invariant a backend relies on: exact mode only where the law of w_t is
//! provably the product of factors it draws, the SDE only for one-parameter models, the sizes
//! the engine allocates by, the initial state's length, the observers' sizes. Its fields
//! are private and it cannot change afterwards; backends ([`crate::backend`]) take a plan,
//! never an experiment, and trust it rather than the parser.

use crate::config::{
    batch_obstacle, exact_message, exact_obstacle, runs_obstacle, sde_obstacle, steps_obstacle,
    ConfigError, Experiment, Mode, Rule,
};
use crate::ensemble::{EnsembleError, Settings};
use crate::exact::Factors;
use std::sync::Arc;

/// Errors while running an experiment.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RunError {
    /// The engine rejected the problem.
    #[error(transparent)]
    Ensemble(#[from] EnsembleError),
    /// The formula could not be instantiated.
    #[error("model.loss: {0}")]
    Formula(String),
    /// The diffusion of an SDE could not be built.
    #[error("diffusion: {0}")]
    Diffusion(String),
    /// Exact mode cannot be used.
    #[error("mode = \"exact\": {0}")]
    Exact(String),
    /// A size out of its bounds (in an experiment built without the parser).
    #[error(transparent)]
    Size(#[from] ConfigError),
}

/// How a plan's runs are simulated: the kernel a backend uses.
#[derive(Clone, Debug)]
pub enum Kernel {
    /// Step by step: every model, optimizer and noise.
    Step,
    /// SGD on the quadratic with a finite law of x̄, w_t drawn from its exact law: the factors
    /// 1 − λx̄ and their probabilities ([`crate::exact`]).
    Exact(Arc<Factors>),
    /// The continuous-time limit, the SDE of Eq. 49, for a one-parameter model.
    Sde,
}

/// A validated, immutable description of an ensemble: model, noise, optimizer, initial
/// state, observers, sizes, seed and kernel.
#[derive(Clone, Debug)]
pub struct Plan {
    exp: Experiment,
    kernel: Kernel,
    settings: Settings,
}

impl Plan {
    /// Validate `exp` into a plan. Keeps final states if `exp.observe.final_states` asks for
    /// them (within [`crate::observe::MAX_FINAL_STATES`]).
    pub fn new(exp: &Experiment) -> Result<Plan, RunError> {
        Plan::build(exp, true)
    }

    /// [`Plan::new`] without kept final states (`observe.final_states` ignored): memory then
    /// does not grow with the number of runs, and runs up to 2³² − 1 need no more than a few
    /// runs do.
    pub fn summary_only(exp: &Experiment) -> Result<Plan, RunError> {
        Plan::build(exp, false)
    }

    fn build(exp: &Experiment, keep_final_states: bool) -> Result<Plan, RunError> {
        // The sizes the engine allocates by, bounded before anything is allocated, whether or
        // not the experiment came through the parser (which checks them with the same rules).
        let sizes = [
            ("runs", runs_obstacle(exp.runs)),
            ("steps", steps_obstacle(exp.steps)),
            ("noise.batch", batch_obstacle(exp.noise.batch as u64)),
        ];
        if let Some((path, Some(msg))) = sizes.into_iter().find(|(_, why)| why.is_some()) {
            return Err(ConfigError::Invalid {
                path: path.into(),
                msg,
            }
            .into());
        }
        let mut observe = exp.observe.clone();
        observe.final_states &= keep_final_states;
        // (A formula's parameter count needs no check here: `FormulaSpec::parse`, its only
        // constructor, admits 1 to `MAX_PARAMS`.)
        exp.init.check_dim(exp.model.kind(), exp.model.dim())?;
        observe
            .check_size(exp.runs)
            .map_err(|e| RunError::Ensemble(e.into()))?;
        let o = &exp.optimizer;
        let kernel = match (&o.rule, exp.mode) {
            (Rule::Sde(_), Mode::Step) => {
                if let Some(why) = sde_obstacle(&exp.model) {
                    return Err(RunError::Diffusion(why));
                }
                Kernel::Sde
            }
            (_, Mode::Step) => Kernel::Step,
            (_, Mode::Exact) => {
                if let Some(why) = exact_obstacle(&exp.model, &exp.noise, exp.injected_sigma, o) {
                    return Err(RunError::Exact(exact_message(&why)));
                }
                let f = Factors::new(&exp.noise, o.lr).ok_or_else(|| {
                    RunError::Exact("the minibatch mean of the noise has no finite law".into())
                })?;
                Kernel::Exact(Arc::new(f))
            }
        };
        let settings = Settings {
            runs: exp.runs,
            steps: exp.steps,
            seed: exp.seed,
            cell: 0,
            init: exp.init.clone(),
            gradient: exp.gradient(),
            sigma: exp.injected_sigma,
            clip: o.clip,
            boundary: o.boundary,
            bound: exp.bound,
            decay: o.decay(),
            observe,
        };
        Ok(Plan {
            exp: exp.clone(),
            kernel,
            settings,
        })
    }

    /// The experiment the plan was built from.
    pub fn experiment(&self) -> &Experiment {
        &self.exp
    }

    /// The kernel.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// The engine's settings for sweep cell `cell` (part of every stream's key).
    pub fn settings(&self, cell: u32) -> Settings {
        Settings {
            cell,
            ..self.settings.clone()
        }
    }
}
