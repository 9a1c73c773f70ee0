//! `saddle`: run ensembles and sweeps of stochastic optimizers from experiment files.
//!
//! The binary is thin: raw flags become a validated configuration ([`input::load`]) before anything
//! runs, the science lives in the `saddle` library, and this crate only handles files,
//! terminal output and exit codes (0 success, 1 failure while running, 2 bad input).

/// `eprintln!` that never panics: a message to a closed or full stderr is dropped (the exit
/// code still tells the outcome).
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod bench;
mod input;
mod output;
mod progress;
mod reproduce;
mod sorted;
mod sweep;
mod theory;

use anyhow::Result;
use clap::{Parser, Subcommand};
use input::InputError;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc instead of the system allocator: a sweep builds, summarises and frees a few small
/// objects per cell on every thread, thousands of cells a second, where glibc's per-thread
/// arenas grow and shrink their heaps (an `mprotect` call and page faults each time).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "saddle", version, about = "Noise-driven dynamics of stochastic optimizers: ensembles, sweeps and escape statistics", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options shared by commands that read an experiment file.
#[derive(clap::Args, Debug, Clone)]
pub struct ExpArgs {
    /// Experiment file (TOML); see docs/experiment-files.md
    pub file: PathBuf,
    /// Override a key of the file, e.g. --set optimizer.lr=0.1 (repeatable)
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
}

/// Options for commands that simulate.
#[derive(clap::Args, Debug, Clone)]
pub struct RunOpts {
    /// Worker threads (default: all cores); results do not depend on it
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one ensemble and print its summary
    Run {
        #[command(flatten)]
        exp: ExpArgs,
        /// Write the resolved config, summary.json and CSV tables into DIR (refused if DIR
        /// already holds saddle output, unless --force)
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Replace the saddle output already in --out DIR (other files are left alone)
        #[arg(long, requires = "out")]
        force: bool,
        /// Print the summary as one JSON document (schema: docs/output.md)
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        opts: RunOpts,
    },
    /// Run every cell of the file's [sweep] grid, appending each result as it finishes
    Sweep {
        #[command(flatten)]
        exp: ExpArgs,
        /// Output directory (default: sweep-<name>)
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Continue an interrupted sweep in DIR, skipping finished cells
        #[arg(long)]
        resume: bool,
        /// Replace the saddle output already in DIR and start the sweep afresh (other files
        /// are left alone)
        #[arg(long, conflicts_with = "resume")]
        force: bool,
        /// Run only cells k with k mod N = K-1 (K in 1..=N), e.g. --shard 2/4
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        #[command(flatten)]
        opts: RunOpts,
    },
    /// Merge the output directories of sharded sweeps into one
    Merge {
        /// Output directory (refused if it already holds saddle output, unless --force)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Replace the saddle output already in --out DIR (other files are left alone)
        #[arg(long)]
        force: bool,
        /// Shard directories written by `saddle sweep --shard`
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Print the fully resolved experiment, defaults filled in
    Describe {
        #[command(flatten)]
        exp: ExpArgs,
    },
    /// The paper's theory: closed forms, phase boundaries, escape rates and probabilities,
    /// stationary densities, Fokker–Planck, designed noise (docs/theory.md)
    Theory {
        #[command(subcommand)]
        command: theory::TheoryCommand,
    },
    /// Reproduce every figure and checked claim of the paper into a report directory
    /// (DIR/index.html, checks.json, figures/, data/; docs/report.md). Exit status 1 when a
    /// check fails (a claim of the paper or an agreement with theory)
    #[command(after_help = reproduce::sections_help())]
    Reproduce {
        /// Report directory: new, empty, or a previous report's (only files the previous
        /// report wrote are replaced or removed)
        #[arg(long, value_name = "DIR", default_value = "saddle-report")]
        out: PathBuf,
        /// paper: the paper's run counts and grids; quick: smaller ensembles, a few seconds
        #[arg(long, default_value = "paper", value_parser = ["paper", "quick"])]
        scale: String,
        /// Comma-separated sections to run, e.g. --only fig1,fig3 (default: all; listed below)
        #[arg(long, value_name = "IDS", value_delimiter = ',')]
        only: Option<Vec<String>>,
        /// Directory of experiment files (default: experiments/ if present, else the copies
        /// built into saddle)
        #[arg(long, value_name = "DIR")]
        experiments: Option<PathBuf>,
        /// Worker threads (default: all cores); results do not depend on it
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        /// No progress lines
        #[arg(long, short)]
        quiet: bool,
    },
    /// Time the canonical workloads (quad-phase, nn-sweep, adaptive) in steps per second
    Bench {
        /// Workload size: quick or paper
        #[arg(long, default_value = "quick", value_parser = ["quick", "paper"])]
        size: String,
        /// Comma-separated workloads
        #[arg(long, default_value = "quad-phase,nn-sweep,adaptive", value_delimiter = ',', value_parser = ["quad-phase", "nn-sweep", "adaptive"])]
        work: Vec<String>,
        /// Print results as JSON lines
        #[arg(long)]
        json: bool,
        /// Write each workload's per-cell answers to DIR/WORK.json, in the layout of the peer
        /// programs' --out files (for scripts/bench-vs-peers.sh)
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        #[command(flatten)]
        opts: RunOpts,
    },
}

/// Writing to standard output failed. A closed pipe (`saddle run … | head`) ends the program
/// quietly with exit code 0, as the reader asked for no more; any other error (a full disk,
/// /dev/full) is reported with exit code 1.
#[derive(Debug)]
pub struct StdoutError(pub std::io::Error);

impl std::fmt::Display for StdoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write to standard output: {}", self.0)
    }
}

