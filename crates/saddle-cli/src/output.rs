//! Output files (written atomically: a temporary file in the same directory, then a rename)
//! and the human-readable summary. Formats are documented in docs/output.md.

use anyhow::{Context, Result};
use saddle::config::{display_num, Experiment};
use saddle::experiment::Summary;
use saddle::observe::{Histogram, Status};
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// The temporary file [`write_atomic_with`] writes `path` through: `.NAME.tmpPID` in the same
/// directory.
fn tmp_path(path: &Path) -> Result<PathBuf> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .context("output path has no file name")?
        .to_string_lossy();
    Ok(dir.join(format!(".{name}.tmp{}", std::process::id())))
}

/// Write what `fill` writes to `path` atomically: into a temporary file in the same
/// directory (buffered), synced, then renamed over `path`. On any error (a full disk, a
/// failed rename) the temporary file is removed, so a failed write leaves `path` as it was
/// and nothing else behind.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = tmp_path(path)?;
    let f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let written = (|| -> Result<()> {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
        fill(&mut w).with_context(|| format!("cannot write {}", tmp.display()))?;
        let f = w
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        drop(f);
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
    })();
    if written.is_err() {
        // Best effort: the write's own error is the one to report.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Create an output directory (and parents).
pub fn ensure_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        crate::input::InputError(format!(
            "cannot create output directory {}: {e}",
            dir.display()
        ))
    })?;
    Ok(())
}

/// The files `saddle run --out` writes (docs/output.md).
pub const RUN_FILES: &[&str] = &[
    "config.toml",
    "summary.json",
    "histograms.csv",
    "histograms2d.csv",
    "trace.csv",
    "escape_rate.csv",
    "final_states.csv",
];

/// The files `saddle sweep` and `saddle merge` write (docs/output.md).
pub const SWEEP_FILES: &[&str] = &[
    "sweep.toml",
    "shard.txt",
    "journal.jsonl",
    "journal.csv",
    "sweep.csv",
    "sweep.jsonl",
];

/// The advisory lock file of an output directory: created and locked (flock) by the one
/// saddle process that writes the directory, for as long as it writes, and removed when it is
/// done (a killed process leaves it, unlocked: its lock died with it, and the next process
/// takes it over).
pub const LOCK_FILE: &str = ".saddle.lock";

/// How a command may use an output directory that already holds saddle output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Refuse it (exit 2): the default of `run --out`, `sweep` and `merge`.
    Fresh,
    /// Remove saddle's files in it first (`--force`); other files are left alone.
    Replace,
    /// Continue the sweep in it (`sweep --resume`): it must exist.
    Resume,
}

/// An output directory this process holds the lock of, until dropped.
pub struct OutDir {
    /// The lock file, locked, and its path (None where locks are not supported).
    lock: Option<(std::fs::File, PathBuf)>,
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if let Some((file, path)) = self.lock.take() {
            // Removed while still locked: a process that opened it meanwhile finds it locked,
            // or, once it is unlocked, no longer at `path` (see `lock`), and tries again.
            let _ = std::fs::remove_file(&path);
            drop(file);
        }
    }
}

/// Lock `dir` for this process: `Ok(None)` where the file system has no locks (with a
/// warning), an [`InputError`](crate::input::InputError) when another process holds it.
fn lock(dir: &Path) -> Result<Option<(std::fs::File, PathBuf)>> {
    let path = dir.join(LOCK_FILE);
    let busy = || {
        crate::input::InputError(format!(
            "{} is in use by another saddle process (it holds {}); wait for it to finish, or choose another --out",
            dir.display(),
            path.display()
        ))
    };
    // A few tries: the holder may remove the file between our open and our lock.
    for _ in 0..100 {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                crate::input::InputError(format!(
                    "cannot write into output directory {}: {e}",
                    dir.display()
                ))
            })?;
        match fs4::FileExt::try_lock(&f) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => return Err(busy().into()),
            Err(fs4::TryLockError::Error(e)) => {
                note!(
                    "warning: cannot lock {} ({e}); nothing stops another saddle process from writing {} at the same time",
                    path.display(),
                    dir.display()
                );
                return Ok(None);
            }
        }
        // The file locked must still be the one at `path` (not one its last holder removed).
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let same = match (f.metadata(), std::fs::metadata(&path)) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            };
            if !same {
                continue;
            }
        }
        return Ok(Some((f, path)));
    }
    Err(busy().into())
}

