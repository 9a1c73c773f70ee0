//! Experiment files: TOML text → a validated [`Experiment`].
//!
//! Unknown keys are rejected and every error names the key path, the bad value and what is
//! allowed. The reference for every key is `docs/experiment-files.md`. [`Experiment::to_toml`]
//! writes the fully resolved experiment (defaults filled in) back as TOML that parses to the
//! same experiment.

pub mod optimizer;
pub mod reader;

use crate::ensemble::{GradientSource, Init};
use crate::model::{formula::FormulaSpec, Field, Sample};
use crate::noise::{Law, NoiseLaw};
use crate::observe::{
    log_steps, EscapeSpec, Hist1dSpec, Hist2dSpec, ObserveSpec, MAX_HISTOGRAM_BINS,
    MAX_HISTOGRAM_STEPS, MAX_STEP_LIST,
};
use crate::sweep::{Axis, AxisValues, Grid};
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

/// A landscape (see [`crate::model`]).
#[derive(Clone, Debug)]
pub enum ModelSpec {
    /// Eq. 4.
    Quadratic,
    /// x w²/2 + b w⁴/4.
    Quartic {
        /// Quartic coefficient.
        b: f64,
    },
    /// Eq. 9.
    SharpFlat {
        /// a
        a: f64,
        /// b
        b: f64,
    },
    /// §6.5.
    TinyNet,
    /// A user formula.
    Formula(Box<FormulaSpec>),
}

impl PartialEq for ModelSpec {
    fn eq(&self, o: &Self) -> bool {
        match (self, o) {
            (ModelSpec::Formula(a), ModelSpec::Formula(b)) => {
                a.expr() == b.expr() && a.params() == b.params()
            }
            (ModelSpec::Quartic { b: x }, ModelSpec::Quartic { b: y }) => x == y,
            (ModelSpec::SharpFlat { a, b }, ModelSpec::SharpFlat { a: c, b: d }) => {
                a == c && b == d
            }
            _ => std::mem::discriminant(self) == std::mem::discriminant(o),
        }
    }
}

impl ModelSpec {
    /// Number of parameters.
    pub fn dim(&self) -> usize {
        match self {
            ModelSpec::Quadratic | ModelSpec::Quartic { .. } => 1,
            ModelSpec::SharpFlat { .. } | ModelSpec::TinyNet => 2,
            ModelSpec::Formula(f) => f.params(),
        }
    }
    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelSpec::Quadratic => "quadratic",
            ModelSpec::Quartic { .. } => "quartic",
            ModelSpec::SharpFlat { .. } => "sharp-flat",
            ModelSpec::TinyNet => "tiny-net",
            ModelSpec::Formula(_) => "formula",
        }
    }
}

/// Where the diffusion C(w) of an SDE comes from (`[diffusion]`, [`crate::sde::Diffusion`]).
#[derive(Clone, Debug)]
pub enum DiffusionSpec {
    /// The minibatch variance of the model and noise (Eqs 3, 49, 71).
    Minibatch,
    /// A formula in `w1`.
    Formula(Box<FormulaSpec>),
    /// Prop. 10: the C(w) that makes `target` (a formula in `w1`, not necessarily normalised)
    /// the stationary density on the box `optimizer.clip`.
    Designed {
        /// The target density p(w).
        target: Box<FormulaSpec>,
        /// The integration constant c₀ of Eq. 117 (None: the smallest that keeps C ≥ 0).
        c0: Option<f64>,
        /// Grid cells on which ∫p dL is tabulated.
        cells: usize,
    },
}

impl PartialEq for DiffusionSpec {
    fn eq(&self, o: &Self) -> bool {
        match (self, o) {
            (DiffusionSpec::Minibatch, DiffusionSpec::Minibatch) => true,
            (DiffusionSpec::Formula(a), DiffusionSpec::Formula(b)) => a.expr() == b.expr(),
            (
                DiffusionSpec::Designed { target, c0, cells },
                DiffusionSpec::Designed {
                    target: t,
                    c0: c,
                    cells: n,
                },
            ) => target.expr() == t.expr() && c0 == c && cells == n,
            _ => false,
        }
    }
}

impl DiffusionSpec {
    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            DiffusionSpec::Minibatch => "minibatch",
            DiffusionSpec::Formula(_) => "formula",
            DiffusionSpec::Designed { .. } => "designed",
        }
    }
}

