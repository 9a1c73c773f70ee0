//! Turning raw arguments and files into a validated experiment; errors here are the user's
//! (exit code 2).

use crate::ExpArgs;
use anyhow::Result;
use saddle::config::{parse_override, parse_table, set_path, Experiment};
use std::fmt;
use std::path::Path;
use toml::Table;

/// An error in the user's input: a file, a flag or a value (exit code 2).
#[derive(Debug)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

impl InputError {
    /// Wrap any displayable error as an input error.
    pub fn from_display(e: impl fmt::Display) -> Self {
        InputError(e.to_string())
    }
}

/// An experiment file after overrides: the raw table (for sweeps) and the validated
/// experiment.
pub struct Loaded {
    /// The table with overrides applied.
    pub table: Table,
    /// The validated experiment.
    pub experiment: Experiment,
}

/// Read, override and validate an experiment file.
pub fn load(args: &ExpArgs) -> Result<Loaded> {
    let mut table = read_table(&args.file)?;
    apply_sets(&mut table, &args.set)?;
    let experiment = Experiment::from_table(&table)
        .map_err(|e| InputError(format!("{}: {e}", args.file.display())))?;
    Ok(Loaded { table, experiment })
}

/// An experiment file as a TOML table, not yet validated.
pub fn read_table(path: &Path) -> Result<Table> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError(format!("cannot read experiment file {shown}: {e}")))?;
    Ok(parse_table(&text).map_err(|e| InputError(format!("{shown}: {e}")))?)
}

/// Apply `--set PATH=VALUE` overrides to a table, in order.
pub fn apply_sets(table: &mut Table, sets: &[String]) -> Result<()> {
    for s in sets {
        let (p, v) = parse_override(s).map_err(|e| InputError(format!("--set: {e}")))?;
        set_path(table, &p, v).map_err(|e| InputError(format!("--set: {e}")))?;
    }
    Ok(())
}

/// Configure the global thread pool.
pub fn threads(n: Option<usize>) -> Result<()> {
    if let Some(n) = n {
        if n == 0 || n > 4096 {
            return Err(
                InputError(format!("--threads must be between 1 and 4096 (got {n})")).into(),
            );
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()?;
    }
    Ok(())
}
