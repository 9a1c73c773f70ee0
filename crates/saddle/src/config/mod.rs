//! Experiment files: TOML text → a validated [`Experiment`].
//!
//! Unknown keys are rejected and every error names the key path, the bad value and what is
//! allowed. The reference for every key is `docs/experiment-files.md`. [`Experiment::to_toml`]
//! writes the fully resolved experiment (defaults filled in) back as TOML that parses to the
//! same experiment.

mod diffusion;
mod document;
pub mod grid;
mod model;
mod noise;
mod observe;
pub mod optimizer;
pub mod reader;

use crate::ensemble::{GradientSource, Init};
use crate::noise::{Law, NoiseLaw};
use crate::observe::ObserveSpec;
pub use diffusion::{DiffusionSpec, DEFAULT_DESIGN_CELLS};
pub(crate) use document::{emit_table, floats, int, ints};
pub use document::{parse_override, parse_table, set_path};
use grid::Grid;
pub use model::{sde_obstacle, ModelSpec, ModelVisit, OneParameterVisit};
pub use optimizer::{OptimizerSpec, Rule, Visit, DEFAULT_DT};
pub use reader::{
    closest, compact_numbers, display_num, echo, echo_quoted, is_big_integer, num, show, ECHO_CHARS,
};
use reader::{Reader, R};
use toml::{Table, Value};

/// Errors in an experiment file or an override.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ConfigError {
    /// The text is not valid TOML.
    #[error("invalid TOML: {0}")]
    Syntax(String),
    /// A key has a bad value, is missing or is unknown.
    #[error("{path}: {msg}")]
    Invalid {
        /// Full key path, e.g. `noise.probs`.
        path: String,
        /// What is wrong and what is allowed.
        msg: String,
    },
    /// A `--set path=value` override is malformed.
    #[error("override {}: expected PATH=VALUE, e.g. optimizer.lr=0.1", echo_quoted(.0))]
    Override(String),
}

/// How the runs of an experiment are simulated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Step by step (every optimizer, model and noise).
    #[default]
    Step,
    /// The state at each record step drawn from its exact law, without stepping
    /// ([`crate::exact`]): SGD on the quadratic with a finite noise law, no injected noise, no box
    /// and no weight decay.
    Exact,
}

impl Mode {
    /// The name used in experiment files and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Step => "step",
            Mode::Exact => "exact",
        }
    }
}

/// A validated experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    /// Name.
    pub name: String,
    /// How the runs are simulated.
    pub mode: Mode,
    /// Free text.
    pub description: String,
    /// Seed.
    pub seed: u64,
    /// Runs R.
    pub runs: u64,
    /// Steps T.
    pub steps: u64,
    /// Landscape.
    pub model: ModelSpec,
    /// Data distribution and batch size.
    pub noise: NoiseLaw,
    /// Injected Gaussian noise σ on the update.
    pub injected_sigma: f64,
    /// Initial state.
    pub init: Init,
    /// Optimizer.
    pub optimizer: OptimizerSpec,
    /// Divergence bound.
    pub bound: f64,
    /// Where C(w) comes from (used by `sde` only).
    pub diffusion: DiffusionSpec,
    /// Observers.
    pub observe: ObserveSpec,
    /// Trace points requested (log-spaced), kept for [`Experiment::to_toml`].
    pub trace_points: usize,
    /// Parameter grid for `saddle sweep`.
    pub sweep: Option<Grid>,
}

impl Experiment {
    /// Parse and validate TOML text.
    pub fn from_toml(text: &str) -> Result<Experiment, ConfigError> {
        let table = parse_table(text)?;
        Experiment::from_table(&table)
    }

    /// Validate a parsed TOML table.
    pub fn from_table(t: &Table) -> Result<Experiment, ConfigError> {
        parse_experiment(&Reader::root(t))
    }

    /// The gradient source the optimizer uses.
    pub fn gradient(&self) -> GradientSource {
        if self.optimizer.rule.expected_gradient() {
            GradientSource::Expected
        } else {
            GradientSource::Sampled
        }
    }

