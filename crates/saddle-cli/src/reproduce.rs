//! `saddle reproduce`: the paper's figures and checks as a report (the work is in the
//! `saddle-report` crate; this only maps flags, progress and exit codes).

use crate::input::InputError;
use anyhow::Result;
use saddle_report::source::Scale;
use saddle_report::{plural, reproduce, section_titles, Options, ReproduceError};
use std::path::PathBuf;
use std::process::ExitCode;

/// The sections `--only` accepts, for `saddle reproduce --help`.
pub fn sections_help() -> String {
    let mut s = String::from("Sections (--only):\n");
    for (id, title) in section_titles() {
        s.push_str(&format!("  {id:<7}{title}\n"));
    }
    s
}

/// Run the report; exit 0 when every check passes, 1 when one fails, 2 on bad input.
pub fn run(
    out: PathBuf,
    scale: &str,
    only: Option<Vec<String>>,
    experiments: Option<PathBuf>,
    quiet: bool,
) -> Result<ExitCode> {
    let scale = match scale {
        "quick" => Scale::Quick,
        _ => Scale::Paper,
    };
    let opts = Options {
        out: out.clone(),
        scale,
        only,
        experiments,
        threads: rayon::current_num_threads(),
    };
    let progress = |line: &str| {
        if !quiet {
            note!("{line}");
        }
    };
    let report = match reproduce(&opts, &progress) {
        Ok(r) => r,
        Err(e @ ReproduceError::Input(_)) => return Err(InputError::from_display(e).into()),
        Err(e) => return Err(e.into()),
    };
    let checks: Vec<_> = report.checks().collect();
    let failed: Vec<_> = checks.iter().filter(|c| !c.pass).collect();
    crate::print_line(&format!(
        "saddle reproduce ({} scale): {}, {} passed, {} failed, {:.1} s",
        scale.name(),
        plural(checks.len(), "check"),
        checks.len() - failed.len(),
        failed.len(),
        report.seconds
    ))?;
    for (file, changes) in &report.modified {
        crate::print_line(&format!(
            "modified: {file} differs from the shipped copy: {}",
            changes.join("; ")
        ))?;
    }
    for c in &failed {
        let opt = |name: &str, x: Option<f64>| x.map_or(String::new(), |x| format!(", {name} {x}"));
        crate::print_line(&format!(
            "FAIL {} ({}): {} (measured {}{}{}{}{}{})",
            c.id,
            c.kind.name(),
            c.claim,
            c.measured,
            opt("theory", c.theory),
            opt("tolerance", c.tolerance),
            opt("p-value", c.p_value),
            opt("level", c.level),
            if c.unit.is_empty() {
                String::new()
            } else {
                format!("; unit: {}", c.unit)
            }
        ))?;
    }
    crate::print_line(&format!("report: {}", out.join("index.html").display()))?;
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
