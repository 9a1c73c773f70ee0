//! Where the report's experiments come from, and how they run.
//!
//! Every figure is drawn from the experiment files users run one by one
//! (`experiments/*.toml`). The report reads them from a directory (by default `experiments/`
//! when it exists) or, when there is none, from copies built into the binary, so an installed
//! `saddle` can reproduce the paper anywhere. At `quick` scale each file is shrunk by a fixed
//! list of overrides (fewer runs, coarser grids), applied to the file's table exactly as
//! `--set` would be.

use crate::ReproduceError;
use rayon::prelude::*;
use saddle::config::{parse_table, set_path, Experiment};
use saddle::experiment::{run, Summary};
use saddle::sweep::cell_experiment;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// How big the report's ensembles and grids are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// The paper's run and step counts and grids.
    Paper,
    /// Smaller ensembles and grids, for tests and demonstrations (seconds).
    Quick,
}

impl Scale {
    /// The name used on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Scale::Paper => "paper",
            Scale::Quick => "quick",
        }
    }
}

macro_rules! builtin {
    ($($name:literal),* $(,)?) => {
        /// The experiment files the report uses, with their built-in copies.
        const BUILTIN: &[(&str, &str)] = &[
            $(($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../experiments/", $name, ".toml")))),*
        ];
    };
}

builtin!(
    "prop1",
    "fig1-left",
    "fig1-right",
    "fig3-left",
    "fig3-right",
    "fig4",
    "fig5-adam",
    "fig5-amsgrad",
    "fig5-gd",
    "fig6-left",
    "fig6-mid",
    "fig6-right",
    "fig7",
    "fig8",
    "fig9",
    "fig9-sde",
    "eq63",
    "fig10",
);

/// The names of the experiment files the report runs, in report order.
pub fn experiment_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}

/// `quick`-scale overrides per file: (key path, value). Sweep axes are shrunk separately
/// ([`QUICK_AXES`]).
const QUICK_SETS: &[(&str, &[(&str, f64)])] = &[
    ("prop1", &[("runs", 1000.0)]),
    ("fig1-left", &[("runs", 1000.0)]),
    ("fig1-right", &[("runs", 1000.0)]),
    ("fig3-left", &[("runs", 400.0), ("steps", 400.0)]),
    ("fig3-right", &[("runs", 1000.0)]),
    ("fig4", &[("runs", 500.0)]),
    ("fig5-adam", &[("runs", 500.0)]),
    ("fig5-amsgrad", &[("runs", 500.0)]),
    ("fig5-gd", &[("runs", 500.0)]),
    ("fig6-left", &[("runs", 500.0)]),
    ("fig6-mid", &[("runs", 500.0)]),
    ("fig6-right", &[("runs", 400.0)]),
    ("fig7", &[("runs", 400.0), ("steps", 400.0)]),
    ("fig8", &[("runs", 1000.0)]),
    ("fig9", &[("runs", 1000.0)]),
    ("fig9-sde", &[("runs", 4000.0)]),
    ("eq63", &[("runs", 4000.0)]),
    ("fig10", &[("runs", 800.0)]),
];

/// `quick`-scale sweep axes: (file, axis index, number of values) for linspace axes.
const QUICK_AXES: &[(&str, usize, i64)] = &[
    ("fig3-left", 0, 21),
    ("fig3-left", 1, 20),
    ("fig3-right", 1, 34),
    ("fig6-right", 0, 50),
    ("fig7", 0, 21),
    ("fig7", 1, 20),
];

/// Where the experiment files are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A directory holding the files.
    Dir(PathBuf),
    /// The copies built into the binary.
    Builtin,
}

impl Source {
    /// `dir` if given (it must exist), else `experiments/` if it exists, else the built-in
    /// copies.
    pub fn locate(dir: Option<&Path>) -> Result<Source, ReproduceError> {
        match dir {
            Some(d) if d.is_dir() => Ok(Source::Dir(d.to_path_buf())),
            Some(d) => Err(ReproduceError::Input(format!(
                "--experiments {}: no such directory",
                d.display()
            ))),
            None if Path::new("experiments").is_dir() => {
                Ok(Source::Dir(PathBuf::from("experiments")))
            }
            None => Ok(Source::Builtin),
        }
    }

    /// A short description for the report.
    pub fn describe(&self) -> String {
        match self {
            Source::Dir(d) => format!("the experiment files in {}", d.display()),
            Source::Builtin => "the experiment files built into this saddle binary".into(),
        }
    }

    /// How file `name` differs from the copy built into the binary: one line per differing
    /// key, `key: shipped → used` (empty when they are the same, comments and layout aside).
    pub fn changes(&self, name: &str) -> Result<Vec<String>, ReproduceError> {
        let Source::Dir(_) = self else {
            return Ok(Vec::new());
        };
        let used = self.raw_table(name)?;
        let shipped = Source::Builtin.raw_table(name)?;
        let mut out = Vec::new();
        diff_tables("", &shipped, &used, &mut out);
        Ok(out)
    }

