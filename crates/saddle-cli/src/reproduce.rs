//! `saddle reproduce`: the paper's figures and checks as a report (the work is in the
//! `saddle-report` crate; this only maps flags, progress and exit codes).

use crate::input::InputError;
use anyhow::Result;
use saddle_report::source::Scale;
use saddle_report::{reproduce, Options, ReproduceError};
use std::path::PathBuf;
use std::process::ExitCode;

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
            eprintln!("{line}");
        }
    };
    let report = match reproduce(&opts, &progress) {
        Ok(r) => r,
        Err(e @ ReproduceError::Input(_)) => return Err(InputError::from_display(e).into()),
        Err(e) => return Err(e.into()),
    };
    let checks: Vec<_> = report.checks().collect();
    let failed: Vec<_> = checks.iter().filter(|c| !c.pass).collect();
    println!(
        "saddle reproduce ({} scale): {} checks, {} passed, {} failed, {:.1} s",
        scale.name(),
        checks.len(),
        checks.len() - failed.len(),
        failed.len(),
        report.seconds
    );
    for c in &failed {
        println!(
            "FAIL {}: {} (theory {}, measured {}, tolerance {})",
            c.id, c.claim, c.theory, c.measured, c.tolerance
        );
    }
    println!("report: {}", out.join("index.html").display());
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
