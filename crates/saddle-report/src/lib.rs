//! `saddle reproduce`: every figure and checked claim of *SGD May Never Escape Saddle Points*
//! (Ziyin, Li, Simon, Ueda, 2021) from the experiment files, as one self-contained report.
//!
//! [`reproduce`] runs each section's experiments through the `saddle` engine, compares what
//! they measure with the paper's theory (`saddle::theory`), draws the figures ([`plot`]) and
//! writes the report directory:
//!
//! - `index.html`: the report, figures inline (no network access needed);
//! - `checks.json`: every check ([`checks::Check`]), schema in `docs/report.md`;
//! - `figures/NAME.svg`, `figures/NAME.png`: each figure;
//! - `data/NAME*.csv`: the numbers behind each figure.

pub mod checks;
mod html;
pub mod plot;
mod sections;
pub mod source;

use checks::Check;
use serde::Serialize;
use source::{Scale, Source};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Errors of [`reproduce`].
#[derive(Debug, thiserror::Error)]
pub enum ReproduceError {
    /// Bad options or experiment files (the user's to fix).
    #[error("{0}")]
    Input(String),
    /// An experiment failed while running.
    #[error("running {0}")]
    Run(String),
    /// A theory function rejected its arguments.
    #[error("theory for {section}: {message}")]
    Theory {
        /// The section.
        section: String,
        /// The error.
        message: String,
    },
    /// A figure could not be drawn.
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
    /// Writing the report failed.
    #[error("writing {path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// The error.
        message: String,
    },
}

/// What to reproduce, and where.
#[derive(Clone, Debug)]
pub struct Options {
    /// The report directory (created if missing).
    pub out: PathBuf,
    /// Ensemble and grid sizes.
    pub scale: Scale,
    /// Section ids to run (None: all); see [`section_ids`].
    pub only: Option<Vec<String>>,
    /// Directory of experiment files (None: `experiments/` if present, else built-in copies).
    pub experiments: Option<PathBuf>,
    /// Worker threads in use (reported only).
    pub threads: usize,
}

/// One section of the report: a figure of the paper (or a proposition without one), its
/// claim, the parameters used, the figure and its checks.
#[derive(Clone, Debug, Serialize)]
pub struct Section {
    /// Identifier, as accepted by `--only` (e.g. `fig3`).
    pub id: String,
    /// Heading.
    pub title: String,
    /// What the paper claims, in one paragraph.
    pub claim: String,
    /// The parameters used, one line each.
    pub parameters: Vec<String>,
    /// The figure's file stem under `figures/` (None for a section without a figure).
    pub figure: Option<String>,
    /// One-line caption: how to read the figure.
    pub caption: String,
    /// CSV files under `data/`.
    pub data: Vec<String>,
    /// The experiment files used.
    pub experiments: Vec<String>,
    /// The checks.
    pub checks: Vec<Check>,
    /// Remarks: where measured numbers differ from the paper's text, and why.
    pub notes: Vec<String>,
    /// Wall time of the section in seconds.
    pub seconds: f64,
}

/// The finished report.
#[derive(Clone, Debug)]
pub struct Report {
    /// Sections in order.
    pub sections: Vec<Section>,
    /// Total wall time in seconds.
    pub seconds: f64,
    /// Where the experiment files came from.
    pub source: String,
}

impl Report {
    /// Every check of every section.
    pub fn checks(&self) -> impl Iterator<Item = &Check> {
        self.sections.iter().flat_map(|s| s.checks.iter())
    }

    /// Whether every check passes.
    pub fn all_pass(&self) -> bool {
        self.checks().all(|c| c.pass)
    }
}

/// The section ids in report order.
pub fn section_ids() -> Vec<&'static str> {
    sections::ALL.iter().map(|(id, _)| *id).collect()
}

/// The `checks.json` document.
#[derive(Serialize)]
struct ChecksFile<'a> {
    saddle_version: &'static str,
    scale: Scale,
    passed: usize,
    failed: usize,
    checks: Vec<&'a Check>,
}

/// What a section builder gets: where to read experiments and write files.
pub(crate) struct Ctx {
    source: Source,
    scale: Scale,
    out: PathBuf,
}