/// Default number of grid cells for designed noise.
pub const DEFAULT_DESIGN_CELLS: usize = 4096;

/// How the runs of an experiment are simulated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Step by step (every optimizer, model and noise).
    #[default]
    Step,
    /// The state at each record step drawn from its exact law, without stepping
    /// ([`crate::exact`]): SGD on the quadratic with a finite noise law, no injected noise and
    /// no box.
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

        let mut m = Table::new();
        m.insert("kind".into(), self.model.kind().into());
        match &self.model {
            ModelSpec::Quartic { b } => {
                m.insert("b".into(), (*b).into());
            }
            ModelSpec::SharpFlat { a, b } => {
                m.insert("a".into(), (*a).into());
                m.insert("b".into(), (*b).into());
            }
            ModelSpec::Formula(f) => {
                m.insert("loss".into(), f.expr().into());
                m.insert("params".into(), int(f.params() as u64));
            }
            _ => {}
        }
        t.insert("model".into(), m.into());

        let mut n = Table::new();
        match &self.noise.law {
            Law::TwoPoint { a } => {
                n.insert("kind".into(), "two-point".into());
                n.insert("a".into(), (*a).into());
            }
            Law::Discrete { values, probs } => {
                n.insert("kind".into(), "discrete".into());
                n.insert("values".into(), floats(values));
                n.insert("probs".into(), floats(probs));
            }
            Law::Gaussian { mean, std } => {
                n.insert("kind".into(), "gaussian".into());
                n.insert("mean".into(), (*mean).into());
                n.insert("std".into(), (*std).into());
            }
            Law::Uniform { lo, hi } => {
                n.insert("kind".into(), "uniform".into());
                n.insert("lo".into(), (*lo).into());
                n.insert("hi".into(), (*hi).into());
            }
            Law::Dataset {
                samples,
                replacement,
            } => {
                n.insert("kind".into(), "dataset".into());
                n.insert(
                    "x".into(),
                    floats(&samples.iter().map(|s| s.x).collect::<Vec<_>>()),
                );
                n.insert(
                    "y".into(),
                    floats(&samples.iter().map(|s| s.y).collect::<Vec<_>>()),
                );
                n.insert("replacement".into(), (*replacement).into());
            }
        }
        if !matches!(self.noise.law, Law::Dataset { .. }) {
            let f = if self.noise.field == Field::X {
                "x"
            } else {
                "y"
            };
            n.insert("field".into(), f.into());
        }
        n.insert("batch".into(), int(self.noise.batch as u64));
        n.insert("injected_sigma".into(), self.injected_sigma.into());
        t.insert("noise".into(), n.into());

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
            let mut dt = Table::new();
            dt.insert("kind".into(), self.diffusion.kind().into());
            match &self.diffusion {
                DiffusionSpec::Formula(f) => {
                    dt.insert("c".into(), f.expr().into());
                }
                DiffusionSpec::Designed { target, c0, cells } => {
                    dt.insert("target".into(), target.expr().into());
                    if let Some(c0) = c0 {
                        dt.insert("c0".into(), (*c0).into());
                    }
                    dt.insert("cells".into(), int(*cells as u64));
                }
                DiffusionSpec::Minibatch => {}
            }
            t.insert("diffusion".into(), dt.into());
        }

        let mut dv = Table::new();
        dv.insert("bound".into(), self.bound.into());
        t.insert("divergence".into(), dv.into());

        let ob = &self.observe;
        let mut obt = Table::new();
        obt.insert("trace".into(), int(self.trace_points as u64));
        obt.insert("final_states".into(), ob.final_states.into());
        if !ob.escape_rate_steps.is_empty() {
            obt.insert("escape_rate_steps".into(), ints(&ob.escape_rate_steps));
        }
        if let Some(e) = &ob.escape {
            let mut et = Table::new();
            et.insert("delta".into(), e.delta.into());
            et.insert("center".into(), floats(&e.center));
            obt.insert("escape".into(), et.into());
        }
        let h1: Vec<Value> = ob
            .histograms
            .iter()
            .map(|h| {
                let mut ht = Table::new();
                ht.insert("param".into(), int(h.param as u64 + 1));
                ht.insert("lo".into(), h.lo.into());
                ht.insert("hi".into(), h.hi.into());
                ht.insert("bins".into(), int(h.bins as u64));
                ht.insert("steps".into(), ints(&h.steps));
                ht.into()
            })
            .collect();
        if !h1.is_empty() {
            obt.insert("histogram".into(), Value::Array(h1));
        }
        let h2: Vec<Value> = ob
            .histograms2d
            .iter()
            .map(|h| {
                let mut ht = Table::new();
                ht.insert(
                    "params".into(),
                    ints(&[h.params[0] as u64 + 1, h.params[1] as u64 + 1]),
                );
                ht.insert("lo".into(), floats(&h.lo));
                ht.insert("hi".into(), floats(&h.hi));
                ht.insert("bins".into(), ints(&[h.bins[0] as u64, h.bins[1] as u64]));
                ht.insert("steps".into(), ints(&h.steps));
                ht.into()
            })
            .collect();
        if !h2.is_empty() {
            obt.insert("histogram2d".into(), Value::Array(h2));
        }
        t.insert("observe".into(), obt.into());

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

