//! `saddle theory <command>`: the paper's closed forms and numerical theory (`saddle::theory`),
//! printed as a table or, with `--json`, as one JSON document (schemas: docs/theory.md).
//!
//! Every command takes its inputs from flags, from an experiment file, or both (flags win):
//! the noise law comes from `--a` (two-point), `--noise` (any law, as an inline TOML table) or
//! the file's `[noise]`, and is validated by the same rules as experiment files, so errors name
//! the key (`noise.std: must be >= 0`). Bad input exits with status 2.

use crate::input::InputError;
use crate::progress;
use anyhow::Result;
use clap::{Args, Subcommand};
use rayon::prelude::*;
use saddle::analysis::escape::{escape_init, simulated_escape, Simulated};
use saddle::analysis::inputs::two_point_a;
use saddle::analysis::stationary::{closed_form, stationary_density_for, ClosedForm};
use saddle::analysis::transient::{
    compare_transient, fokker_planck_for, histogram_times, initial_law, FpComparison,
};
use saddle::analysis::{time_per_step, AnalysisError};
use saddle::config::{num, parse_table, set_path, Experiment};
use saddle::theory::escape_probability::{escape_probability, EscapeProbability};
use saddle::theory::escape_rate::{
    numeric_optimum, slow_escape, two_point_optimum, OptimalEscape, SlowEscape, DEFAULT_LR_MAX,
};
use saddle::theory::fokker_planck::{Scheme, Transient};
use saddle::theory::log_moments::{log_moments, two_point_mu, LogMoments};
use saddle::theory::phase::{numeric_phase, two_point_phase, PhaseDiagram};
use saddle::theory::stationary::{stationary_density, StationaryDensity};
use saddle::theory::{amsgrad, kesten, sharp_flat, TheoryError};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use toml::{Table, Value};

/// Where the noise law (and defaults for the other inputs) come from.
#[derive(Args, Debug, Clone)]
pub struct Source {
    /// Experiment file to take the noise, learning rate, steps, init… from (flags override it)
    pub file: Option<PathBuf>,
    /// Override a key of the file, e.g. --set noise.a=-0.5 (repeatable)
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Two-point noise x ∈ {1, a − 1}, probability ½ each (the paper's)
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "A",
        conflicts_with = "noise"
    )]
    pub a: Option<f64>,
    /// Any noise law as an inline TOML table, e.g. '{kind = "gaussian", mean = -0.5, std = 1.5}'
    #[arg(long, value_name = "TABLE")]
    pub noise: Option<String>,
    /// Minibatch size S
    #[arg(long, value_name = "S")]
    pub batch: Option<u64>,
}