    /// The raw table of file `name` (without `.toml`), with the scale's overrides applied.
    pub fn table(&self, name: &str, scale: Scale) -> Result<Table, ReproduceError> {
        let mut table = self.raw_table(name)?;
        if scale == Scale::Quick {
            shrink(&mut table, name)
                .map_err(|e| ReproduceError::Input(format!("{}: {e}", self.shown(name))))?;
        }
        Ok(table)
    }

    fn shown(&self, name: &str) -> String {
        match self {
            Source::Dir(d) => d.join(format!("{name}.toml")).display().to_string(),
            Source::Builtin => format!("built-in {name}.toml"),
        }
    }

    /// The table of file `name` as written.
    fn raw_table(&self, name: &str) -> Result<Table, ReproduceError> {
        let (text, shown) = match self {
            Source::Dir(d) => {
                let p = d.join(format!("{name}.toml"));
                let t = std::fs::read_to_string(&p).map_err(|e| {
                    ReproduceError::Input(format!(
                        "cannot read experiment file {}: {e}",
                        p.display()
                    ))
                })?;
                (t, p.display().to_string())
            }
            Source::Builtin => {
                let t = BUILTIN
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, t)| t.to_string())
                    .ok_or_else(|| {
                        ReproduceError::Input(format!("no built-in experiment {name}"))
                    })?;
                (t, format!("built-in {name}.toml"))
            }
        };
        parse_table(&text).map_err(|e| ReproduceError::Input(format!("{shown}: {e}")))
    }
}

/// A value in a line of [`Source::changes`], shortened if long.
fn show_value(v: Option<&Value>) -> String {
    let s = match v {
        None => return "(absent)".into(),
        Some(v) => v.to_string(),
    };
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}

/// The keys where `used` differs from `shipped`, recursing into tables.
fn diff_tables(prefix: &str, shipped: &Table, used: &Table, out: &mut Vec<String>) {
    let keys: std::collections::BTreeSet<&String> = shipped.keys().chain(used.keys()).collect();
    for k in keys {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (shipped.get(k), used.get(k)) {
            (Some(Value::Table(a)), Some(Value::Table(b))) => diff_tables(&path, a, b, out),
            (a, b) if a != b => out.push(format!("{path}: {} → {}", show_value(a), show_value(b))),
            _ => {}
        }
    }
}

/// Apply the quick-scale overrides of file `name` to its table.
fn shrink(table: &mut Table, name: &str) -> Result<(), String> {
    for (file, sets) in QUICK_SETS {
        if *file == name {
            for (path, v) in *sets {
                let v = if v.fract() == 0.0 {
                    Value::Integer(*v as i64)
                } else {
                    Value::Float(*v)
                };
                set_path(table, path, v).map_err(|e| e.to_string())?;
            }
        }
    }
    for (file, axis, n) in QUICK_AXES {
        if *file != name {
            continue;
        }
        let ax = table
            .get_mut("sweep")
            .and_then(|s| s.as_table_mut())
            .and_then(|s| s.get_mut("axis"))
            .and_then(|a| a.as_array_mut())
            .and_then(|a| a.get_mut(*axis))
            .and_then(|a| a.as_table_mut())
            .and_then(|a| a.get_mut("linspace"))
            .and_then(|l| l.as_array_mut())
            .filter(|l| l.len() == 3)
            .ok_or_else(|| format!("sweep.axis[{axis}] has no linspace = [lo, hi, n] to shrink"))?;
        ax[2] = Value::Integer(*n);
    }
    Ok(())
}

/// An experiment's results: one summary per sweep cell (one in all for a file without a
/// sweep), with the validated experiment of each cell.
pub struct Results {
    /// The table run (the file with the scale's overrides).
    pub table: Table,
    /// The base experiment (its sweep grid included).
    pub base: Experiment,
    /// Summaries in cell order.
    pub cells: Vec<Summary>,
    /// Each cell's experiment, in cell order.
    pub experiments: Vec<Experiment>,
}

impl Results {
    /// The only summary of a file without a sweep.
    pub fn single(&self) -> &Summary {
        &self.cells[0]
    }
}

/// Validate and run a table: every cell of its sweep in parallel (cells in order), or the one
/// experiment.
pub fn run_table(name: &str, table: &Table) -> Result<Results, ReproduceError> {
    let base = Experiment::from_table(table)
        .map_err(|e| ReproduceError::Input(format!("{name}.toml: {e}")))?;
    let experiments: Vec<Experiment> = match &base.sweep {
        None => vec![base.clone()],
        Some(grid) => grid
            .cells()
            .iter()
            .map(|c| cell_experiment(table, c))
            .collect::<Result<_, _>>()
            .map_err(|e| ReproduceError::Input(format!("{name}.toml: {e}")))?,
    };
    let cells = experiments
        .par_iter()
        .enumerate()
        .map(|(i, e)| run(e, i as u32, None))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ReproduceError::Run(format!("{name}: {e}")))?;
    Ok(Results {
        table: table.clone(),
        base,
        cells,
        experiments,
    })
}
