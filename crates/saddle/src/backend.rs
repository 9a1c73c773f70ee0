//! The backend seam: a [`Backend`] runs a validated [`Plan`] as one sweep cell and returns its
//! [`Outcome`]. Front ends (the CLI, the report, bindings) call [`crate::experiment`], which
//! builds the plan and hands it to a backend; a second engine (a d-dimensional one, a GPU) is
//! one more implementation of this trait.
//!
//! [`CpuLanes`] is the CPU engine of [`crate::ensemble`]: one dispatch per plan to the
//! monomorphised kernel for its model and optimizer, none per step.

use crate::config::{DiffusionSpec, Experiment, ModelVisit, OneParameterVisit, Visit};
use crate::ensemble::{Ensemble, EnsembleError, GradientSource, Outcome, Settings};
use crate::model::{Model, Quadratic};
use crate::optimizer::{Optimizer, Sgd};
use crate::plan::{Kernel, Plan, RunError};
use crate::sde::{Diffusion, Landscape, SdeModel, Stepper};
use crate::theory::designed_noise::{C0Choice, DesignOptions, DesignedNoise};

/// Progress: called with the number of runs just finished.
pub type Progress<'p> = Option<&'p (dyn Fn(u64) + Sync)>;

/// An engine that runs plans.
pub trait Backend: Sync {
    /// The backend's name.
    fn name(&self) -> &'static str;
    /// Check that this backend can run `plan` (what only building the run reveals, e.g. that
    /// GD's expected gradient exists for the model and noise), without running it.
    fn check(&self, plan: &Plan) -> Result<(), RunError>;
    /// Run `plan` as sweep cell `cell` (0 outside sweeps).
    fn run(&self, plan: &Plan, cell: u32, progress: Progress<'_>) -> Result<Outcome, RunError>;
}

/// The CPU engine: lanes of runs stepped in lockstep, chunks in parallel
/// ([`crate::ensemble`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuLanes;

impl Backend for CpuLanes {
    fn name(&self) -> &'static str {
        "cpu-lanes"
    }
    fn check(&self, plan: &Plan) -> Result<(), RunError> {
        dispatch(plan, 0, None, true).map(|_| ())
    }
    fn run(&self, plan: &Plan, cell: u32, progress: Progress<'_>) -> Result<Outcome, RunError> {
        Ok(dispatch(plan, cell, progress, false)?.expect("not a dry run"))
    }
}

fn dispatch(
    plan: &Plan,
    cell: u32,
    progress: Progress<'_>,
    dry: bool,
) -> Result<Option<Outcome>, RunError> {
    let exp = plan.experiment();
    let settings = plan.settings(cell);
    let ctx = Ctx {
        exp,
        settings: &settings,
        progress,
        dry,
    };
    match plan.kernel() {
        Kernel::Sde => with_landscape(exp, &ctx),
        Kernel::Exact(factors) => {
            let opt = Sgd {
                lr: exp.optimizer.lr,
            };
            let e = Ensemble::new(&Quadratic, &exp.noise, &opt, &settings)?;
            Ok((!dry).then(|| e.run_exact(factors, progress)))
        }
        Kernel::Step => with_model(exp, &ctx),
    }
}

/// Hand the plan's model, as its concrete type, to `ctx` (one dispatch per plan).
fn with_model(exp: &Experiment, ctx: &Ctx<'_>) -> Result<Option<Outcome>, RunError> {
    Ok(exp
        .model
        .visit(&exp.noise, StepModel(ctx))
        .map_err(RunError::Formula)??)
}

/// The stepping kernel for a model, once its type is known.
struct StepModel<'c, 'a>(&'c Ctx<'a>);

impl ModelVisit for StepModel<'_, '_> {
    type Out = Result<Option<Outcome>, EnsembleError>;
    fn visit<M: Model>(self, m: &M) -> Self::Out {
        self.0.with_model(m)
    }
}

struct Ctx<'a> {
    exp: &'a Experiment,
    settings: &'a Settings,
    progress: Progress<'a>,
    dry: bool,
}

impl Ctx<'_> {
    fn with_model<M: Model>(&self, m: &M) -> Result<Option<Outcome>, EnsembleError> {
        let o = &self.exp.optimizer;
        o.rule
            .visit(
                o.lr,
                Go {
                    ctx: self,
                    model: m,
                },
            )
            .expect("the plan sends only discrete rules to the stepping kernel")
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

/// The stepping kernel for one model, once the optimizer's type is known.
struct Go<'c, 'a, M> {
    ctx: &'c Ctx<'a>,
    model: &'c M,
}

impl<M: Model> Visit<M::W> for Go<'_, '_, M> {
    type Out = Result<Option<Outcome>, EnsembleError>;
    fn visit<O: Optimizer<M::W>>(self, o: &O) -> Self::Out {
        self.ctx.go(self.model, o)
    }
}

/// What to do with the continuous-time landscape of an SDE experiment, once its types are
/// fixed (one dispatch per experiment, none per step).
pub(crate) trait LandscapeVisitor {
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
        let sde = o.sde().expect("the plan sends only the SDE here");
        let stepper = Stepper::new(o.lr, self.exp.noise.batch, sde.dt, sde.scheme);
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
pub(crate) fn with_landscape<V: LandscapeVisitor>(
    exp: &Experiment,
    v: &V,
) -> Result<V::Out, RunError> {
    let m = &exp.model;
    m.visit_one_parameter(Diffuse { exp, v })
        .map_err(RunError::Formula)?
        .unwrap_or_else(|| {
            Err(RunError::Diffusion(format!(
                "the continuous-time limit is one-dimensional; model `{}` has {} parameters",
                m.kind(),
                m.dim()
            )))
        })
}

/// The landscape of a one-parameter model, once its type is known.
struct Diffuse<'e, 'v, V> {
    exp: &'e Experiment,
    v: &'v V,
}

impl<V: LandscapeVisitor> OneParameterVisit for Diffuse<'_, '_, V> {
    type Out = Result<V::Out, RunError>;
    fn visit<M: Model<W = [f64; 1]> + Clone + 'static>(self, m: M) -> Self::Out {
        with_diffusion(self.exp, m, self.v)
    }
}

fn with_diffusion<M: Model<W = [f64; 1]> + Clone + 'static, V: LandscapeVisitor>(
    exp: &Experiment,
    model: M,
    v: &V,
) -> Result<V::Out, RunError> {
    let (noise, sigma) = (&exp.noise, exp.injected_sigma);
    match &exp.diffusion {
        DiffusionSpec::Minibatch => {
            v.visit(Landscape::new(model, noise, crate::sde::Minibatch, sigma))
        }
        DiffusionSpec::Formula(f) => {
            let d =
                crate::sde::FormulaDiffusion::new((**f).clone()).map_err(RunError::Diffusion)?;
            v.visit(Landscape::new(model, noise, d, sigma))
        }
        DiffusionSpec::Designed { .. } => {
            let drift = Landscape::new(model.clone(), noise, crate::sde::Minibatch, 0.0);
            let d = design(exp, |w| drift.grad(w))?;
            v.visit(Landscape::new(model, noise, d, sigma))
        }
    }
}

/// Prop. 10's noise for an experiment with `[diffusion] kind = "designed"`, given the drift
/// L'(w) of its landscape: Eq. 117 on the box `optimizer.clip`, with λ = `optimizer.lr` and
/// S = `noise.batch`.
pub(crate) fn design(
    exp: &Experiment,
    grad: impl Fn(f64) -> f64,
) -> Result<DesignedNoise, RunError> {
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