/// Output format.
#[derive(Args, Debug, Clone, Copy)]
pub struct Format {
    /// Print one JSON document instead of a table (schema: docs/theory.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum TheoryCommand {
    /// μ(λ) = E ln|1 − λx̄| and s²(λ) = Var ln|1 − λx̄| (Lemma 1, Eq. 83)
    Mu {
        #[command(flatten)]
        src: Source,
        /// Learning rates (comma-separated; default: the file's optimizer.lr)
        #[arg(
            long,
            value_delimiter = ',',
            value_name = "LR,...",
            allow_negative_numbers = true
        )]
        lr: Vec<f64>,
        #[command(flatten)]
        fmt: Format,
    },
    /// Roots in λ of μ(λ) = 0 and the phases between them (Prop. 2, Eq. 7 / 85–87)
    PhaseBoundary {
        #[command(flatten)]
        src: Source,
        /// Learning-rate range LO,HI
        #[arg(
            long,
            value_name = "LO,HI",
            default_value = "0,2",
            allow_hyphen_values = true
        )]
        range: String,
        /// Vary a noise key over a grid, e.g. --vary noise.a=-1,1,64 (the line of Figs 3, 7)
        #[arg(long, value_name = "PATH=LO,HI,N", allow_hyphen_values = true)]
        vary: Option<String>,
        /// Scan points for the numeric roots
        #[arg(long, default_value_t = 4000)]
        grid: usize,
        #[command(flatten)]
        fmt: Format,
    },
    /// Escape rate γ(λ) = μ(λ), the optimum λ*, γ* (Prop. 3, Eqs 88–91)
    EscapeRate {
        #[command(flatten)]
        src: Source,
        /// Learning rates at which to evaluate γ (comma-separated)
        #[arg(
            long,
            value_delimiter = ',',
            value_name = "LR,...",
            allow_negative_numbers = true
        )]
        lr: Vec<f64>,
        /// Largest learning rate for the optimum (Theorem 1 assumes λ ≤ 1)
        #[arg(long, default_value_t = DEFAULT_LR_MAX, allow_negative_numbers = true)]
        lr_max: f64,
        /// Also give Eq. 91's |a| bound for γ* ≤ ε
        #[arg(long, value_name = "EPS", allow_negative_numbers = true)]
        epsilon: Option<f64>,
        #[command(flatten)]
        fmt: Format,
    },
    /// Exact P(|w_t| ≥ δ) for the quadratic with discrete noise, and Lemma 1's log-normal
    /// approximation (Eqs 79–80)
    EscapeProbability {
        #[command(flatten)]
        src: Source,
        /// Learning rate (default: the file's)
        #[arg(long, allow_negative_numbers = true)]
        lr: Option<f64>,
        /// Steps t (default: the file's steps)
        #[arg(long)]
        steps: Option<u64>,
        /// Threshold δ (default: the file's observe.escape.delta)
        #[arg(long, allow_negative_numbers = true)]
        delta: Option<f64>,
        /// Start every run at w₀ (default: the file's init, or U[−1, 1])
        #[arg(long, allow_negative_numbers = true)]
        w0: Option<f64>,
        /// Also simulate the ensemble (the file's runs and seed) and report its escape fraction
        #[arg(long)]
        simulate: bool,
        #[command(flatten)]
        fmt: Format,
    },
    /// The sharp-flat landscape: minima, sharpness and Prop. 4's learning-rate bound (Eqs 9–11,
    /// 95–99)
    SharpFlat {
        /// The asymmetry a > 0
        #[arg(long, allow_negative_numbers = true, default_value_t = 0.5)]
        a: f64,
        /// Learning rate (b = 1/λ − 6, contraction factors of Eq. 97)
        #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
        lr: f64,
        #[command(flatten)]
        fmt: Format,
    },
    /// Prop. 5: the interval of λ/√c in which AMSGrad is trapped (Eqs 113–115)
    Amsgrad {
        /// The two-point parameter a (< 1)
        #[arg(long, allow_negative_numbers = true, default_value_t = -0.1)]
        a: f64,
        /// Learning rate λ (gives the trapping range of c = lim v̂)
        #[arg(long, allow_negative_numbers = true)]
        lr: Option<f64>,
        #[command(flatten)]
        fmt: Format,
    },
    /// Tail exponent κ of SGD with additive noise: E|1 − λx̄|^κ = 1 (Kesten–Goldie)
    TailExponent {
        #[command(flatten)]
        src: Source,
        /// Learning rate (default: the file's)
        #[arg(long, allow_negative_numbers = true)]
        lr: Option<f64>,
        #[command(flatten)]
        fmt: Format,
    },
    /// Stationary density of the 1-D Fokker–Planck equation (Eq. 57), with the closed forms of
    /// Eqs 63, 65, 68, 76 where they apply
    Stationary {
        #[command(flatten)]
        exp: crate::ExpArgs,
        /// Domain LO,HI (default: optimizer.clip, else the first histogram's range)
        #[arg(long, value_name = "LO,HI", allow_hyphen_values = true)]
        range: Option<String>,
        /// Grid cells
        #[arg(long, default_value_t = 4000)]
        cells: usize,
        #[command(flatten)]
        fmt: Format,
    },
    /// Transient P(w, t) of the Fokker–Planck equation (Eq. 52) from the file's init, at its
    /// histogram times; --compare runs the ensemble and measures L1 and KS distances
    FokkerPlanck {
        #[command(flatten)]
        exp: crate::ExpArgs,
        /// Domain LO,HI (default: optimizer.clip, else the first histogram's range)
        #[arg(long, value_name = "LO,HI", allow_hyphen_values = true)]
        range: Option<String>,
        /// Grid cells
        #[arg(long, default_value_t = 400)]
        cells: usize,
        /// Times (comma-separated; default: the histogram steps times the time step)
        #[arg(
            long,
            value_delimiter = ',',
            value_name = "T,...",
            allow_negative_numbers = true
        )]
        times: Vec<f64>,
        /// Time step (default: the largest time / 4000)
        #[arg(long, allow_negative_numbers = true)]
        dt: Option<f64>,
        /// Time stepping: backward-euler (first order, positive for any step) or
        /// crank-nicolson (second order; steps capped so densities stay non-negative)
        #[arg(long, default_value = "backward-euler", value_parser = ["backward-euler", "crank-nicolson"])]
        scheme: String,
        /// Run the ensemble too and compare its histograms with P(w, t)
        #[arg(long)]
        compare: bool,
        #[command(flatten)]
        opts: crate::RunOpts,
        #[command(flatten)]
        fmt: Format,
    },
    /// Prop. 10: the noise C(w) that makes a target density stationary (Eq. 117)
    DesignNoise {
        #[command(flatten)]
        exp: crate::ExpArgs,
        /// Points of the C(w) table
        #[arg(long, default_value_t = 41)]
        points: usize,
        #[command(flatten)]
        fmt: Format,
    },
}