    /// The fully resolved experiment as TOML (defaults filled in); parses back to `self`.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        emit_table(&self.to_table(), "", &mut out);
        out
    }

    /// The fully resolved experiment as a TOML table.
    pub fn to_table(&self) -> Table {
        let mut t = Table::new();
        t.insert("name".into(), self.name.clone().into());
        if !self.description.is_empty() {
            t.insert("description".into(), self.description.clone().into());
        }
        t.insert("mode".into(), self.mode.name().into());
        t.insert("seed".into(), int(self.seed));
        t.insert("runs".into(), int(self.runs));
        t.insert("steps".into(), int(self.steps));

        t.insert("model".into(), self.model.to_table().into());
        t.insert(
            "noise".into(),
            noise::to_table(&self.noise, self.injected_sigma).into(),
        );

        let mut i = Table::new();
        match &self.init {
            Init::Uniform { lo, hi } => {
                i.insert("kind".into(), "uniform".into());
                i.insert("lo".into(), floats(lo));
                i.insert("hi".into(), floats(hi));
            }
            Init::Point(w) => {
                i.insert("kind".into(), "point".into());
                i.insert("w".into(), floats(w));
            }
        }
        t.insert("init".into(), i.into());

        let o = &self.optimizer;
        t.insert("optimizer".into(), o.to_table().into());

        if o.sde().is_some() {
            t.insert("diffusion".into(), self.diffusion.to_table().into());
        }

        let mut dv = Table::new();
        dv.insert("bound".into(), self.bound.into());
        t.insert("divergence".into(), dv.into());

        t.insert(
            "observe".into(),
            observe::to_table(&self.observe, self.trace_points).into(),
        );

        if let Some(g) = &self.sweep {
            let mut st = g.to_table();
            // The point count n of `linspace`/`logspace = [lo, hi, n]` is written as an integer
            // (64, not 64.0); the reader takes either.
            if let Some(Value::Array(axes)) = st.get_mut("axis") {
                for a in axes.iter_mut().filter_map(Value::as_table_mut) {
                    for k in ["linspace", "logspace"] {
                        if let Some(Value::Array(v)) = a.get_mut(k) {
                            if let Some(n) = v.get_mut(2) {
                                if let Some(f) = n.as_float().filter(|f| f.fract() == 0.0) {
                                    *n = int(f as u64);
                                }
                            }
                        }
                    }
                }
            }
            t.insert("sweep".into(), st.into());
        }
        t
    }
}

/// Default divergence bound.
pub const DEFAULT_BOUND: f64 = 1e50;

/// The largest minibatch: the stepping kernel holds a step's samples for 32 runs at once.
pub const MAX_BATCH: u64 = 1_000_000;

/// What is wrong with `runs`, if anything: 1 to 2³² − 1 (streams are keyed by a 32-bit run
/// index). The one statement of the bound, for the parser and for [`crate::plan::Plan`].
pub fn runs_obstacle(runs: u64) -> Option<String> {
    (runs == 0 || runs > u32::MAX as u64)
        .then(|| format!("must be between 1 and {} (got {runs})", u32::MAX))
}

/// What is wrong with `steps`, if anything: at least 1.
pub fn steps_obstacle(steps: u64) -> Option<String> {
    (steps == 0).then(|| "must be at least 1 (got 0)".to_string())
}

/// What is wrong with `noise.batch`, if anything: 1 to [`MAX_BATCH`].
pub fn batch_obstacle(batch: u64) -> Option<String> {
    (batch == 0 || batch > MAX_BATCH)
        .then(|| format!("must be between 1 and {MAX_BATCH} (got {batch})"))
}

/// Why `mode = "exact"` cannot serve an experiment, if it cannot: exact mode draws w_t from
/// the law of a product of independent factors, and only SGD on the quadratic with a finite
/// law of x̄, no injected noise, no box and no weight decay has one. The one statement of the
/// rule, for the parser and for [`crate::plan::Plan`].
pub fn exact_obstacle(
    model: &ModelSpec,
    noise: &NoiseLaw,
    sigma: f64,
    o: &OptimizerSpec,
) -> Option<String> {
    Some(if *model != ModelSpec::Quadratic {
        format!("model.kind = \"quadratic\" (got \"{}\")", model.kind())
    } else if !matches!(noise.law, Law::TwoPoint { .. } | Law::Discrete { .. }) {
        "noise.kind = \"two-point\" or \"discrete\" (a finite law, drawn independently each step)"
            .to_string()
    } else if o.rule != Rule::Sgd(optimizer::SgdSpec { expected: false }) {
        format!("optimizer.kind = \"sgd\" (got \"{}\")", o.kind())
    } else if sigma != 0.0 {
        format!("no injected noise (noise.injected_sigma = {})", num(sigma))
    } else if o.clip.is_some() {
        "no optimizer.clip (a box breaks the product of factors)".to_string()
    } else if o.weight_decay != 0.0 {
        format!(
            "no weight decay (optimizer.weight_decay = {})",
            num(o.weight_decay)
        )
    } else {
        return None;
    })
}

/// The message for [`exact_obstacle`]'s reason `why`.
pub fn exact_message(why: &str) -> String {
    format!(
        "\"exact\" draws w_t = w₀·Π(1 − λx̄) from its exact law, which needs {why}; use \
         mode = \"step\""
    )
}

