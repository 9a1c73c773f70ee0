//! Running a validated [`Experiment`]: choose the monomorphised ensemble for its model and
//! optimizer (one dispatch per experiment, none per step) and summarise the outcome.

use crate::config::{DiffusionSpec, Experiment, Mode, ModelSpec, OptKind, OPT_KINDS};
use crate::ensemble::{Ensemble, EnsembleError, GradientSource, Outcome, Settings};
use crate::exact::Factors;
use crate::model::{Formula, Model, Quadratic, Quartic, SharpFlat, TinyNet};
use crate::observe::{EscapeRatePoint, FinalState, Histogram, TracePoint};
use crate::optimizer::{Adam, Momentum, Optimizer, RmsProp, Sgd};
use crate::sde::{
    Coefficients, Designed, Diffusion, FormulaDiffusion, Landscape, Minibatch, SdeModel, Stepper,
};
use crate::theory::designed_noise::{C0Choice, DesignOptions, DesignedNoise};
use serde::Serialize;

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
}

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

/// Run an experiment as sweep cell `cell` (use 0 outside sweeps). `progress` is called with
/// the number of runs just finished.
pub fn run(
    exp: &Experiment,
    cell: u32,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<Summary, RunError> {
    let outcome = dispatch(exp, cell, progress, false, true)?.expect("not a dry run");
    Ok(summarise(exp, cell, outcome))
}

/// [`run`] without keeping final states: `observe.final_states` is ignored and the summary's
/// `final_states` is None. For callers that use only the summary (`saddle run` without
/// `--out`, sweeps): memory then does not grow with the number of runs, and runs up to
/// 2³² − 1 need no more than a few runs do.
pub fn run_summary(
    exp: &Experiment,
    cell: u32,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<Summary, RunError> {
    let outcome = dispatch(exp, cell, progress, false, false)?.expect("not a dry run");
    Ok(summarise(exp, cell, outcome))
}

/// Check everything [`run_summary`] checks before simulating (the model, noise and optimizer
/// fit together, e.g. GD has an expected gradient; the observers' sizes), without simulating.
/// [`run`] also checks that the final states it keeps are within
/// [`crate::observe::MAX_FINAL_STATES`].
pub fn check(exp: &Experiment) -> Result<(), RunError> {
    dispatch(exp, 0, None, true, false).map(|_| ())
}

fn dispatch(
    exp: &Experiment,
    cell: u32,
    progress: Option<&(dyn Fn(u64) + Sync)>,
    dry: bool,
    keep_final_states: bool,
) -> Result<Option<Outcome>, RunError> {
    let mut observe = exp.observe.clone();
    observe.final_states &= keep_final_states;
    let settings = Settings {
        runs: exp.runs,
        steps: exp.steps,
        seed: exp.seed,
        cell,
        init: exp.init.clone(),
        gradient: exp.gradient(),
        sigma: exp.injected_sigma,
        clip: exp.optimizer.clip,
        boundary: exp.optimizer.boundary,
        bound: exp.bound,
        observe,
    };
    let ctx = Ctx {
        exp,
        settings: &settings,
        progress,
        dry,
    };
    if exp.optimizer.kind == OptKind::Sde {
        return with_landscape(exp, &ctx);
    }
    if exp.mode == Mode::Exact {
        // Validated with the file: the quadratic, SGD, a finite law, no σ, no box.
        let factors = Factors::new(&exp.noise, exp.optimizer.lr).ok_or_else(|| {
            RunError::Exact("the minibatch mean of the noise has no finite law".into())
        })?;
        let opt = Sgd {
            lr: exp.optimizer.lr,
        };
        let e = Ensemble::new(&Quadratic, &exp.noise, &opt, &settings)?;
        return Ok((!dry).then(|| e.run_exact(&factors, progress)));
    }
    let outcome = match &exp.model {
        ModelSpec::Quadratic => ctx.with_model(&Quadratic)?,
        ModelSpec::Quartic { b } => ctx.with_model(&Quartic { b: *b })?,
        ModelSpec::SharpFlat { a, b } => ctx.with_model(&SharpFlat { a: *a, b: *b })?,
        ModelSpec::TinyNet => ctx.with_model(&TinyNet)?,
        ModelSpec::Formula(f) => {
            macro_rules! formula {
                ($($n:literal)*) => {
                    match f.params() {
                        $($n => ctx.with_model(
                            &Formula::<$n>::new((**f).clone()).map_err(|e| RunError::Formula(e.to_string()))?.with_noise(&exp.noise),
                        )?,)*
                        n => return Err(RunError::Formula(format!("{n} parameters; 1 to 8 are supported"))),
                    }
                };
            }
            formula!(1 2 3 4 5 6 7 8)
        }
    };
    Ok(outcome)
}

struct Ctx<'a> {
    exp: &'a Experiment,
    settings: &'a Settings,
    progress: Option<&'a (dyn Fn(u64) + Sync)>,
    dry: bool,
}

impl Ctx<'_> {
    fn with_model<M: Model>(&self, m: &M) -> Result<Option<Outcome>, EnsembleError> {
        let o = &self.exp.optimizer;
        match o.kind {
            OptKind::Gd | OptKind::Sgd => self.go(m, &Sgd { lr: o.lr }),
            OptKind::Momentum => self.go(
                m,
                &Momentum {
                    lr: o.lr,
                    beta: o.beta,
                },
            ),
            OptKind::RmsProp => self.go(
                m,
                &RmsProp {
                    lr: o.lr,
                    beta: o.beta,
                    eps: o.eps,
                },
            ),
            OptKind::Sde => unreachable!("SDE experiments are dispatched by `with_landscape`"),
            OptKind::Adam | OptKind::AmsGrad => self.go(
                m,
                &Adam {
                    lr: o.lr,
                    beta1: o.beta1,
                    beta2: o.beta2,
                    eps: o.eps,
                    amsgrad: o.kind == OptKind::AmsGrad,
                    bias_correction: o.library,
                },
            ),
        }
    }

    fn go<M: Model, O: Optimizer<M::W>>(
        &self,
        m: &M,
        o: &O,
    ) -> Result<Option<Outcome>, EnsembleError> {
        let e = Ensemble::new(m, &self.exp.noise, o, self.settings)?;
        Ok((!self.dry).then(|| e.run(self.progress)))
    }
}