/// Write a table as TOML. The `toml` crate writes floats in positional notation (1e50 as a
/// 51-digit literal); this writer uses the shortest round-trip form with an exponent where
/// that is shorter, which TOML accepts as well.
fn emit_table(t: &Table, prefix: &str, out: &mut String) {
    use std::fmt::Write as _;
    let path = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    let is_tables =
        |v: &Value| matches!(v, Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_table));
    for (k, v) in t {
        if !v.is_table() && !is_tables(v) {
            let _ = writeln!(out, "{k} = {}", emit_value(v));
        }
    }
    for (k, v) in t {
        if let Value::Table(sub) = v {
            let _ = writeln!(out, "\n[{}]", path(k));
            emit_table(sub, &path(k), out);
        }
    }
    for (k, v) in t {
        if let (true, Value::Array(items)) = (is_tables(v), v) {
            for item in items {
                let _ = writeln!(out, "\n[[{}]]", path(k));
                emit_table(item.as_table().expect("checked"), &path(k), out);
            }
        }
    }
}

fn emit_value(v: &Value) -> String {
    match v {
        Value::Float(f) if f.is_nan() => "nan".into(),
        Value::Float(f) => format!("{f:?}"),
        Value::Array(a) => {
            format!(
                "[{}]",
                a.iter().map(emit_value).collect::<Vec<_>>().join(", ")
            )
        }
        Value::Table(t) => {
            let items: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k} = {}", emit_value(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// A validated count or seed as a TOML integer. Validation keeps them at most i64::MAX (a TOML
/// file cannot hold more), so the saturation never happens; it only rules out wrapping.
pub(crate) fn int(x: u64) -> Value {
    Value::Integer(i64::try_from(x).unwrap_or(i64::MAX))
}
pub(crate) fn floats(v: &[f64]) -> Value {
    Value::Array(v.iter().map(|x| Value::Float(*x)).collect())
}
fn ints(v: &[u64]) -> Value {
    Value::Array(v.iter().map(|x| int(*x)).collect())
}

/// Parse TOML text into a table. The error is the parser's own message (line, column, the
/// line with a caret), except that a line longer than 200 characters is shown as the
/// [`ECHO_CHARS`] characters on each side of the error.
pub fn parse_table(text: &str) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|e| {
        let full = e.to_string().trim_end().to_string();
        if full.lines().all(|l| l.chars().count() <= 200) {
            return ConfigError::Syntax(full);
        }
        let at = e.span().map_or(0, |s| s.start).min(text.len());
        let at = (0..=at).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let line_no = text[..at].matches('\n').count() + 1;
        let before: Vec<char> = text[line_start..at].chars().collect();
        let column = before.len() + 1;
        let shown_before: String = before[before.len().saturating_sub(ECHO_CHARS)..]
            .iter()
            .collect();
        let after: String = text[at..line_end].chars().take(ECHO_CHARS).collect();
        let lead = if before.len() > ECHO_CHARS { "…" } else { "" };
        let tail = if text[at..line_end].chars().count() > ECHO_CHARS {
            "…"
        } else {
            ""
        };
        ConfigError::Syntax(format!(
            "TOML parse error at line {line_no}, column {column}: {}\n  {lead}{shown_before}{after}{tail}\n  {}^",
            e.message().trim_end(),
            " ".repeat(lead.chars().count() + shown_before.chars().count())
        ))
    })
}