impl OutDir {
    /// Claim `dir` for writing by `command` (e.g. "sweep"): create it (unless resuming), take
    /// its lock (exit 2 if another saddle process holds it), delete the temporary files a
    /// killed saddle process left in it, and apply the `how` policy to the saddle output
    /// already there. `hint` names the flags that would accept an occupied directory.
    pub fn claim(dir: &Path, how: Claim, command: &str, hint: &str) -> Result<OutDir> {
        if how == Claim::Resume {
            if !dir.is_dir() {
                return Err(crate::input::InputError(format!(
                    "--resume: {} holds no sweep to resume (not a directory)",
                    dir.display()
                ))
                .into());
            }
        } else {
            ensure_dir(dir)?;
        }
        let held = OutDir { lock: lock(dir)? };
        remove_stale_tmp(dir)?;
        let present: Vec<&str> = RUN_FILES
            .iter()
            .chain(SWEEP_FILES)
            .copied()
            .filter(|f| std::fs::symlink_metadata(dir.join(f)).is_ok())
            .collect();
        match how {
            Claim::Fresh if !present.is_empty() => {
                let what = if present.iter().any(|f| SWEEP_FILES.contains(f)) {
                    "a sweep"
                } else {
                    "the output of `saddle run`"
                };
                return Err(crate::input::InputError(format!(
                    "{command} --out {}: the directory already holds {what} ({}); pass {hint} or choose another --out",
                    dir.display(),
                    present.join(", ")
                ))
                .into());
            }
            Claim::Replace => {
                for f in present {
                    let p = dir.join(f);
                    std::fs::remove_file(&p)
                        .with_context(|| format!("--force: cannot remove {}", p.display()))?;
                }
            }
            _ => {}
        }
        Ok(held)
    }
}

/// Delete the temporary files of [`write_atomic_with`] for saddle's own output names
/// (`.NAME.tmpPID`) left in `dir` by a process that was killed or failed mid-write. Called
/// with the directory's lock held, so no live saddle process is writing them.
fn remove_stale_tmp(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(_) => return Ok(()),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let ours = RUN_FILES.iter().chain(SWEEP_FILES).any(|f| {
            name.strip_prefix('.')
                .and_then(|n| n.strip_prefix(f))
                .and_then(|n| n.strip_prefix(".tmp"))
                .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        });
        if ours {
            let p = entry.path();
            std::fs::remove_file(&p)
                .with_context(|| format!("cannot remove the stale {}", p.display()))?;
        }
    }
    Ok(())
}

fn csv_bytes(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record(header)?;
    for r in rows {
        w.write_record(&r)?;
    }
    Ok(w.into_inner()?)
}

/// Format a number for CSV: the shortest text that reads back as the same f64, with an
/// exponent for very small or large magnitudes (`1e-300`, not 300 zeros).
pub fn num(x: f64) -> String {
    format!("{x:?}")
}

/// Format an optional number; empty when absent.
pub fn opt(x: Option<f64>) -> String {
    x.map(num).unwrap_or_default()
}