impl Ctx {
    fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), ReproduceError> {
        write_file(&self.out.join(rel), bytes)
    }

    /// Write `data/NAME.csv` with a header and rows of numbers; returns the file name.
    pub(crate) fn csv(
        &self,
        name: &str,
        header: &[&str],
        rows: impl IntoIterator<Item = Vec<f64>>,
    ) -> Result<String, ReproduceError> {
        let file = format!("{name}.csv");
        let err = |e: &dyn std::fmt::Display| ReproduceError::Write {
            path: format!("data/{file}"),
            message: e.to_string(),
        };
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(header).map_err(|e| err(&e))?;
        for r in rows {
            w.write_record(r.iter().map(|x| fmt_num(*x)))
                .map_err(|e| err(&e))?;
        }
        let bytes = w.into_inner().map_err(|e| err(&e))?;
        self.write(&format!("data/{file}"), &bytes)?;
        Ok(file)
    }

    /// Render `figures/NAME.svg` and `figures/NAME.png`.
    pub(crate) fn figure(&self, name: &str, fig: &plot::Figure) -> Result<(), ReproduceError> {
        let dir = self.out.join("figures");
        plot::render(
            fig,
            &dir.join(format!("{name}.svg")),
            &dir.join(format!("{name}.png")),
        )?;
        Ok(())
    }
}

/// A number for CSV: shortest round-trip form, empty for non-finite values.
fn fmt_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        String::new()
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReproduceError> {
    std::fs::write(path, bytes).map_err(|e| ReproduceError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Run the report's sections, write the report into `opts.out` and return it. `progress`
/// receives one line per step (section started and finished).
pub fn reproduce(
    opts: &Options,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Report, ReproduceError> {
    let start = Instant::now();
    let ids = section_ids();
    if let Some(only) = &opts.only {
        if only.is_empty() {
            return Err(ReproduceError::Input(format!(
                "--only: name at least one section ({})",
                ids.join(", ")
            )));
        }
        for o in only {
            if !ids.contains(&o.as_str()) {
                return Err(ReproduceError::Input(format!(
                    "--only: unknown section {o:?}; the sections are {}",
                    ids.join(", ")
                )));
            }
        }
    }
    let source = Source::locate(opts.experiments.as_deref())?;
    for d in ["", "figures", "data"] {
        let p = opts.out.join(d);
        std::fs::create_dir_all(&p).map_err(|e| ReproduceError::Write {
            path: p.display().to_string(),
            message: e.to_string(),
        })?;
    }
    let ctx = Ctx {
        source: source.clone(),
        scale: opts.scale,
        out: opts.out.clone(),
    };
    let chosen: Vec<_> = sections::ALL
        .iter()
        .filter(|(id, _)| opts.only.as_ref().is_none_or(|o| o.iter().any(|x| x == id)))
        .collect();
    let mut out = Vec::new();
    for (k, (id, build)) in chosen.iter().enumerate() {
        progress(&format!("[{}/{}] {id} ...", k + 1, chosen.len()));
        let t0 = Instant::now();
        let mut s = build(&ctx)?;
        s.seconds = t0.elapsed().as_secs_f64();
        let failed = s.checks.iter().filter(|c| !c.pass).count();
        progress(&format!(
            "[{}/{}] {id}: {} checks, {} failed, {:.1} s",
            k + 1,
            chosen.len(),
            s.checks.len(),
            failed,
            s.seconds
        ));
        out.push(s);
    }
    let report = Report {
        sections: out,
        seconds: start.elapsed().as_secs_f64(),
        source: source.describe(),
    };
    let checks: Vec<&Check> = report.checks().collect();
    let failed = checks.iter().filter(|c| !c.pass).count();
    let doc = ChecksFile {
        saddle_version: env!("CARGO_PKG_VERSION"),
        scale: opts.scale,
        passed: checks.len() - failed,
        failed,
        checks,
    };
    let json = serde_json::to_string_pretty(&doc).map_err(|e| ReproduceError::Write {
        path: "checks.json".into(),
        message: e.to_string(),
    })?;
    ctx.write("checks.json", format!("{json}\n").as_bytes())?;
    let page = html::page(&report, opts, &opts.out)?;
    ctx.write("index.html", page.as_bytes())?;
    Ok(report)
}