impl std::error::Error for StdoutError {}

/// Write `text` to standard output and flush it, returning write errors instead of
/// panicking as `print!` does. Every command prints through this.
pub fn print_text(text: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())
        .and_then(|()| o.flush())
        .map_err(|e| StdoutError(e).into())
}

/// [`print_text`] with a newline.
pub fn print_line(text: &str) -> Result<()> {
    print_text(&format!("{text}\n"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let closed_pipe = e.chain().any(|c| {
                c.downcast_ref::<StdoutError>()
                    .is_some_and(|s| s.0.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if closed_pipe {
                return ExitCode::SUCCESS;
            }
            // stderr may be unwritable too: never panic over a message.
            let msg = saddle::config::compact_numbers(&format!("{e:#}"));
            let _ = writeln!(std::io::stderr(), "error: {msg}");
            if e.chain().any(|c| c.downcast_ref::<InputError>().is_some()) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run {
            exp,
            out,
            force,
            json,
            opts,
        } => {
            input::threads(opts.threads)?;
            let loaded = input::load(&exp)?;
            let e = &loaded.experiment;
            if let Some(g) = &e.sweep {
                let _ = writeln!(
                    std::io::stderr(),
                    "note: {} has a [sweep] grid of {} cells; `run` runs its base point only; use `saddle sweep`",
                    input::shown(&exp.file),
                    g.len()
                );
            }
            // Claimed (locked, checked) before the run, so an occupied DIR fails at once.
            let claim = if force {
                output::Claim::Replace
            } else {
                output::Claim::Fresh
            };
            let _held = out
                .as_deref()
                .map(|d| output::OutDir::claim(d, claim, "run", "--force to replace it"))
                .transpose()?;
            let bar = progress::bar(e.runs, "runs", opts.quiet);
            let tick = |n: u64| bar.inc(n);
            // Final states are kept only where they are written (`--out`).
            let run = if out.is_some() {
                saddle::experiment::run
            } else {
                saddle::experiment::run_summary
            };
            let summary = run(e, 0, Some(&tick)).map_err(InputError::from_display)?;
            bar.finish_and_clear();
            if let Some(dir) = out {
                output::write_run(&dir, e, &summary)?;
            }
            if json {
                print_line(&serde_json::to_string_pretty(&summary)?)?;
            } else {
                print_text(&output::human(e, &summary))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Sweep {
            exp,
            out,
            resume,
            force,
            shard,
            opts,
        } => {
            input::threads(opts.threads)?;
            let claim = match (resume, force) {
                (true, _) => output::Claim::Resume,
                (false, true) => output::Claim::Replace,
                (false, false) => output::Claim::Fresh,
            };
            sweep::run(&exp, out, claim, shard.as_deref(), opts.quiet)
        }
        Command::Merge { out, force, dirs } => sweep::merge(&out, force, &dirs),
        Command::Describe { exp } => {
            let loaded = input::load(&exp)?;
            print_text(&loaded.experiment.to_toml())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Theory { command } => theory::run(command),
        Command::Reproduce {
            out,
            scale,
            only,
            experiments,
            threads,
            quiet,
        } => {
            input::threads(threads)?;
            reproduce::run(out, &scale, only, experiments, quiet)
        }
        Command::Bench {
            size,
            work,
            json,
            out,
            opts,
        } => {
            input::threads(opts.threads)?;
            bench::run(&size, &work, json, opts.quiet, out.as_deref())
        }
    }
}
