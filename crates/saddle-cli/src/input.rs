//! Turning raw arguments and files into a validated experiment; errors here are the user's
//! (exit code 2).

use crate::ExpArgs;
use anyhow::Result;
use saddle::config::{echo, parse_override, parse_table, set_path, ConfigError, Experiment};
use std::fmt;
use std::io::Read;
use std::path::Path;
use toml::{Table, Value};

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
///
/// An error at a key that a `--set` wrote (or below it) names that `--set`, with its value;
/// any other error names the file.
pub fn load(args: &ExpArgs) -> Result<Loaded> {
    let mut table = read_table(&args.file)?;
    apply_sets(&mut table, &args.set)?;
    let experiment =
        Experiment::from_table(&table).map_err(|e| blame(&args.file, &args.set, &e))?;
    Ok(Loaded { table, experiment })
}

/// The input error for `e`, found in the table built from `file` and the overrides `sets`.
pub fn blame(file: &Path, sets: &[String], e: &ConfigError) -> InputError {
    if let ConfigError::Invalid { path, msg } = e {
        // An unknown key is reported at its own path: an override below it created it.
        let unknown = msg.starts_with("unknown key");
        let by = sets.iter().rev().find(|s| {
            parse_override(s).is_ok_and(|(p, _)| {
                *path == p
                    || path.starts_with(&format!("{p}."))
                    || path.starts_with(&format!("{p}["))
                    || (unknown && p.starts_with(&format!("{path}.")))
            })
        });
        if let Some(s) = by {
            return InputError(format!("--set {}: {e}", echo(s)));
        }
    }
    InputError(format!("{}: {e}", shown(file)))
}

/// A path for a message, shortened like any echoed value.
pub fn shown(path: &Path) -> String {
    echo(&path.display().to_string())
}

/// The largest experiment file read (1 MiB); the largest in experiments/ is a few KB.
pub const MAX_EXPERIMENT_BYTES: u64 = 1 << 20;

/// The text of a user-named input file of at most `max` bytes. Anything but a regular file
/// (a directory, a FIFO, a device such as /dev/zero, a socket) is refused before it is opened,
/// since opening a FIFO blocks until a writer appears and a device may never end.
pub fn read_text(path: &Path, what: &str, max: u64) -> Result<String, InputError> {
    let p = shown(path);
    let meta =
        std::fs::metadata(path).map_err(|e| InputError(format!("cannot read {what} {p}: {e}")))?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a pipe, device or socket)"
        };
        return Err(InputError(format!(
            "cannot read {what} {p}: it is {kind}; give a regular file"
        )));
    }
    let too_big = |size: String| {
        InputError(format!(
            "cannot read {what} {p}: it is {size}; at most {} are read",
            bytes_text(max)
        ))
    };
    if meta.len() > max {
        return Err(too_big(bytes_text(meta.len())));
    }
    let f = std::fs::File::open(path)
        .map_err(|e| InputError(format!("cannot read {what} {p}: {e}")))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InputError(format!("cannot read {what} {p}: {e}")))?;
    if bytes.len() as u64 > max {
        return Err(too_big(format!("more than {}", bytes_text(max))));
    }
    String::from_utf8(bytes).map_err(|e| {
        InputError(format!(
            "cannot read {what} {p}: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// A size for people: `1 MiB (1048576 bytes)`, `2000000 bytes`.
fn bytes_text(n: u64) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB ({n} bytes)", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// An experiment file as a TOML table, not yet validated.
pub fn read_table(path: &Path) -> Result<Table> {
    let text = read_text(path, "experiment file", MAX_EXPERIMENT_BYTES)?;
    Ok(parse_table(&text).map_err(|e| InputError(format!("{}: {e}", shown(path))))?)
}

/// Apply `--set PATH=VALUE` overrides to a table, in order.
pub fn apply_sets(table: &mut Table, sets: &[String]) -> Result<()> {
    for s in sets {
        let (p, v) = parse_override(s).map_err(|_| {
            InputError(format!(
                "--set {}: expected PATH=VALUE, e.g. --set optimizer.lr=0.1",
                echo(s)
            ))
        })?;
        set_path(table, &p, v).map_err(|e| InputError(format!("--set {}: {e}", echo(s))))?;
    }
    Ok(())
}

/// An integer flag as a TOML integer: TOML integers are i64, so a larger value is refused as
/// too large instead of wrapping to a negative number.
pub fn int_value(flag: &str, v: u64) -> Result<Value, InputError> {
    i64::try_from(v)
        .map(Value::Integer)
        .map_err(|_| InputError(format!("{flag}: {v} is too large (at most {})", i64::MAX)))
}

/// The most worker threads: 8 per core the machine has. More threads than that only add
/// start-up time (each is a real OS thread with its own stack and allocator heap) and never
/// change results, which do not depend on the thread count.
pub fn max_threads() -> usize {
    8 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Configure the global thread pool: `--threads`, else rayon's own `RAYON_NUM_THREADS` (held
/// to the same bound), else one thread per core.
pub fn threads(n: Option<usize>) -> Result<()> {
    if n.is_none() {
        if let Ok(v) = std::env::var("RAYON_NUM_THREADS") {
            let max = max_threads();
            if v.trim().parse::<usize>().is_ok_and(|k| k > max) {
                return Err(InputError(format!(
                    "RAYON_NUM_THREADS must be at most {max} (8 per core; got {}); results do \
                     not depend on it",
                    echo(&v)
                ))
                .into());
            }
        }
    }
    if let Some(n) = n {
        let max = max_threads();
        if n == 0 || n > max {
            return Err(InputError(format!(
                "--threads must be between 1 and {max} (8 per core; got {n}); results do not depend on it"
            ))
            .into());
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()?;
    }
    Ok(())
}