/// Set `path` (dot-separated) to `value` in `t`, creating tables on the way.
pub fn set_path(t: &mut Table, path: &str, value: Value) -> Result<(), ConfigError> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ConfigError::Invalid {
            path: path.into(),
            msg: "empty key in path".into(),
        });
    }
    let mut cur = t;
    for (i, p) in parts[..parts.len() - 1].iter().enumerate() {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        cur = match entry {
            Value::Table(t) => t,
            other => {
                return Err(ConfigError::Invalid {
                    path: parts[..=i].join("."),
                    msg: format!(
                        "is {}, not a table, so `{}` cannot be set",
                        show(other),
                        echo(path)
                    ),
                })
            }
        };
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// Parse an override `path=value`: the value is read as a TOML value (number, boolean,
/// array, quoted string) and, failing that, taken as a bare string.
pub fn parse_override(s: &str) -> Result<(String, Value), ConfigError> {
    let (path, raw) = s
        .split_once('=')
        .ok_or_else(|| ConfigError::Override(s.into()))?;
    let (path, raw) = (path.trim(), raw.trim());
    if path.is_empty() || raw.is_empty() {
        return Err(ConfigError::Override(s.into()));
    }
    let value = format!("v = {raw}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_string()));
    Ok((path.to_string(), value))
}

/// Default divergence bound.
pub const DEFAULT_BOUND: f64 = 1e50;

const MODEL_KINDS: [&str; 5] = ["quadratic", "quartic", "sharp-flat", "tiny-net", "formula"];
const NOISE_KINDS: [&str; 5] = ["two-point", "discrete", "gaussian", "uniform", "dataset"];

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

/// Why the SDE (Eq. 49) cannot serve a model, if it cannot: it is one-dimensional.
pub fn sde_obstacle(model: &ModelSpec) -> Option<String> {
    (model.dim() != 1).then(|| {
        format!(
            "\"sde\" (Eq. 49) is one-dimensional; model `{}` has {} parameters",
            model.kind(),
            model.dim()
        )
    })
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
    if runs == 0 || runs > u32::MAX as u64 {
        return r.err(
            "runs",
            format!("must be between 1 and {} (got {runs})", u32::MAX),
        );
    }
    let steps = r.req_u64("steps")?;
    if steps == 0 {
        return r.err("steps", "must be at least 1 (got 0)");
    }
    let model = parse_model(&r.req_table("model")?)?;
    let d = model.dim();
    let empty = Table::new();
    let nr = r.req_table("noise")?;
    let (noise, injected_sigma) = parse_noise(&nr, &model)?;
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
        parse_diffusion(&dr, &optimizer)?
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
    let (observe, trace_points) = parse_observe(&r.table("observe", &empty)?, d, steps)?;
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
        Some(parse_sweep(&r.req_table("sweep")?)?)
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

fn parse_model(r: &Reader<'_>) -> R<ModelSpec> {
    let kind = r.choice("kind", &MODEL_KINDS, None)?;
    Ok(match kind.as_str() {
        "quadratic" => {
            r.only(&["kind"])?;
            ModelSpec::Quadratic
        }
        "quartic" => {
            r.only(&["kind", "b"])?;
            ModelSpec::Quartic {
                b: r.f64_or("b", 1.0)?,
            }
        }
        "sharp-flat" => {
            r.only(&["kind", "a", "b"])?;
            ModelSpec::SharpFlat {
                a: r.f64_or("a", 0.5)?,
                b: r.f64_or("b", 14.0)?,
            }
        }
        "tiny-net" => {
            r.only(&["kind"])?;
            ModelSpec::TinyNet
        }
        _ => {
            r.only(&["kind", "loss", "params"])?;
            let expr = match r.str("loss")? {
                Some(s) => s,
                None => return r.err("loss", "missing: the loss as a formula in w1..wd, x, y"),
            };
            let params = r.req_u64("params")? as usize;
            match FormulaSpec::parse(expr, params) {
                Ok(f) => ModelSpec::Formula(Box::new(f)),
                Err(e) => {
                    let key = if matches!(e, crate::model::formula::FormulaError::BadParams { .. })
                    {
                        "params"
                    } else {
                        "loss"
                    };
                    return r.err(key, e.to_string());
                }
            }
        }
    })
}

fn parse_noise(r: &Reader<'_>, model: &ModelSpec) -> R<(NoiseLaw, f64)> {
    let kind = r.choice("kind", &NOISE_KINDS, None)?;
    let common = ["kind", "batch", "field", "injected_sigma"];
    let allowed: Vec<&str> = match kind.as_str() {
        "two-point" => vec!["a"],
        "discrete" => vec!["values", "probs"],
        "gaussian" => vec!["mean", "std"],
        "uniform" => vec!["lo", "hi"],
        _ => vec!["x", "y", "replacement"],
    };
    let mut all: Vec<&str> = common.to_vec();
    all.extend(&allowed);
    if kind == "dataset" {
        all.retain(|k| *k != "field");
    }
    r.only(&all)?;
    let law = match kind.as_str() {
        "two-point" => Law::TwoPoint { a: r.req_f64("a")? },
        "discrete" => {
            let values = r
                .f64_list("values")?
                .map_or_else(|| r.err("values", "missing"), Ok)?;
            if values.is_empty() {
                return r.err("values", "must not be empty");
            }
            let probs = match r.f64_list("probs")? {
                Some(p) => p,
                None => vec![1.0 / values.len() as f64; values.len()],
            };
            if probs.len() != values.len() {
                return r.err(
                    "probs",
                    format!(
                        "has {} entries but values has {}",
                        probs.len(),
                        values.len()
                    ),
                );
            }
            if let Some(p) = probs.iter().find(|p| **p < 0.0) {
                return r.err(
                    "probs",
                    format!("probabilities must be >= 0 (got {})", num(*p)),
                );
            }
            let sum: f64 = probs.iter().sum();
            if (sum - 1.0).abs() > 1e-9 {
                return r.err(
                    "probs",
                    format!("probabilities must sum to 1 (got {})", num(sum)),
                );
            }
            Law::Discrete { values, probs }
        }
        "gaussian" => {
            let std = r.req_f64("std")?;
            if std < 0.0 {
                return r.err("std", format!("must be >= 0 (got {})", num(std)));
            }
            Law::Gaussian {
                mean: r.f64_or("mean", 0.0)?,
                std,
            }
        }
        "uniform" => {
            let (lo, hi) = (r.req_f64("lo")?, r.req_f64("hi")?);
            if lo >= hi {
                return r.err(
                    "hi",
                    format!(
                        "must be greater than lo (got lo = {}, hi = {})",
                        num(lo),
                        num(hi)
                    ),
                );
            }
            Law::Uniform { lo, hi }
        }
        _ => {
            let xs = r.f64_list("x")?;
            let ys = r.f64_list("y")?;
            let n = xs.as_ref().or(ys.as_ref()).map(|v| v.len()).unwrap_or(0);
            if n == 0 {
                return r.err("x", "a dataset needs a non-empty list `x` (and/or `y`)");
            }
            if let (Some(x), Some(y)) = (&xs, &ys) {
                if x.len() != y.len() {
                    return r.err(
                        "y",
                        format!("has {} entries but x has {}", y.len(), x.len()),
                    );
                }
            }
            let d = Sample::default();
            let samples = (0..n)
                .map(|i| Sample {
                    x: xs.as_ref().map_or(d.x, |v| v[i]),
                    y: ys.as_ref().map_or(d.y, |v| v[i]),
                })
                .collect();
            Law::Dataset {
                samples,
                replacement: r.bool_or("replacement", true)?,
            }
        }
    };
    let default_field = if *model == ModelSpec::TinyNet {
        "y"
    } else {
        "x"
    };
    let field = if r.choice("field", &["x", "y"], Some(default_field))? == "x" {
        Field::X
    } else {
        Field::Y
    };
    let batch = r.u64("batch")?.unwrap_or(1);
    if batch == 0 || batch > 1_000_000 {
        return r.err(
            "batch",
            format!("must be between 1 and 1000000 (got {batch})"),
        );
    }
    let sigma = r.f64_or("injected_sigma", 0.0)?;
    if sigma < 0.0 {
        return r.err(
            "injected_sigma",
            format!("must be >= 0 (got {})", num(sigma)),
        );
    }
    Ok((
        NoiseLaw {
            law,
            field,
            batch: batch as usize,
        },
        sigma,
    ))
}

/// A per-parameter list: one number applies to all parameters.
fn per_param(r: &Reader<'_>, k: &str, d: usize, default: &[f64]) -> R<Vec<f64>> {
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

fn parse_diffusion(r: &Reader<'_>, o: &OptimizerSpec) -> R<DiffusionSpec> {
    let kind = r.choice(
        "kind",
        &["minibatch", "formula", "designed"],
        Some("minibatch"),
    )?;
    let formula = |k: &str, what: &str| -> R<Box<FormulaSpec>> {
        let expr = match r.str(k)? {
            Some(s) => s,
            None => return r.err(k, format!("missing: {what} as a formula in w1")),
        };
        match FormulaSpec::parse(expr, 1) {
            Ok(f) if f.uses_x() || f.uses_y() => {
                r.err(k, "must be a formula in w1 only (no x or y)")
            }
            Ok(f) => Ok(Box::new(f)),
            Err(e) => r.err(k, e.to_string()),
        }
    };
    Ok(match kind.as_str() {
        "minibatch" => {
            r.only(&["kind"])?;
            DiffusionSpec::Minibatch
        }
        "formula" => {
            r.only(&["kind", "c"])?;
            DiffusionSpec::Formula(formula("c", "C(w)")?)
        }
        _ => {
            r.only(&["kind", "target", "c0", "cells"])?;
            let target = formula("target", "the target density p(w)")?;
            if o.clip.is_none() {
                return r.err(
                    "kind",
                    "designed noise lives on a box: give optimizer.clip = [lo, hi], the domain of the target density",
                );
            }
            let cells = r.u64("cells")?.unwrap_or(DEFAULT_DESIGN_CELLS as u64);
            if !(16..=10_000_000).contains(&cells) {
                return r.err(
                    "cells",
                    format!("must be between 16 and 10000000 (got {cells})"),
                );
            }
            DiffusionSpec::Designed {
                target,
                c0: r.f64("c0")?,
                cells: cells as usize,
            }
        }
    })
}

fn check_steps(
    r: &Reader<'_>,
    k: &str,
    steps: &[u64],
    t_max: u64,
    allow_zero: bool,
) -> R<Vec<u64>> {
    let mut s = steps.to_vec();
    for &t in &s {
        if t > t_max || (!allow_zero && t == 0) {
            let lo = if allow_zero { 0 } else { 1 };
            return r.err(
                k,
                format!("step {t} is outside {lo}..={t_max} (steps = {t_max})"),
            );
        }
    }
    s.sort_unstable();
    s.dedup();
    Ok(s)
}

fn range(r: &Reader<'_>, lo: f64, hi: f64) -> R<()> {
    if lo >= hi {
        return r.err(
            "hi",
            format!(
                "must be greater than lo (got lo = {}, hi = {})",
                num(lo),
                num(hi)
            ),
        );
    }
    Ok(())
}

fn param_index(r: &Reader<'_>, k: &str, p: u64, d: usize) -> R<usize> {
    if p == 0 || p as usize > d {
        return r.err(
            k,
            format!("parameter {p} does not exist; the model has w1..w{d} (use 1..={d})"),
        );
    }
    Ok(p as usize - 1)
}

fn bins(r: &Reader<'_>, k: &str, b: u64) -> R<usize> {
    if b == 0 || b > 100_000 {
        return r.err(k, format!("must be between 1 and 100000 (got {b})"));
    }
    Ok(b as usize)
}

/// The bins and (histogram, step) pairs of the histograms read so far, against
/// [`MAX_HISTOGRAM_BINS`] and [`MAX_HISTOGRAM_STEPS`].
#[derive(Default)]
struct HistogramSize {
    bins: u64,
    steps: u64,
}

impl HistogramSize {
    /// Count a histogram with `bins` bins at `steps` steps; an error at its `steps` or `bins`
    /// key if the total goes over a limit.
    fn add(&mut self, h: &Reader<'_>, bins: u64, steps: u64) -> R<()> {
        self.steps += steps;
        if self.steps > MAX_HISTOGRAM_STEPS {
            return h.err(
                "steps",
                format!(
                    "{steps} steps bring the histograms to {} snapshots (steps summed over every \
                     histogram); at most {MAX_HISTOGRAM_STEPS} are allowed",
                    self.steps
                ),
            );
        }
        self.bins = self.bins.saturating_add(bins.saturating_mul(steps));
        if self.bins > MAX_HISTOGRAM_BINS {
            return h.err(
                "bins",
                format!(
                    "{bins} bins at {steps} steps bring the histograms to {} bins (bins × \
                     steps, summed over every histogram, 2-D bins counted as bins₁ × bins₂); \
                     at most {MAX_HISTOGRAM_BINS} are allowed",
                    self.bins
                ),
            );
        }
        Ok(())
    }
}

fn parse_observe(r: &Reader<'_>, d: usize, t_max: u64) -> R<(ObserveSpec, usize)> {
    r.only(&[
        "trace",
        "escape",
        "escape_rate_steps",
        "final_states",
        "histogram",
        "histogram2d",
    ])?;
    let trace = r.u64("trace")?.unwrap_or(0);
    if trace > MAX_STEP_LIST {
        return r.err(
            "trace",
            format!("at most {MAX_STEP_LIST} points (got {trace})"),
        );
    }
    let escape_rate_steps = match r.u64_list("escape_rate_steps")? {
        Some(s) => check_steps(r, "escape_rate_steps", &s, t_max, false)?,
        None => vec![],
    };
    if escape_rate_steps.len() as u64 > MAX_STEP_LIST {
        return r.err(
            "escape_rate_steps",
            format!(
                "at most {MAX_STEP_LIST} distinct steps (got {}): each is a record step of \
                 every run",
                escape_rate_steps.len()
            ),
        );
    }
    // What the histograms hold together (`ObserveSpec::check_size`), checked table by table
    // so the error names the one that goes over.
    let mut size = HistogramSize::default();
    let escape = if r.has("escape") {
        let empty = Table::new();
        let e = r.table("escape", &empty)?;
        e.only(&["delta", "center"])?;
        let delta = e.req_f64("delta")?;
        if delta <= 0.0 {
            return e.err("delta", format!("must be > 0 (got {})", num(delta)));
        }
        Some(EscapeSpec {
            delta,
            center: per_param(&e, "center", d, &vec![0.0; d])?,
        })
    } else {
        None
    };
    let mut histograms = vec![];
    for h in r.tables("histogram")? {
        h.only(&["param", "lo", "hi", "bins", "steps"])?;
        let param = param_index(&h, "param", h.u64("param")?.unwrap_or(1), d)?;
        let (lo, hi) = (h.req_f64("lo")?, h.req_f64("hi")?);
        range(&h, lo, hi)?;
        let bins = bins(&h, "bins", h.u64("bins")?.unwrap_or(50))?;
        let steps = check_steps(
            &h,
            "steps",
            &h.u64_list("steps")?.unwrap_or(vec![t_max]),
            t_max,
            true,
        )?;
        size.add(&h, bins as u64, steps.len() as u64)?;
        histograms.push(Hist1dSpec {
            param,
            lo,
            hi,
            bins,
            steps,
        });
    }
    let mut histograms2d = vec![];
    for h in r.tables("histogram2d")? {
        h.only(&["params", "lo", "hi", "bins", "steps"])?;
        if d < 2 {
            return h.err(
                "params",
                format!(
                    "a 2-D histogram needs a model with two or more parameters (this one has {d})"
                ),
            );
        }
        let ps = h.u64_list("params")?.unwrap_or(vec![1, 2]);
        if ps.len() != 2 || ps[0] == ps[1] {
            return h.err(
                "params",
                format!(
                    "must be two different parameters, e.g. [1, 2] (got {})",
                    show(&ints(&ps))
                ),
            );
        }
        let params = [
            param_index(&h, "params", ps[0], d)?,
            param_index(&h, "params", ps[1], d)?,
        ];
        let two = |k: &str| -> R<[f64; 2]> {
            match h.f64_list(k)? {
                Some(v) if v.len() == 1 => Ok([v[0], v[0]]),
                Some(v) if v.len() == 2 => Ok([v[0], v[1]]),
                Some(v) => h.err(
                    k,
                    format!("must be one number or two (got {} values)", v.len()),
                ),
                None => h.err(k, "missing (one number, or one per axis)"),
            }
        };
        let (lo, hi) = (two("lo")?, two("hi")?);
        for a in 0..2 {
            range(&h, lo[a], hi[a])?;
        }
        let b = h.u64_list("bins")?.unwrap_or(vec![50, 50]);
        let b = match b.len() {
            1 => [b[0], b[0]],
            2 => [b[0], b[1]],
            n => {
                return h.err(
                    "bins",
                    format!("must be one integer or two (got {n} values)"),
                )
            }
        };
        let bins = [bins(&h, "bins", b[0])?, bins(&h, "bins", b[1])?];
        let steps = check_steps(
            &h,
            "steps",
            &h.u64_list("steps")?.unwrap_or(vec![t_max]),
            t_max,
            true,
        )?;
        size.add(&h, bins[0] as u64 * bins[1] as u64, steps.len() as u64)?;
        histograms2d.push(Hist2dSpec {
            params,
            lo,
            hi,
            bins,
            steps,
        });
    }
    let spec = ObserveSpec {
        histograms,
        histograms2d,
        trace_steps: log_steps(t_max, trace as usize),
        escape,
        escape_rate_steps,
        final_states: r.bool_or("final_states", false)?,
    };
    Ok((spec, trace as usize))
}

fn parse_sweep(r: &Reader<'_>) -> R<Grid> {
    r.only(&["axis"])?;
    let mut axes = vec![];
    let readers = r.tables("axis")?;
    if readers.is_empty() {
        return r.err("axis", "a sweep needs at least one [[sweep.axis]]");
    }
    for a in readers {
        a.only(&["path", "linspace", "logspace", "values"])?;
        let path = match a.str("path")? {
            Some(p) if !p.is_empty() && !p.starts_with("sweep") => p.to_string(),
            Some(p) => return a.err("path", format!("cannot sweep {p:?}")),
            None => return a.err("path", "missing: the key to vary, e.g. \"optimizer.lr\""),
        };
        let given: Vec<&str> = ["linspace", "logspace", "values"]
            .into_iter()
            .filter(|k| a.has(k))
            .collect();
        if given.len() != 1 {
            return a.err("path", "give exactly one of linspace = [lo, hi, n], logspace = [lo, hi, n], values = [...]");
        }
        let k = given[0];
        let v = a.f64_list(k)?.unwrap_or_default();
        let values = if k == "values" {
            if v.is_empty() {
                return a.err(k, "must not be empty");
            }
            AxisValues::List(v)
        } else {
            if v.len() != 3 {
                return a.err(k, format!("must be [lo, hi, n] (got {} values)", v.len()));
            }
            let (lo, hi, n) = (v[0], v[1], v[2]);
            if n < 1.0 || n.fract() != 0.0 || n > 1e7 {
                return a.err(
                    k,
                    format!(
                        "n must be a whole number between 1 and 10^7 (got {})",
                        num(n)
                    ),
                );
            }
            if lo >= hi {
                return a.err(
                    k,
                    format!("needs lo < hi (got lo = {}, hi = {})", num(lo), num(hi)),
                );
            }
            if k == "logspace" {
                if lo <= 0.0 {
                    return a.err(k, format!("needs lo > 0 (got {})", num(lo)));
                }
                AxisValues::Logspace {
                    lo,
                    hi,
                    n: n as usize,
                }
            } else {
                AxisValues::Linspace {
                    lo,
                    hi,
                    n: n as usize,
                }
            }
        };
        axes.push(Axis { path, values });
    }
    let grid = Grid { axes };
    // Checked before anything allocates per cell: Π n_a wraps around in usize for large axes.
    match grid.checked_len() {
        Some(n) if n <= crate::sweep::MAX_CELLS => Ok(grid),
        _ => {
            let factors: Vec<String> = grid
                .axes
                .iter()
                .map(|a| format!("{} ({})", a.values.len(), a.path))
                .collect();
            let product = grid
                .axes
                .iter()
                .try_fold(1u128, |p, a| p.checked_mul(a.values.len() as u128))
                .map_or_else(|| "more than 2^128".to_string(), |p| p.to_string());
            r.err(
                "axis",
                format!(
                    "the grid has {} = {product} cells; at most {} (2^20) cells are allowed: use fewer values per axis or split the sweep into several files",
                    factors.join(" × "),
                    crate::sweep::MAX_CELLS
                ),
            )
        }
    }
}