fn parse_experiment(r: &Reader<'_>) -> R<Experiment> {
    r.only(&[
        "name",
        "description",
        "mode",
        "seed",
        "runs",
        "steps",
        "model",
        "noise",
        "init",
        "optimizer",
        "diffusion",
        "divergence",
        "observe",
        "sweep",
    ])?;
    let name = r.str("name")?.unwrap_or("experiment").to_string();
    let description = r.str("description")?.unwrap_or("").to_string();
    let seed = r.u64("seed")?.unwrap_or(0);
    let runs = r.req_u64("runs")?;
    if let Some(why) = runs_obstacle(runs) {
        return r.err("runs", why);
    }
    let steps = r.req_u64("steps")?;
    if let Some(why) = steps_obstacle(steps) {
        return r.err("steps", why);
    }
    let model = model::parse(&r.req_table("model")?)?;
    let d = model.dim();
    let empty = Table::new();
    let nr = r.req_table("noise")?;
    let (noise, injected_sigma) = noise::parse(&nr, &model)?;
    let init = parse_init(&r.table("init", &empty)?, &model)?;
    let optimizer = OptimizerSpec::parse(&r.req_table("optimizer")?)?;
    if let Some(why) = optimizer.sde().and(sde_obstacle(&model)) {
        return r.req_table("optimizer")?.err("kind", why);
    }
    let diffusion = if r.has("diffusion") {
        let dr = r.req_table("diffusion")?;
        if optimizer.sde().is_none() {
            return dr.err(
                "kind",
                "a [diffusion] table is used only with optimizer.kind = \"sde\"",
            );
        }
        diffusion::parse(&dr, &optimizer)?
    } else {
        DiffusionSpec::Minibatch
    };
    let dv = r.table("divergence", &empty)?;
    dv.only(&["bound"])?;
    // `inf` is allowed here: then only non-finite states diverge. The default 1e50 keeps
    // the losses of the built-in landscapes (degree ≤ 6 in w) finite for every run that
    // has not diverged.
    let bound = match dv.table.get("bound") {
        Some(Value::Float(f)) if *f == f64::INFINITY => f64::INFINITY,
        _ => dv.f64_or("bound", DEFAULT_BOUND)?,
    };
    if bound <= 0.0 {
        return dv.err("bound", format!("must be > 0 or inf (got {})", num(bound)));
    }
    let (observe, trace_points) = observe::parse(&r.table("observe", &empty)?, d, steps)?;
    let mode = match r.choice("mode", &["step", "exact"], Some("step"))?.as_str() {
        "exact" => Mode::Exact,
        _ => Mode::Step,
    };
    if mode == Mode::Exact {
        if let Some(why) = exact_obstacle(&model, &noise, injected_sigma, &optimizer) {
            return r.err("mode", exact_message(&why));
        }
    }
    let sweep = if r.has("sweep") {
        Some(grid::parse(&r.req_table("sweep")?)?)
    } else {
        None
    };
    Ok(Experiment {
        name,
        description,
        mode,
        seed,
        runs,
        steps,
        model,
        noise,
        injected_sigma,
        init,
        optimizer,
        bound,
        diffusion,
        observe,
        trace_points,
        sweep,
    })
}

/// A per-parameter list: one number applies to all parameters.
pub(super) fn per_param(r: &Reader<'_>, k: &str, d: usize, default: &[f64]) -> R<Vec<f64>> {
    match r.f64_list(k)? {
        None => Ok(default.to_vec()),
        Some(v) if v.len() == 1 => Ok(vec![v[0]; d]),
        Some(v) if v.len() == d => Ok(v),
        Some(v) => r.err(
            k,
            format!(
                "has {} values; give one, or one per parameter ({d})",
                v.len()
            ),
        ),
    }
}

fn parse_init(r: &Reader<'_>, model: &ModelSpec) -> R<Init> {
    let d = model.dim();
    let kind = r.choice("kind", &["uniform", "point"], Some("uniform"))?;
    if kind == "point" {
        r.only(&["kind", "w"])?;
        let w = per_param(r, "w", d, &[])?;
        if w.is_empty() {
            return r.err("w", format!("missing: the initial point ({d} values)"));
        }
        return Ok(Init::Point(w));
    }
    r.only(&["kind", "lo", "hi"])?;
    let (dlo, dhi) = if *model == ModelSpec::TinyNet {
        (vec![-1.0, 0.0], vec![1.0, 1.0])
    } else {
        (vec![-1.0; d], vec![1.0; d])
    };
    let lo = per_param(r, "lo", d, &dlo)?;
    let hi = per_param(r, "hi", d, &dhi)?;
    for i in 0..d {
        if lo[i] >= hi[i] {
            return r.err(
                "hi",
                format!(
                    "must be greater than lo for every parameter (w{}: lo = {}, hi = {})",
                    i + 1,
                    num(lo[i]),
                    num(hi[i])
                ),
            );
        }
    }
    Ok(Init::Uniform { lo, hi })
}