/// `--out DIR` of `saddle run`.
pub fn write_run(dir: &Path, e: &Experiment, s: &Summary) -> Result<()> {
    // The directory was claimed ([`OutDir::claim`]) before the run: it holds no saddle output
    // of another run, so it never mixes runs.
    write_atomic(&dir.join("config.toml"), e.to_toml().as_bytes())?;
    write_atomic(
        &dir.join("summary.json"),
        serde_json::to_string_pretty(s)?.as_bytes(),
    )?;
    let hist_rows = |hs: &[Histogram]| -> Vec<Vec<String>> {
        let mut rows = vec![];
        for (k, h) in hs.iter().enumerate() {
            let width: Vec<f64> = (0..h.bins.len())
                .map(|a| (h.hi[a] - h.lo[a]) / h.bins[a] as f64)
                .collect();
            for (i, c) in h.counts.iter().enumerate() {
                let mut r = vec![k.to_string(), h.step.to_string()];
                let idx = if h.bins.len() == 2 {
                    vec![i / h.bins[1], i % h.bins[1]]
                } else {
                    vec![i]
                };
                for (a, j) in idx.iter().enumerate() {
                    r.push(format!("w{}", h.params[a] + 1));
                    r.push(num(h.lo[a] + width[a] * *j as f64));
                    r.push(num(h.lo[a] + width[a] * (*j + 1) as f64));
                }
                r.push(c.to_string());
                rows.push(r);
            }
        }
        rows
    };
    if !s.histograms.is_empty() {
        let b = csv_bytes(
            &["histogram", "step", "param", "lo", "hi", "count"],
            hist_rows(&s.histograms),
        )?;
        write_atomic(&dir.join("histograms.csv"), &b)?;
    }
    if !s.histograms2d.is_empty() {
        let b = csv_bytes(
            &[
                "histogram",
                "step",
                "param_x",
                "x_lo",
                "x_hi",
                "param_y",
                "y_lo",
                "y_hi",
                "count",
            ],
            hist_rows(&s.histograms2d),
        )?;
        write_atomic(&dir.join("histograms2d.csv"), &b)?;
    }
    if !s.trace.is_empty() {
        let rows = s.trace.iter().map(|p| {
            vec![
                p.t.to_string(),
                opt(p.mean_loss),
                opt(p.loss_stderr),
                opt(p.mean_norm),
                opt(p.norm_stderr),
                p.n.to_string(),
                p.diverged.to_string(),
                p.absorbed.to_string(),
            ]
        });
        let b = csv_bytes(
            &[
                "t",
                "mean_loss",
                "loss_stderr",
                "mean_norm",
                "norm_stderr",
                "n",
                "diverged",
                "absorbed",
            ],
            rows,
        )?;
        write_atomic(&dir.join("trace.csv"), &b)?;
    }
    if !s.escape_rate.is_empty() {
        let rows = s.escape_rate.iter().map(|p| {
            vec![
                p.t.to_string(),
                opt(p.value),
                opt(p.stderr),
                p.n.to_string(),
                p.excluded.to_string(),
            ]
        });
        let b = csv_bytes(&["t", "gamma", "stderr", "n", "excluded"], rows)?;
        write_atomic(&dir.join("escape_rate.csv"), &b)?;
    }
    if let Some(fs) = &s.final_states {
        let d = fs.first().map_or(0, |f| f.w.len());
        let mut header = vec!["run".to_string(), "status".into(), "step".into()];
        header.extend((1..=d).map(|i| format!("w{i}")));
        let rows = fs.iter().map(|f| {
            let (st, step) = match f.status {
                Status::Alive => ("alive", String::new()),
                Status::Diverged(t) => ("diverged", t.to_string()),
                Status::Absorbed(t) => ("absorbed", t.to_string()),
            };
            let mut r = vec![f.run.to_string(), st.into(), step];
            r.extend(f.w.iter().map(|x| num(*x)));
            r
        });
        let h: Vec<&str> = header.iter().map(String::as_str).collect();
        write_atomic(&dir.join("final_states.csv"), &csv_bytes(&h, rows)?)?;
    }
    Ok(())
}

/// A number for people: fixed point in a readable range, else with an exponent.
fn show(v: f64) -> String {
    if v == 0.0 || (1e-4..1e6).contains(&v.abs()) {
        format!("{v:.6}")
    } else {
        format!("{v:.4e}")
    }
}

fn pm(v: Option<f64>, se: Option<f64>) -> String {
    match (v, se) {
        (Some(v), Some(se)) => format!("{} ± {se:.2e}", show(v)),
        (Some(v), None) => show(v),
        _ => "n/a".into(),
    }
}