/// Run a theory command.
pub fn run(cmd: TheoryCommand) -> Result<ExitCode> {
    let (json, text) = match cmd {
        TheoryCommand::Mu { src, lr, fmt } => emit(fmt, mu(&src, &lr)?, human_mu),
        TheoryCommand::PhaseBoundary {
            src,
            range,
            vary,
            grid,
            fmt,
        } => emit(
            fmt,
            phase(&src, &range, vary.as_deref(), grid)?,
            human_phase,
        ),
        TheoryCommand::EscapeRate {
            src,
            lr,
            lr_max,
            epsilon,
            fmt,
        } => emit(fmt, escape_rate(&src, &lr, lr_max, epsilon)?, human_rate),
        TheoryCommand::EscapeProbability {
            src,
            lr,
            steps,
            delta,
            w0,
            simulate,
            fmt,
        } => emit(
            fmt,
            escape_prob(&src, lr, steps, delta, w0, simulate)?,
            human_prob,
        ),
        TheoryCommand::SharpFlat { a, lr, fmt } => emit(
            fmt,
            tagged("sharp-flat", sharp_flat::sharp_flat(a, Some(lr)))?,
            |r| human_sharp_flat(&r.result),
        ),
        TheoryCommand::Amsgrad { a, lr, fmt } => {
            emit(fmt, tagged("amsgrad", amsgrad::amsgrad_trap(a, lr))?, |r| {
                human_amsgrad(&r.result)
            })
        }
        TheoryCommand::TailExponent { src, lr, fmt } => {
            let e = experiment(&src, lr)?;
            let t = tagged(
                "tail-exponent",
                kesten::tail_exponent(&e.noise, e.optimizer.lr),
            )?;
            emit(fmt, t, |r| human_tail(&r.result))
        }
        TheoryCommand::Stationary {
            exp,
            range,
            cells,
            fmt,
        } => emit(
            fmt,
            stationary(&exp, range.as_deref(), cells)?,
            human_stationary,
        ),
        TheoryCommand::FokkerPlanck {
            exp,
            range,
            cells,
            times,
            dt,
            scheme,
            compare,
            opts,
            fmt,
        } => {
            crate::input::threads(opts.threads)?;
            let scheme = if scheme == "crank-nicolson" {
                Scheme::CrankNicolson
            } else {
                Scheme::BackwardEuler
            };
            let stepping = (dt, scheme);
            let r = fokker_planck(
                &exp,
                range.as_deref(),
                cells,
                &times,
                stepping,
                compare,
                opts.quiet,
            )?;
            emit(fmt, r, human_fp)
        }
        TheoryCommand::DesignNoise { exp, points, fmt } => {
            emit(fmt, design_noise(&exp, points)?, human_design)
        }
    };
    if json {
        crate::print_line(&text)?;
    } else {
        crate::print_text(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as JSON or as text.
fn emit<T: Serialize>(fmt: Format, r: T, human: fn(&T) -> String) -> (bool, String) {
    if fmt.json {
        (
            true,
            serde_json::to_string_pretty(&r).expect("serialisable"),
        )
    } else {
        (false, human(&r))
    }
}

/// A library result with the command's name, as every JSON document has.
#[derive(Serialize)]
struct Tagged<T> {
    command: &'static str,
    #[serde(flatten)]
    result: T,
}

fn tagged<T>(command: &'static str, r: Result<T, TheoryError>) -> Result<Tagged<T>> {
    Ok(Tagged {
        command,
        result: theory(r)?,
    })
}

/// A theory error is the user's: its argument is out of the domain, or the quantity does not
/// exist for it (exit status 2).
fn theory<T>(r: Result<T, TheoryError>) -> Result<T> {
    r.map_err(|e| InputError(e.to_string()).into())
}

/// An analysis error is the user's too: the experiment does not fit the analysis (exit
/// status 2).
fn analysis<T>(r: Result<T, AnalysisError>) -> Result<T> {
    r.map_err(|e| InputError(e.to_string()).into())
}

/// Parse "LO,HI".
fn pair(flag: &str, s: &str) -> Result<(f64, f64)> {
    let v: Vec<&str> = s.split(',').map(str::trim).collect();
    let parsed: Option<Vec<f64>> = v.iter().map(|x| x.parse::<f64>().ok()).collect();
    match parsed.as_deref() {
        Some([lo, hi]) if lo.is_finite() && hi.is_finite() && lo < hi => Ok((*lo, *hi)),
        _ => Err(InputError(format!(
            "{flag}: expected LO,HI with finite LO < HI, e.g. 0,2 (got {s:?})"
        ))
        .into()),
    }
}

/// The minimal experiment the discrete-time commands start from when no file is given.
const BASE: &str = r#"
name = "theory"
runs = 2000
steps = 1000
[model]
kind = "quadratic"
[optimizer]
kind = "sgd"
lr = 1.0
"#;

/// A [`Source`] as an experiment table: the file (or [`BASE`]) with the flags and `--set`
/// applied, read once; further keys can be set before it is validated.
#[derive(Clone)]
struct Resolved {
    table: Table,
    /// What errors are attributed to: the file, or `input`.
    origin: String,
}

impl Resolved {
    /// The table a [`Source`] describes, with `lr` (when given) as optimizer.lr.
    fn new(src: &Source, lr: Option<f64>) -> Result<Resolved> {
        let mut r = match &src.file {
            Some(path) => Resolved {
                table: crate::input::read_table(path)?,
                origin: path.display().to_string(),
            },
            None => {
                if src.a.is_none() && src.noise.is_none() {
                    return Err(InputError(
                        "no noise law: give --a A (the paper's two-point law), --noise '{kind = \"gaussian\", mean = -0.5, std = 1.5}', or an experiment file"
                            .into(),
                    )
                    .into());
                }
                Resolved {
                    table: parse_table(BASE).expect("valid base"),
                    origin: "input".into(),
                }
            }
        };
        if let Some(a) = src.a {
            let mut n = Table::new();
            n.insert("kind".into(), "two-point".into());
            n.insert("a".into(), a.into());
            r.set("noise", Value::Table(n))?;
        }
        if let Some(text) = &src.noise {
            let v = format!("noise = {text}")
                .parse::<Table>()
                .ok()
                .and_then(|mut t| t.remove("noise"))
                .filter(Value::is_table)
                .ok_or_else(|| {
                    InputError(format!(
                        "--noise: expected an inline TOML table, e.g. '{{kind = \"gaussian\", mean = -0.5, std = 1.5}}' (got {text:?})"
                    ))
                })?;
            r.set("noise", v)?;
        }
        if let Some(b) = src.batch {
            r.set("noise.batch", crate::input::int_value("--batch", b)?)?;
        }
        if let Some(lr) = lr {
            r.set("optimizer.lr", lr.into())?;
        }
        crate::input::apply_sets(&mut r.table, &src.set)?;
        Ok(r)
    }

    /// Set one key.
    fn set(&mut self, path: &str, v: Value) -> Result<()> {
        set_path(&mut self.table, path, v).map_err(|e| InputError(e.to_string()).into())
    }

    /// Validate by the experiment-file rules.
    fn experiment(&self) -> Result<Experiment> {
        Experiment::from_table(&self.table)
            .map_err(|e| InputError(format!("{}: {e}", self.origin)).into())
    }
}

/// The experiment a [`Source`] describes, with `lr` (when given) as optimizer.lr.
fn experiment(src: &Source, lr: Option<f64>) -> Result<Experiment> {
    Resolved::new(src, lr)?.experiment()
}

/// The resolved `[noise]` table, echoed in every discrete-time report.
fn noise_table(e: &Experiment) -> Value {
    e.to_table()
        .remove("noise")
        .expect("every experiment has noise")
}

/// A number for the tables: −∞ and null spelled out.
fn show(x: f64) -> String {
    F(x, 10).to_string()
}

/// A number for people, `d` digits: fixed-point with d decimals for 10⁻⁴ ≤ |x| < 10⁷ (and
/// 0), otherwise scientific with d decimals of mantissa (never 300 digits for 10³⁰⁰);
/// `inf`, `-inf`, `nan` spelled out. Width and alignment flags apply.
struct F(f64, usize);

impl std::fmt::Display for F {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (x, d) = (self.0, self.1);
        let s = if !x.is_finite() {
            num(x)
        } else if x == 0.0 || (1e-4..1e7).contains(&x.abs()) {
            format!("{x:.d$}")
        } else {
            format!("{x:.d$e}")
        };
        f.pad(&s)
    }
}

/// A TOML value for people, inline: numbers as [`num`] (TOML's own writer spells 10³⁰⁰ with
/// 301 digits).
fn inline(v: &Value) -> String {
    match v {
        Value::Float(x) => num(*x),
        Value::Array(a) => format!("[{}]", a.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Value::Table(t) => format!(
            "{{ {} }}",
            t.iter()
                .map(|(k, v)| format!("{k} = {}", inline(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn show_opt(x: Option<f64>) -> String {
    x.map_or("-".into(), show)
}

// ---------------------------------------------------------------------------------------
// mu

#[derive(Serialize)]
struct MuReport {
    command: &'static str,
    noise: Value,
    results: Vec<MuPoint>,
}

#[derive(Serialize)]
struct MuPoint {
    #[serde(flatten)]
    moments: LogMoments,
    /// Eq. 83's closed form, for two-point noise with S = 1 (−∞ as "-inf").
    #[serde(serialize_with = "saddle::numeric::serialize_opt_f64")]
    mu_eq83: Option<f64>,
    /// `escape` (μ > 0), `trapped` (μ < 0, finite), `absorbed` (μ = −∞: an atom with λx̄ = 1
    /// exactly sets w to 0, Prop. 1) or `boundary` (μ = 0).
    phase: &'static str,
}

fn mu(src: &Source, lrs: &[f64]) -> Result<MuReport> {
    let e = experiment(src, lrs.first().copied())?;
    let lrs = if lrs.is_empty() {
        vec![e.optimizer.lr]
    } else {
        lrs.to_vec()
    };
    let a = two_point_a(&e);
    let results = lrs
        .iter()
        .map(|&lr| {
            let moments = theory(log_moments(&e.noise, lr))?;
            let phase = mu_phase(moments.mu);
            Ok(MuPoint {
                moments,
                mu_eq83: a.map(|a| two_point_mu(a, lr)),
                phase,
            })
        })
        .collect::<Result<_>>()?;
    Ok(MuReport {
        command: "mu",
        noise: noise_table(&e),
        results,
    })
}

/// The phase μ predicts (Prop. 2, Eq. 80).
fn mu_phase(mu: f64) -> &'static str {
    if mu == f64::NEG_INFINITY {
        "absorbed"
    } else if mu < 0.0 {
        "trapped"
    } else if mu > 0.0 {
        "escape"
    } else {
        "boundary"
    }
}

fn human_mu(r: &MuReport) -> String {
    let mut o = format!("noise: {}\n", inline(&r.noise));
    let _ = writeln!(
        o,
        "{:>12}  {:>18}  {:>18}  {:>10}  phase",
        "lr", "mu", "s2", "method"
    );
    for p in &r.results {
        let m = &p.moments;
        let phase = p.phase;
        let _ = writeln!(
            o,
            "{:>12}  {:>18}  {:>18}  {:>10}  {phase}",
            num(m.lr),
            show(m.mu),
            show_opt(m.s2),
            format!("{:?}", m.method).to_lowercase(),
        );
        if let Some(c) = p.mu_eq83 {
            let _ = writeln!(o, "{:>12}  {:>18}  (Eq. 83)", "", show(c));
        }
        if m.zero_probability > 0.0 {
            let _ = writeln!(
                o,
                "{:>12}  one step sets w to 0 with probability {} (Prop. 1): mu = -inf, s2 does not exist",
                "",
                num(m.zero_probability)
            );
        }
    }
    o
}

// ---------------------------------------------------------------------------------------
// phase-boundary

#[derive(Serialize)]
struct PhaseReport {
    command: &'static str,
    range: [f64; 2],
    /// The varied key, if any.
    vary: Option<String>,
    points: Vec<PhasePoint>,
}

#[derive(Serialize)]
struct PhasePoint {
    /// The value of the varied key (null without --vary).
    value: Option<f64>,
    noise: Value,
    numeric: PhaseDiagram,
    /// Eqs 85–87, for two-point noise with S = 1.
    closed: Option<PhaseDiagram>,
    /// Largest |closed − numeric| over the roots (null without a closed form).
    max_root_difference: Option<f64>,
}

/// Parse `PATH=LO,HI,N` into the path and its values.
fn grid_values(spec: &str) -> Result<(String, Vec<f64>)> {
    let bad = || {
        InputError(format!(
            "--vary: expected PATH=LO,HI,N, e.g. noise.a=-1,1,64 (got {spec:?})"
        ))
    };
    let (path, rest) = spec.split_once('=').ok_or_else(bad)?;
    let v: Vec<f64> = rest
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    match v[..] {
        [lo, hi, n] if n >= 1.0 && n.fract() == 0.0 && n <= 1e5 && lo <= hi => {
            let n = n as usize;
            let values = (0..n)
                .map(|i| {
                    if n == 1 {
                        lo
                    } else {
                        lo + (hi - lo) * i as f64 / (n - 1) as f64
                    }
                })
                .collect();
            Ok((path.trim().to_string(), values))
        }
        _ => Err(bad().into()),
    }
}

fn phase(src: &Source, range: &str, vary: Option<&str>, grid: usize) -> Result<PhaseReport> {
    let max = saddle::numeric::MAX_GRID;
    if !(2..=max).contains(&grid) {
        return Err(InputError(format!(
            "--grid: the root scan needs 2 <= grid <= {max} points (got {grid})"
        ))
        .into());
    }
    let (lo, hi) = pair("--range", range)?;
    let base = Resolved::new(src, None)?;
    let cells: Vec<(Option<f64>, Experiment)> = match vary {
        None => vec![(None, base.experiment()?)],
        Some(spec) => {
            let (path, values) = grid_values(spec)?;
            values
                .into_iter()
                .map(|v| {
                    let mut r = base.clone();
                    r.set(&path, v.into())?;
                    Ok((Some(v), r.experiment()?))
                })
                .collect::<Result<_>>()?
        }
    };
    // Grid points are independent: computed in parallel, reported in order.
    let points = cells
        .into_par_iter()
        .map(|(value, e)| {
            let numeric = theory(numeric_phase(&e.noise, lo, hi, grid))?;
            let closed = two_point_a(&e)
                .map(|a| theory(two_point_phase(a, lo, hi)))
                .transpose()?;
            let max_root_difference = closed.as_ref().map(|c| {
                if c.roots.len() != numeric.roots.len() {
                    return f64::INFINITY;
                }
                c.roots
                    .iter()
                    .zip(&numeric.roots)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f64::max)
            });
            Ok(PhasePoint {
                value,
                noise: noise_table(&e),
                numeric,
                closed,
                max_root_difference,
            })
        })
        .collect::<Result<_>>()?;
    Ok(PhaseReport {
        command: "phase-boundary",
        range: [lo, hi],
        vary: vary.map(|v| v.split('=').next().unwrap_or("").trim().to_string()),
        points,
    })
}

fn human_phase(r: &PhaseReport) -> String {
    let mut o = format!(
        "learning rates in [{}, {}]; mu(lr) = E ln|1 - lr x| changes sign at the roots\n",
        num(r.range[0]),
        num(r.range[1])
    );
    for p in &r.points {
        if let (Some(k), Some(v)) = (&r.vary, p.value) {
            let _ = writeln!(o, "\n{k} = {}", num(v));
        } else {
            let _ = writeln!(o, "\nnoise: {}", inline(&p.noise));
        }
        let roots: Vec<String> = p
            .numeric
            .roots
            .iter()
            .map(|x| F(*x, 12).to_string())
            .collect();
        let _ = writeln!(o, "  roots (numeric): [{}]", roots.join(", "));
        if let (Some(c), Some(d)) = (&p.closed, p.max_root_difference) {
            let roots: Vec<String> = c.roots.iter().map(|x| F(*x, 12).to_string()).collect();
            let _ = writeln!(
                o,
                "  roots (Eqs 85-87): [{}]   largest difference {d:.1e}",
                roots.join(", ")
            );
        }
        for i in &p.numeric.intervals {
            let _ = writeln!(
                o,
                "  {:>10} < lr < {:<10}  {:?}",
                F(i.lo, 6),
                F(i.hi, 6),
                i.phase
            );
        }
    }
    o
}

// ---------------------------------------------------------------------------------------
// escape-rate

#[derive(Serialize)]
struct RateReport {
    command: &'static str,
    noise: Value,
    /// γ(λ) = μ(λ) at each requested λ (Eq. 88).
    rates: Vec<LogMoments>,
    /// sup over 0 < λ ≤ lr_max of μ, by numeric maximisation.
    optimum: OptimalEscape,
    /// Eqs 89–90 for two-point noise with a < 0 (null otherwise).
    optimum_closed: Option<OptimalEscape>,
    /// Why there is no closed form, where there is none.
    optimum_closed_note: Option<String>,
    /// Eq. 91, with --epsilon.
    slow_escape: Option<SlowEscape>,
}

fn escape_rate(src: &Source, lrs: &[f64], lr_max: f64, epsilon: Option<f64>) -> Result<RateReport> {
    let e = experiment(src, lrs.first().copied())?;
    let rates = lrs
        .iter()
        .map(|&lr| theory(log_moments(&e.noise, lr)))
        .collect::<Result<_>>()?;
    let optimum = theory(numeric_optimum(&e.noise, lr_max, 4000))?;
    let (optimum_closed, optimum_closed_note) = match two_point_a(&e) {
        Some(a) => match two_point_optimum(a) {
            Ok(o) => (Some(o), None),
            Err(err) => (
                None,
                Some(saddle::config::compact_numbers(&err.to_string())),
            ),
        },
        None => (
            None,
            Some("no closed form: Eqs 89-90 are for two-point noise with S = 1".into()),
        ),
    };
    let slow_escape = epsilon.map(|eps| theory(slow_escape(eps))).transpose()?;
    Ok(RateReport {
        command: "escape-rate",
        noise: noise_table(&e),
        rates,
        optimum,
        optimum_closed,
        optimum_closed_note,
        slow_escape,
    })
}

fn human_rate(r: &RateReport) -> String {
    let mut o = format!("noise: {}\n", inline(&r.noise));
    for m in &r.rates {
        let _ = writeln!(o, "gamma({}) = mu = {}", num(m.lr), show(m.mu));
    }
    let _ = writeln!(
        o,
        "optimum over 0 < lr <= {} (numeric): lr* = {}, gamma* = {}{}",
        num(r.optimum.lr_max),
        F(r.optimum.lr_star, 12),
        F(r.optimum.gamma_star, 12),
        if r.optimum.interior {
            ""
        } else {
            "  (at an end of the range: no interior maximum)"
        }
    );
    match (&r.optimum_closed, &r.optimum_closed_note) {
        (Some(c), _) => {
            let _ = writeln!(
                o,
                "optimum (Eqs 89-90): lr* = a/(2(a-1)) = {}, gamma* = ln((2-a)/(2 sqrt(1-a))) = {}",
                F(c.lr_star, 12),
                F(c.gamma_star, 12)
            );
        }
        (None, Some(n)) => {
            let _ = writeln!(o, "closed form: {n}");
        }
        _ => {}
    }
    if let Some(s) = &r.slow_escape {
        let _ = writeln!(
            o,
            "Eq. 91: gamma* <= {} for every a < 0 with |a| <= {} (gamma* at the bound: {}, lr* {})",
            num(s.epsilon),
            F(s.a_bound, 12),
            F(s.gamma_star_at_bound, 12),
            F(s.lr_star_at_bound, 12)
        );
    }
    o
}

// ---------------------------------------------------------------------------------------
// escape-probability

#[derive(Serialize)]
struct ProbReport {
    command: &'static str,
    noise: Value,
    #[serde(flatten)]
    probability: EscapeProbability,
    /// The simulated escape fraction (with --simulate).
    simulated: Option<Simulated>,
}

fn escape_prob(
    src: &Source,
    lr: Option<f64>,
    steps: Option<u64>,
    delta: Option<f64>,
    w0: Option<f64>,
    simulate: bool,
) -> Result<ProbReport> {
    let mut r = Resolved::new(src, lr)?;
    // Only the escape fraction is observed: the file's other observers may name steps beyond
    // a new --steps.
    let delta = match delta {
        Some(d) => Some(d),
        None => r.experiment()?.observe.escape.map(|e| e.delta),
    };
    let Some(delta) = delta else {
        return Err(InputError(
            "no threshold: give --delta D (or observe.escape.delta in the file)".into(),
        )
        .into());
    };
    r.set("observe", Value::Table(Table::new()))?;
    r.set("observe.escape.delta", delta.into())?;
    if let Some(t) = steps {
        r.set("steps", crate::input::int_value("--steps", t)?)?;
    }
    if let Some(w) = w0 {
        let mut init = Table::new();
        init.insert("kind".into(), "point".into());
        init.insert("w".into(), w.into());
        r.set("init", Value::Table(init))?;
    }
    let e = r.experiment()?;
    if e.model.kind() != "quadratic" {
        return Err(InputError(format!(
            "escape-probability is for the quadratic model L = x w^2/2 (Eq. 4); the file's model is `{}`",
            e.model.kind()
        ))
        .into());
    }
    let init = analysis(escape_init(&e))?;
    let probability = theory(escape_probability(
        &e.noise,
        e.optimizer.lr,
        e.steps,
        delta,
        &init,
    ))?;
    let simulated = if simulate {
        Some(simulated_escape(&e).map_err(|err| match err {
            AnalysisError::Optimizer(_) => InputError(format!("--simulate {err}")),
            other => InputError(other.to_string()),
        })?)
    } else {
        None
    };
    Ok(ProbReport {
        command: "escape-probability",
        noise: noise_table(&e),
        probability,
        simulated,
    })
}

fn human_prob(r: &ProbReport) -> String {
    let p = &r.probability;
    let mut o = format!(
        "noise: {}\nP(|w_t| >= {}) after t = {} steps at lr = {}, w0: {}\n",
        inline(&r.noise),
        num(p.delta),
        p.t,
        num(p.lr),
        serde_json::to_string(&p.init).expect("serialisable")
    );
    let _ = writeln!(
        o,
        "  exact (sum over counts):  {}",
        p.exact
            .map_or("- (continuous law: no finite sum)".into(), |x| format!(
                "{x:.12e}"
            ))
    );
    let _ = writeln!(
        o,
        "  log-normal (Lemma 1):     {}",
        p.lognormal.map_or("-".into(), |x| format!("{x:.12e}"))
    );
    let _ = writeln!(o, "  P(w_t = 0):               {:.6e}", p.zero_probability);
    if let Some(s) = &r.simulated {
        let _ = writeln!(
            o,
            "  simulated ({} runs):    {} +- {}",
            s.runs,
            F(s.value, 6),
            F(s.stderr, 6)
        );
    }
    o
}

// ---------------------------------------------------------------------------------------
// sharp-flat, amsgrad, tail-exponent

fn human_sharp_flat(r: &sharp_flat::SharpFlatTheory) -> String {
    let mut o = format!("sharp-flat landscape (Eq. 9), a = {}\n", num(r.a));
    for m in &r.minima {
        let _ = writeln!(
            o,
            "  {:?} minimum ({:+.6}, {:+.6}): Eq. 11's quoted sharpness (one Hessian diagonal entry) {}; Def. 4 sharpness Tr H {}",
            m.kind,
            m.w[0],
            m.w[1],
            F(m.eq11_sharpness, 6),
            F(m.trace, 6)
        );
    }
    let _ = writeln!(
        o,
        "Prop. 4 learning-rate bound: Eq. 99 (as printed) lr <= {}; from Eq. 97's factors lr < {}",
        F(r.lr_bound_paper, 10),
        F(r.lr_bound, 10)
    );
    if let Some(c) = &r.contraction {
        let _ = writeln!(
            o,
            "at lr = {}: b = 1/lr - 6 = {}; r(x >= 0) = {}, r(x <= 0) = {}; E ln r = {} (Eq. 98 as printed: {}); sharp minima guaranteed: {}",
            num(c.lr),
            F(c.b, 6),
            F(c.r_plus, 6),
            F(c.r_minus, 6),
            F(c.mean_ln_r, 6),
            F(c.mean_ln_r_eq98, 6),
            c.sharp_guaranteed
        );
    }
    o
}

fn human_amsgrad(r: &amsgrad::AmsgradTrap) -> String {
    let mut o = format!(
        "AMSGrad (Prop. 5), a = {}: trapped when {} <= lr/sqrt(c) <= {} (Eq. 115)\n",
        num(r.a),
        F(r.lr_prime_lo, 10),
        F(r.lr_prime_hi, 10)
    );
    let _ = writeln!(
        o,
        "  |g| <= {} for |w| <= 1 (Eq. 100 prints 1 + a = {}), so c = lim v_hat <= {}",
        num(r.grad_bound),
        num(r.grad_bound_eq100),
        num(r.c_max)
    );
    if let Some(lr) = r.lr {
        let _ = match r.c_range {
            Some([lo, hi]) => writeln!(
                o,
                "  at lr = {}: trapped for c in [{}, {}]",
                num(lr),
                F(lo, 10),
                F(hi, 10)
            ),
            None => writeln!(o, "  at lr = {}: no reachable c traps", num(lr)),
        };
    }
    o
}

fn human_tail(r: &kesten::TailExponent) -> String {
    format!(
        "lr = {}: mu = {}, tail exponent kappa = {} (+- {:.1e}): P(|w| > u) ~ u^-kappa; P(|1 - lr x| > 1) = {}\n",
        num(r.lr),
        show(r.mu),
        F(r.kappa, 12),
        r.kappa_error,
        r.expanding_probability
    )
}

// ---------------------------------------------------------------------------------------
// stationary

/// The experiment for the continuous-time commands, its domain and its landscape.
struct Continuous {
    exp: Experiment,
    lo: f64,
    hi: f64,
    land: Box<dyn saddle::sde::Coefficients>,
}

fn continuous(args: &crate::ExpArgs, range: Option<&str>) -> Result<Continuous> {
    let exp = crate::input::load(args)?.experiment;
    let (lo, hi) = match range {
        Some(r) => pair("--range", r)?,
        None => match (exp.optimizer.clip, exp.observe.histograms.first()) {
            (Some(c), _) => c,
            (None, Some(h)) => (h.lo, h.hi),
            (None, None) => {
                return Err(InputError(
                    "no domain: give --range LO,HI (or optimizer.clip, or an [[observe.histogram]], in the file)"
                        .into(),
                )
                .into())
            }
        },
    };
    let land = saddle::experiment::coefficients(&exp).map_err(InputError::from_display)?;
    Ok(Continuous { exp, lo, hi, land })
}

#[derive(Serialize)]
struct StationaryReport {
    command: &'static str,
    #[serde(flatten)]
    density: StationaryDensity,
    /// Eqs 63/68/76 and 65, where the experiment is App. C's landscape (quadratic or quartic
    /// model, minibatch noise on x).
    closed_form: Option<ClosedForm>,
}

fn stationary(
    args: &crate::ExpArgs,
    range: Option<&str>,
    cells: usize,
) -> Result<StationaryReport> {
    let c = continuous(args, range)?;
    let density = theory(stationary_density_for(
        &c.exp,
        c.land.as_ref(),
        c.lo,
        c.hi,
        cells,
    ))?;
    let closed_form = theory(closed_form(&c.exp, &density))?;
    Ok(StationaryReport {
        command: "stationary",
        density,
        closed_form,
    })
}

/// About `n` evenly spaced row indices of a table of `len` rows, the last row included.
fn sample_rows(len: usize, n: usize) -> Vec<usize> {
    let step = (len / n.max(1)).max(1);
    let mut rows: Vec<usize> = (0..len).step_by(step).collect();
    if rows.last() != Some(&(len - 1)) {
        rows.push(len - 1);
    }
    rows
}

fn human_stationary(r: &StationaryReport) -> String {
    let d = &r.density;
    let mut o = format!(
        "stationary density of Eq. 57 on [{}, {}] (lr = {}, S = {}), {} points\n",
        num(d.lo),
        num(d.hi),
        num(d.lr),
        d.batch,
        d.w.len()
    );
    let modes: Vec<String> = d.modes.iter().map(|m| F(*m, 8).to_string()).collect();
    let _ = writeln!(
        o,
        "most probable w: {}; local maxima: [{}]",
        F(d.mode, 10),
        modes.join(", ")
    );
    if let Some(c) = &r.closed_form {
        let _ = writeln!(
            o,
            "closed form (Eq. 63; 68/76 for sigma = 0): m = {}, v = {}, b = {}, sigma = {}, exponent {}, normalisable on R: {}",
            num(c.m),
            num(c.v),
            num(c.b),
            num(c.sigma),
            show_opt(c.exponent),
            c.normalisability.normalisable
        );
        let _ = writeln!(
            o,
            "  largest |ln p - ln p_closed| on the grid: {:.2e}; Eq. 65 most probable w: {}",
            c.max_log_difference,
            show_opt(c.most_probable_w)
        );
        let _ = writeln!(
            o,
            "  mode leaves 0 for m < -lr v/S = {}; the origin stops attracting (sigma = 0) for m < -lr v/(2S) = {}",
            c.critical_m, c.concentration_threshold_m
        );
    }
    let _ = writeln!(o, "{:>14}  {:>16}  {:>12}", "w", "p(w)", "cdf");
    for i in sample_rows(d.w.len(), 20) {
        let _ = writeln!(
            o,
            "{:>14.6}  {:>16.8e}  {:>12.8}",
            d.w[i], d.density[i], d.cdf[i]
        );
    }
    o
}

// ---------------------------------------------------------------------------------------
// fokker-planck

#[derive(Serialize)]
struct FpReport {
    command: &'static str,
    #[serde(flatten)]
    transient: Transient,
    /// Ensemble histograms against P(w, t) (with --compare).
    comparisons: Vec<FpComparison>,
}

fn fokker_planck(
    args: &crate::ExpArgs,
    range: Option<&str>,
    cells: usize,
    times: &[f64],
    (dt_step, scheme): (Option<f64>, Scheme),
    run_compare: bool,
    quiet: bool,
) -> Result<FpReport> {
    let c = continuous(args, range)?;
    let e = &c.exp;
    let times = if times.is_empty() {
        histogram_times(e)
    } else {
        times.to_vec()
    };
    let fp = theory(fokker_planck_for(e, c.land.as_ref(), c.lo, c.hi, cells))?;
    let init = initial_law(e, c.lo, c.hi);
    let t_max = times.iter().copied().fold(0.0, f64::max);
    let dt_step = dt_step.unwrap_or(if t_max > 0.0 { t_max / 4000.0 } else { 1.0 });
    if !(dt_step.is_finite() && dt_step > 0.0) {
        return Err(InputError(format!("--dt: must be finite and > 0 (got {dt_step})")).into());
    }
    let transient = theory(fp.evolve(init, &times, dt_step, scheme))?;
    let comparisons = if run_compare {
        let bar = progress::bar(e.runs, "runs", quiet);
        let tick = |n: u64| bar.inc(n);
        let s = saddle::experiment::run(e, 0, Some(&tick)).map_err(InputError::from_display)?;
        bar.finish_and_clear();
        theory(compare_transient(
            &transient,
            &s.histograms,
            time_per_step(e),
            0.01,
        ))?
    } else {
        vec![]
    };
    Ok(FpReport {
        command: "fokker-planck",
        transient,
        comparisons,
    })
}

fn human_fp(r: &FpReport) -> String {
    let t = &r.transient;
    let mut o = format!(
        "Fokker-Planck (Eq. 52) on [{}, {}], {} cells, lr = {}, S = {}, {:?} ({} steps, largest dt {:.3e})\n",
        num(t.lo),
        num(t.hi),
        t.centres.len(),
        num(t.lr),
        t.batch,
        t.scheme,
        t.steps,
        t.max_dt
    );
    let _ = writeln!(
        o,
        "probability conserved to {:.1e}; smallest density {:.3e}",
        t.max_total_error, t.min_density
    );
    let _ = writeln!(o, "{:>12}  {:>14}  {:>12}", "time", "L1 to stat.", "mean w");
    for (k, time) in t.times.iter().enumerate() {
        let h = (t.hi - t.lo) / t.centres.len() as f64;
        let mean: f64 = t
            .centres
            .iter()
            .zip(&t.density[k])
            .map(|(x, p)| x * p * h)
            .sum();
        let _ = writeln!(
            o,
            "{time:>12.4}  {:>14.6e}  {mean:>12.6}",
            t.l1_to_stationary[k]
        );
    }
    for c in &r.comparisons {
        let d = &c.distance;
        let _ = writeln!(
            o,
            "ensemble at step {} (time {}): L1 = {:.4} (sampling alone {:.4} +- {:.4}, z = {:.2}), KS = {:.4} (critical {:.4} at {})",
            c.step, c.time, d.l1, d.l1_mean, d.l1_sd, d.l1_z, d.ks, d.ks_critical, d.alpha
        );
    }
    o
}

// ---------------------------------------------------------------------------------------
// design-noise

#[derive(Serialize)]
struct DesignReport {
    command: &'static str,
    /// The target formula.
    target: String,
    noise: saddle::theory::designed_noise::DesignedNoise,
    table: saddle::theory::designed_noise::NoiseTable,
    /// Largest |ln p_S − ln p_target| on the domain, p_S the stationary density of Eq. 57 with
    /// the designed C, both normalised on the domain.
    max_log_error: f64,
}

fn design_noise(args: &crate::ExpArgs, points: usize) -> Result<DesignReport> {
    use saddle::config::DiffusionSpec;
    let exp = crate::input::load(args)?.experiment;
    let DiffusionSpec::Designed { target, .. } = &exp.diffusion else {
        return Err(InputError(format!(
            "{}: design-noise needs [diffusion] kind = \"designed\" with a target (and optimizer.kind = \"sde\")",
            args.file.display()
        ))
        .into());
    };
    let (noise, land) =
        saddle::experiment::designed_noise(&exp).map_err(InputError::from_display)?;
    let table = theory(noise.tabulate(points))?;
    // With the smallest c₀, C vanishes at the binding point; where that is an end of the
    // box, Eq. 57 is checked on the box less one part in 10⁴ at that end.
    let cells = 4000;
    let trim = 1e-4 * (noise.hi - noise.lo);
    let lo = if noise.binding_w == noise.lo {
        noise.lo + trim
    } else {
        noise.lo
    };
    let hi = if noise.binding_w == noise.hi {
        noise.hi - trim
    } else {
        noise.hi
    };
    let p = theory(stationary_density(
        |w| land.grad(w),
        |w| noise.noise(w),
        noise.lr,
        noise.batch,
        lo,
        hi,
        cells,
    ));
    let max_log_error = match p {
        Ok(p) => {
            let lt = |w: f64| target.loss(&[w], 0.0, 0.0).ln();
            let diffs: Vec<f64> =
                p.w.iter()
                    .zip(&p.log_density)
                    .map(|(w, l)| l - lt(*w))
                    .collect();
            let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
            diffs.iter().map(|d| (d - mean).abs()).fold(0.0, f64::max)
        }
        // C vanishes inside the box (the smallest c₀ with an interior binding point): the
        // process cannot cross that point and the stationary law is not unique there.
        Err(_) => f64::NAN,
    };
    Ok(DesignReport {
        command: "design-noise",
        target: target.expr().to_string(),
        noise,
        table,
        max_log_error,
    })
}

fn human_design(r: &DesignReport) -> String {
    let n = &r.noise;
    let mut o = format!(
        "designed noise (Prop. 10, Eq. 117) for target p(w) = {} on [{}, {}], lr = {}, S = {}\n",
        r.target,
        num(n.lo),
        num(n.hi),
        num(n.lr),
        n.batch
    );
    let _ = writeln!(
        o,
        "c0 = {} (smallest with C >= 0: {}, C = 0 at w = {}); C ranges over [{:.6e}, {:.6e}]",
        F(n.c0, 12),
        F(n.c0_min, 12),
        F(n.binding_w, 6),
        n.min_noise,
        n.max_noise
    );
    if r.max_log_error.is_finite() {
        let _ = writeln!(
            o,
            "stationary density of Eq. 57 with this C vs the target: largest |ln p_S - ln p| = {:.2e}",
            r.max_log_error
        );
    }
    let _ = writeln!(o, "{:>12}  {:>18}  {:>18}", "w", "C(w)", "C'(w)");
    for i in 0..r.table.w.len() {
        let _ = writeln!(
            o,
            "{:>12.6}  {:>18.10e}  {:>18.10e}",
            r.table.w[i], r.table.noise[i], r.table.noise_slope[i]
        );
    }
    o
}
