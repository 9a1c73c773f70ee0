//! Running an [`Experiment`]: validate it into a [`Plan`], run the plan on a backend
//! ([`crate::backend`]) and summarise the outcome.

use crate::backend::{design, with_landscape, Backend, CpuLanes, LandscapeVisitor, Progress};
use crate::config::{DiffusionSpec, Experiment};
use crate::ensemble::Outcome;
use crate::model::Model;
use crate::observe::{EscapeRatePoint, FinalState, Histogram, TracePoint};
use crate::plan::Plan;
pub use crate::plan::RunError;
use crate::sde::{Coefficients, Diffusion, Landscape};
use crate::theory::designed_noise::DesignedNoise;
use serde::Serialize;

/// The escape fraction with its uncertainty.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EscapeSummary {
    /// δ.
    pub delta: f64,
    /// P(‖w_T − c‖ ≥ δ), diverged runs counted as escaped.
    pub value: f64,
    /// Binomial standard error.
    pub stderr: f64,
}

/// The result of one experiment: the JSON document `saddle run --json` prints
/// (schema in `docs/output.md`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// saddle version.
    pub version: String,
    /// Experiment name.
    pub name: String,
    /// Model kind.
    pub model: String,
    /// Optimizer kind.
    pub optimizer: String,
    /// How the runs were simulated: `step` (step by step) or `exact` (w_t drawn from its
    /// exact law at the record steps, `mode = "exact"`).
    pub mode: String,
    /// Runs R.
    pub runs: u64,
    /// Steps T.
    pub steps: u64,
    /// The SDE time step dt (null for the discrete optimizers, whose steps are the paper's
    /// t); an SDE's step t is at time t·dt.
    pub dt: Option<f64>,
    /// Seed.
    pub seed: u64,
    /// Sweep cell (0 for a single run).
    pub cell: u32,
    /// Runs that diverged (non-finite or beyond the bound).
    pub diverged: u64,
    /// Runs absorbed at 0 (see [`crate::observe::Status::Absorbed`]).
    pub absorbed: u64,
    /// Escape fraction value (null without `[observe.escape]`).
    pub escape_fraction: Option<f64>,
    /// Escape fraction with δ and standard error.
    pub escape: Option<EscapeSummary>,
    /// γ̂(t) at each requested t.
    pub escape_rate: Vec<EscapeRatePoint>,
    /// Mean expected loss L(w_T) over non-diverged runs (null if unavailable).
    pub mean_loss_final: Option<f64>,
    /// Its standard error.
    pub mean_loss_final_stderr: Option<f64>,
    /// Mean ‖w_T‖ over non-diverged runs.
    pub mean_norm_final: Option<f64>,
    /// Its standard error.
    pub mean_norm_final_stderr: Option<f64>,
    /// Mean loss and ‖w‖ at log-spaced steps.
    pub trace: Vec<TracePoint>,
    /// 1-D histograms.
    pub histograms: Vec<Histogram>,
    /// 2-D histograms.
    pub histograms2d: Vec<Histogram>,
    /// Final states (not part of the JSON summary; written as CSV).
    #[serde(skip)]
    pub final_states: Option<Vec<FinalState>>,
}

/// Run an experiment as sweep cell `cell` (use 0 outside sweeps) on the CPU engine.
/// `progress` is called with the number of runs just finished.
pub fn run(exp: &Experiment, cell: u32, progress: Progress<'_>) -> Result<Summary, RunError> {
    run_plan(&Plan::new(exp)?, &CpuLanes, cell, progress)
}

/// [`run`] without keeping final states: `observe.final_states` is ignored and the summary's
/// `final_states` is None. For callers that use only the summary (`saddle run` without
/// `--out`, sweeps): memory then does not grow with the number of runs, and runs up to
/// 2³² − 1 need no more than a few runs do.
pub fn run_summary(
    exp: &Experiment,
    cell: u32,
    progress: Progress<'_>,
) -> Result<Summary, RunError> {
    run_plan(&Plan::summary_only(exp)?, &CpuLanes, cell, progress)
}

/// Run a plan on a backend as sweep cell `cell` and summarise it.
pub fn run_plan(
    plan: &Plan,
    backend: &dyn Backend,
    cell: u32,
    progress: Progress<'_>,
) -> Result<Summary, RunError> {
    let outcome = backend.run(plan, cell, progress)?;
    Ok(summarise(plan.experiment(), cell, outcome))
}

/// Check everything [`run_summary`] checks before simulating (the model, noise and optimizer
/// fit together, e.g. GD has an expected gradient; the observers' sizes), without simulating.
/// [`run`] also checks that the final states it keeps are within
/// [`crate::observe::MAX_FINAL_STATES`].
pub fn check(exp: &Experiment) -> Result<(), RunError> {
    CpuLanes.check(&Plan::summary_only(exp)?)
}

/// The designed noise (Prop. 10, Eq. 117) of an experiment with `[diffusion] kind =
/// "designed"`, with its c₀ and range, as the SDE uses it; and the landscape whose drift L'
/// it was designed for (with the minibatch diffusion).
pub fn designed_noise(
    exp: &Experiment,
) -> Result<(DesignedNoise, Box<dyn Coefficients>), RunError> {
    let mut plain = exp.clone();
    plain.diffusion = DiffusionSpec::Minibatch;
    let land = coefficients(&plain)?;
    Ok((design(exp, |w| land.grad(w))?, land))
}

struct Boxed;

impl LandscapeVisitor for Boxed {
    type Out = Box<dyn Coefficients>;
    fn visit<M: Model<W = [f64; 1]> + Clone + 'static, D: Diffusion + 'static>(
        &self,
        l: Landscape<M, D>,
    ) -> Result<Box<dyn Coefficients>, RunError> {
        Ok(Box::new(l))
    }
}

/// The continuous-time landscape of an experiment (L, L' and C of Eq. 49), for the theory:
/// its model must have one parameter; its `[diffusion]` is used whatever the optimizer.
pub fn coefficients(exp: &Experiment) -> Result<Box<dyn Coefficients>, RunError> {
    with_landscape(exp, &Boxed)
}

fn summarise(exp: &Experiment, cell: u32, o: Outcome) -> Summary {
    let obs = o.observed;
    let f = &obs.final_point;
    Summary {
        version: crate::VERSION.to_string(),
        name: exp.name.clone(),
        model: exp.model.kind().to_string(),
        optimizer: exp.optimizer.kind().to_string(),
        mode: exp.mode.name().to_string(),
        runs: exp.runs,
        steps: exp.steps,
        dt: exp.optimizer.dt(),
        seed: exp.seed,
        cell,
        diverged: o.diverged,
        absorbed: o.absorbed,
        escape_fraction: obs.escape.as_ref().map(|e| e.value),
        escape: obs.escape.as_ref().map(|e| EscapeSummary {
            delta: e.delta,
            value: e.value,
            stderr: e.stderr,
        }),
        escape_rate: obs.escape_rate,
        mean_loss_final: f.mean_loss,
        mean_loss_final_stderr: f.loss_stderr,
        mean_norm_final: f.mean_norm,
        mean_norm_final_stderr: f.norm_stderr,
        trace: obs.trace,
        histograms: obs.histograms,
        histograms2d: obs.histograms2d,
        final_states: obs.final_states,
    }
}