/// A bin edge for people: four decimals in a readable range, else an exponent (never hundreds
/// of digits).
fn edge(x: f64) -> String {
    if x == 0.0 || (1e-3..1e6).contains(&x.abs()) {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

/// The most rows of a text histogram; more bins are merged, adjacent ones summed.
const HIST_ROWS: usize = 20;
/// The most rows of the text trace; longer traces are shown at evenly spread points.
const TRACE_ROWS: usize = 30;

/// The heading of a 1-D histogram, saying when its bins are merged for display.
fn histogram_heading(h: &Histogram) -> String {
    let n = h.counts.len();
    let group = n.div_ceil(HIST_ROWS).max(1);
    let mut head = format!("histogram of w{} at step {}", h.params[0] + 1, h.step);
    if group > 1 {
        head += &format!(
            " ({n} bins shown as {}, {group} merged per row; all {n} in --json or --out)",
            n.div_ceil(group)
        );
    }
    head + ":"
}

/// A compact text histogram (at most 20 rows, merging adjacent bins).
fn text_histogram(out: &mut String, h: &Histogram) {
    let n = h.counts.len();
    let group = n.div_ceil(HIST_ROWS).max(1);
    let width = (h.hi[0] - h.lo[0]) / n as f64;
    let merged: Vec<(f64, f64, u64)> = (0..n)
        .step_by(group)
        .map(|i| {
            let j = (i + group).min(n);
            (
                h.lo[0] + width * i as f64,
                h.lo[0] + width * j as f64,
                h.counts[i..j].iter().sum(),
            )
        })
        .collect();
    let max = merged.iter().map(|m| m.2).max().unwrap_or(0).max(1);
    for (lo, hi, c) in merged {
        let bar = "#".repeat(((c as f64 / max as f64) * 40.0).round() as usize);
        let _ = writeln!(out, "  [{:>9}, {:>9})  {c:>8}  {bar}", edge(lo), edge(hi));
    }
    if h.underflow + h.overflow + h.excluded > 0 {
        let _ = writeln!(
            out,
            "  below range {}, above range {}, diverged (left out) {}",
            h.underflow, h.overflow, h.excluded
        );
    }
}

/// The requested trace (`observe.trace`) as a table: step, mean loss, mean |w|, runs averaged;
/// at most [`TRACE_ROWS`] rows, evenly spread over the trace (first and last always shown).
fn text_trace(out: &mut String, s: &Summary) {
    let n = s.trace.len();
    if n == 0 {
        return;
    }
    let rows: Vec<usize> = if n <= TRACE_ROWS {
        (0..n).collect()
    } else {
        let mut r: Vec<usize> = (0..TRACE_ROWS)
            .map(|i| i * (n - 1) / (TRACE_ROWS - 1))
            .collect();
        r.dedup();
        r
    };
    let shown = if rows.len() < n {
        format!(
            ", {} of {n} points shown; all in --json or --out",
            rows.len()
        )
    } else {
        String::new()
    };
    let _ = writeln!(out, "trace ({n} points{shown}):");
    let _ = writeln!(
        out,
        "  {:>12}  {:>14}  {:>14}  {:>10}",
        "step", "mean loss", "mean |w|", "n"
    );
    let cell = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), show);
    for &i in &rows {
        let p = &s.trace[i];
        let _ = writeln!(
            out,
            "  {:>12}  {:>14}  {:>14}  {:>10}",
            p.t,
            cell(p.mean_loss),
            cell(p.mean_norm),
            p.n
        );
    }
}

/// The human-readable summary printed by `saddle run`.
pub fn human(e: &Experiment, s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}: {} model, {} optimizer (lr {}), {} runs x {} steps, seed {}",
        s.name,
        s.model,
        s.optimizer,
        display_num(e.optimizer.lr),
        s.runs,
        s.steps,
        s.seed
    );
    if let Some(dt) = s.dt {
        let _ = writeln!(
            o,
            "continuous time (Eq. 49): {} with dt = {}, so step t is time t*dt (T*dt = {}); C(w): {}",
            e.optimizer.sde().map(|s| s.scheme).unwrap_or_default().name(),
            display_num(dt),
            display_num(s.steps as f64 * dt),
            e.diffusion.kind()
        );
    }
    if s.mode == "exact" {
        let _ = writeln!(
            o,
            "mode: exact (w_t = w0 * prod(1 - lr*x) drawn from its exact law at the record steps, not stepped)"
        );
    }
    let _ = writeln!(
        o,
        "diverged: {}   absorbed at 0: {}",
        s.diverged, s.absorbed
    );
    if let Some(esc) = &s.escape {
        let _ = writeln!(
            o,
            "escape fraction P(|w_T - w*| >= {}): {:.4} ± {:.4}",
            display_num(esc.delta),
            esc.value,
            esc.stderr
        );
    }
    let _ = writeln!(
        o,
        "mean loss L(w_T): {}",
        pm(s.mean_loss_final, s.mean_loss_final_stderr)
    );
    let _ = writeln!(
        o,
        "mean |w_T|: {}",
        pm(s.mean_norm_final, s.mean_norm_final_stderr)
    );
    for g in &s.escape_rate {
        let _ = writeln!(
            o,
            "escape rate gamma({}): {} (n = {}, left out = {})",
            g.t,
            pm(g.value, g.stderr),
            g.n,
            g.excluded
        );
    }
    text_trace(&mut o, s);
    for h in &s.histograms {
        let _ = writeln!(o, "{}", histogram_heading(h));
        text_histogram(&mut o, h);
    }
    for h in &s.histograms2d {
        let _ = writeln!(
            o,
            "2-D histogram of (w{}, w{}) at step {}: {} bins, see --json or --out",
            h.params[0] + 1,
            h.params[1] + 1,
            h.step,
            h.counts.len()
        );
    }
    o
}
