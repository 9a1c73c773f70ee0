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
//! - `data/NAME*.csv`: the numbers behind each figure;
//! - `.saddle-report`: the manifest, the list of files the report wrote ([`MANIFEST`]).
//!
//! The directory holds exactly what the page shows: a later run into the same directory
//! removes the files the previous report wrote (listed in its manifest) that it does not write
//! again, and never touches other files. A non-empty directory without a manifest is refused.

pub mod checks;
mod html;
pub mod plot;
mod sections;
pub mod source;

use checks::Check;
use serde::Serialize;
use source::{Scale, Source};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// The manifest file in the report directory: its first line is [`MANIFEST_HEADER`], then one
/// relative path per line of every file the report wrote.
pub const MANIFEST: &str = ".saddle-report";
/// The manifest's first line.
const MANIFEST_HEADER: &str = "# saddle reproduce: files written by this report";

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
    /// The experiment files that differ from the copies shipped in the binary, each with its
    /// differing keys (`key: shipped → used`).
    pub modified: Vec<(String, Vec<String>)>,
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
    sections::ALL.iter().map(|(id, _, _)| *id).collect()
}

/// The sections in report order: (id, title).
pub fn section_titles() -> Vec<(&'static str, &'static str)> {
    sections::ALL.iter().map(|(id, t, _)| (*id, *t)).collect()
}

/// The `checks.json` document.
#[derive(Serialize)]
struct ChecksFile<'a> {
    saddle_version: &'static str,
    scale: Scale,
    /// Experiment files that differ from the shipped ones.
    modified_files: Vec<ModifiedFile>,
    passed: usize,
    failed: usize,
    checks: Vec<&'a Check>,
}

/// An experiment file that differs from the shipped copy.
#[derive(Serialize)]
struct ModifiedFile {
    file: String,
    changes: Vec<String>,
}

/// What a section builder gets: where to read experiments and write files.
pub(crate) struct Ctx {
    source: Source,
    scale: Scale,
    out: PathBuf,
    /// Every file written, relative to `out`.
    written: Mutex<BTreeSet<String>>,
    /// The experiment files read that differ from the shipped ones.
    modified: Mutex<Vec<(String, Vec<String>)>>,
}