/// What to do with the continuous-time landscape of an SDE experiment, once its types are
/// fixed (one dispatch per experiment, none per step).
trait LandscapeVisitor {
    type Out;
    fn visit<M: Model<W = [f64; 1]> + Clone + 'static, D: Diffusion + 'static>(
        &self,
        l: Landscape<M, D>,
    ) -> Result<Self::Out, RunError>;
}

impl LandscapeVisitor for Ctx<'_> {
    type Out = Option<Outcome>;
    fn visit<M: Model<W = [f64; 1]> + Clone + 'static, D: Diffusion + 'static>(
        &self,
        l: Landscape<M, D>,
    ) -> Result<Option<Outcome>, RunError> {
        let o = &self.exp.optimizer;
        let stepper = Stepper::new(o.lr, self.exp.noise.batch, o.dt, o.scheme);
        let model = SdeModel::new(l, stepper);
        let brownian = SdeModel::<M, D>::brownian();
        // The injected noise is part of C(w) (Eq. 62); the engine draws only ξ.
        let settings = Settings {
            sigma: 0.0,
            gradient: GradientSource::Sampled,
            ..self.settings.clone()
        };
        let unit = SdeModel::<M, D>::unit_step();
        let e = Ensemble::new(&model, &brownian, &unit, &settings)?;
        Ok((!self.dry).then(|| e.run(self.progress)))
    }
}

/// Build the continuous-time landscape of a one-parameter experiment (model, data law,
/// diffusion source, injected σ) and hand it to `v`.
fn with_landscape<V: LandscapeVisitor>(exp: &Experiment, v: &V) -> Result<V::Out, RunError> {
    match &exp.model {
        ModelSpec::Quadratic => with_diffusion(exp, Quadratic, v),
        ModelSpec::Quartic { b } => with_diffusion(exp, Quartic { b: *b }, v),
        ModelSpec::Formula(f) if f.params() == 1 => with_diffusion(
            exp,
            Formula::<1>::new((**f).clone()).map_err(|e| RunError::Formula(e.to_string()))?,
            v,
        ),
        m => Err(RunError::Diffusion(format!(
            "the continuous-time limit is one-dimensional; model `{}` has {} parameters",
            m.kind(),
            m.dim()
        ))),
    }
}

fn with_diffusion<M: Model<W = [f64; 1]> + Clone + 'static, V: LandscapeVisitor>(
    exp: &Experiment,
    model: M,
    v: &V,
) -> Result<V::Out, RunError> {
    let (noise, sigma) = (&exp.noise, exp.injected_sigma);
    match &exp.diffusion {
        DiffusionSpec::Minibatch => v.visit(Landscape::new(model, noise, Minibatch, sigma)),
        DiffusionSpec::Formula(f) => {
            let d = FormulaDiffusion::new((**f).clone()).map_err(RunError::Diffusion)?;
            v.visit(Landscape::new(model, noise, d, sigma))
        }
        DiffusionSpec::Designed { .. } => {
            let drift = Landscape::new(model.clone(), noise, Minibatch, 0.0);
            let d = design(exp, |w| drift.grad(w))?;
            v.visit(Landscape::new(model, noise, Designed(d), sigma))
        }
    }
}

/// Prop. 10's noise for an experiment with `[diffusion] kind = "designed"`, given the drift
/// L'(w) of its landscape: Eq. 117 on the box `optimizer.clip`, with λ = `optimizer.lr` and
/// S = `noise.batch`.
fn design(exp: &Experiment, grad: impl Fn(f64) -> f64) -> Result<DesignedNoise, RunError> {
    let DiffusionSpec::Designed { target, c0, cells } = &exp.diffusion else {
        return Err(RunError::Diffusion(format!(
            "`{}` noise is not designed (use [diffusion] kind = \"designed\")",
            exp.diffusion.kind()
        )));
    };
    let (lo, hi) = exp.optimizer.clip.ok_or_else(|| {
        RunError::Diffusion("designed noise needs optimizer.clip = [lo, hi]".into())
    })?;
    let options = DesignOptions {
        cells: *cells,
        c0: c0.map_or(C0Choice::Minimal, C0Choice::Value),
        target_slope: None,
    };
    DesignedNoise::new(
        grad,
        |w| target.loss(&[w], 0.0, 0.0),
        exp.optimizer.lr,
        exp.noise.batch as f64,
        lo,
        hi,
        options,
    )
    .map_err(|e| RunError::Diffusion(e.to_string()))
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
        optimizer: OPT_KINDS[exp.optimizer.kind as usize].to_string(),
        mode: exp.mode.name().to_string(),
        runs: exp.runs,
        steps: exp.steps,
        dt: (exp.optimizer.kind == OptKind::Sde).then_some(exp.optimizer.dt),
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