impl Ctx {
    fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), ReproduceError> {
        self.record(rel);
        write_file(&self.out.join(rel), bytes)
    }

    fn record(&self, rel: &str) {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(rel.to_string());
    }

    /// Note that experiment file `name` was read, with how it differs from the shipped copy.
    pub(crate) fn note_source(&self, name: &str) -> Result<(), ReproduceError> {
        let changes = self.source.changes(name)?;
        if !changes.is_empty() {
            let mut m = self.modified.lock().unwrap_or_else(|e| e.into_inner());
            if !m.iter().any(|(n, _)| n == name) {
                m.push((format!("{name}.toml"), changes));
            }
        }
        Ok(())
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
        self.record(&format!("figures/{name}.svg"));
        self.record(&format!("figures/{name}.png"));
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

/// "1 check", "2 checks".
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Whether `rel` is a path the report itself writes (so a manifest cannot name any other file
/// for removal): `index.html`, `checks.json`, `figures/NAME.svg|png`, `data/NAME.csv`, NAME of
/// ASCII letters, digits, `-`, `_` and `.` without `..`.
fn is_report_path(rel: &str) -> bool {
    let ok_name = |n: &str, exts: &[&str]| {
        !n.is_empty()
            && !n.contains("..")
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && exts.iter().any(|e| n.ends_with(e))
    };
    match rel.split_once('/') {
        None => rel == "index.html" || rel == "checks.json",
        Some(("figures", n)) => ok_name(n, &[".svg", ".png"]),
        Some(("data", n)) => ok_name(n, &[".csv"]),
        _ => false,
    }
}

/// Prepare the report directory: create it if missing; accept it if empty or a previous
/// report (it has a manifest); refuse anything else. Returns the files the previous report
/// wrote, to remove those not written again.
fn prepare_out(out: &Path) -> Result<Vec<String>, ReproduceError> {
    let shown = out.display().to_string();
    if out.exists() && !out.is_dir() {
        return Err(ReproduceError::Input(format!(
            "--out {shown}: exists and is not a directory"
        )));
    }
    let mut previous = Vec::new();
    if out.is_dir() {
        let manifest = out.join(MANIFEST);
        if manifest.is_file() {
            let text = std::fs::read_to_string(&manifest).map_err(|e| ReproduceError::Write {
                path: manifest.display().to_string(),
                message: e.to_string(),
            })?;
            if text.lines().next() != Some(MANIFEST_HEADER) {
                return Err(ReproduceError::Input(format!(
                    "--out {shown}: {MANIFEST} is not a saddle report manifest; choose another \
                     directory"
                )));
            }
            previous = text
                .lines()
                .skip(1)
                .filter(|l| is_report_path(l))
                .map(String::from)
                .collect();
        } else {
            let non_empty = std::fs::read_dir(out)
                .map_err(|e| ReproduceError::Write {
                    path: shown.clone(),
                    message: e.to_string(),
                })?
                .next()
                .is_some();
            if non_empty {
                return Err(ReproduceError::Input(format!(
                    "--out {shown}: the directory is not empty and holds no saddle report (no \
                     {MANIFEST} manifest); name a new or empty directory, or a previous report's"
                )));
            }
        }
    }
    for d in ["", "figures", "data"] {
        let p = out.join(d);
        std::fs::create_dir_all(&p).map_err(|e| ReproduceError::Write {
            path: p.display().to_string(),
            message: e.to_string(),
        })?;
    }
    Ok(previous)
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
    let previous = prepare_out(&opts.out)?;
    let ctx = Ctx {
        source: source.clone(),
        scale: opts.scale,
        out: opts.out.clone(),
        written: Mutex::new(BTreeSet::new()),
        modified: Mutex::new(Vec::new()),
    };
    let chosen: Vec<_> = sections::ALL
        .iter()
        .filter(|(id, _, _)| opts.only.as_ref().is_none_or(|o| o.iter().any(|x| x == id)))
        .collect();
    let mut out = Vec::new();
    for (k, (id, _, build)) in chosen.iter().enumerate() {
        progress(&format!("[{}/{}] {id} ...", k + 1, chosen.len()));
        let t0 = Instant::now();
        let mut s = build(&ctx)?;
        s.seconds = t0.elapsed().as_secs_f64();
        let failed = s.checks.iter().filter(|c| !c.pass).count();
        progress(&format!(
            "[{}/{}] {id}: {}, {failed} failed, {:.1} s",
            k + 1,
            chosen.len(),
            plural(s.checks.len(), "check"),
            s.seconds
        ));
        out.push(s);
    }
    let report = Report {
        sections: out,
        seconds: start.elapsed().as_secs_f64(),
        source: source.describe(),
        modified: std::mem::take(&mut *ctx.modified.lock().unwrap_or_else(|e| e.into_inner())),
    };
    let checks: Vec<&Check> = report.checks().collect();
    let failed = checks.iter().filter(|c| !c.pass).count();
    let doc = ChecksFile {
        saddle_version: env!("CARGO_PKG_VERSION"),
        scale: opts.scale,
        modified_files: report
            .modified
            .iter()
            .map(|(f, c)| ModifiedFile {
                file: f.clone(),
                changes: c.clone(),
            })
            .collect(),
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
    // The directory holds what this page shows: the previous report's files not written
    // again go, then the manifest lists this report's files.
    let written = std::mem::take(&mut *ctx.written.lock().unwrap_or_else(|e| e.into_inner()));
    for rel in previous.iter().filter(|r| !written.contains(*r)) {
        let p = opts.out.join(rel);
        if p.is_file() {
            std::fs::remove_file(&p).map_err(|e| ReproduceError::Write {
                path: p.display().to_string(),
                message: format!("removing a stale report file: {e}"),
            })?;
        }
    }
    let mut manifest = format!("{MANIFEST_HEADER}\n");
    for rel in &written {
        manifest.push_str(rel);
        manifest.push('\n');
    }
    write_file(&opts.out.join(MANIFEST), manifest.as_bytes())?;
    Ok(report)
}
