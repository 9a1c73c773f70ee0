//! Output files (written atomically: a temporary file in the same directory, then a rename)
//! and the human-readable summary. Formats are documented in docs/output.md.

use anyhow::{Context, Result};
use saddle::config::Experiment;
use saddle::experiment::Summary;
use saddle::observe::{Histogram, Status};
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

/// Write `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Write what `fill` writes to `path` atomically: into a temporary file in the same
/// directory (buffered), synced, then renamed over `path`.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .context("output path has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
    fill(&mut w).with_context(|| format!("cannot write {}", tmp.display()))?;
    let f = w
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
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
    ensure_dir(dir)?;
    // Tables this run does not produce are removed, so the directory never mixes runs.
    for stale in [
        "histograms.csv",
        "histograms2d.csv",
        "trace.csv",
        "escape_rate.csv",
        "final_states.csv",
    ] {
        let p = dir.join(stale);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
        }
    }
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

/// A compact text histogram (at most 20 rows, merging adjacent bins).
fn text_histogram(out: &mut String, h: &Histogram) {
    let n = h.counts.len();
    let group = n.div_ceil(20);
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
        let _ = writeln!(out, "  [{lo:>9.4}, {hi:>9.4})  {c:>8}  {bar}");
    }
    if h.underflow + h.overflow + h.excluded > 0 {
        let _ = writeln!(
            out,
            "  below range {}, above range {}, diverged (left out) {}",
            h.underflow, h.overflow, h.excluded
        );
    }
}

/// The human-readable summary printed by `saddle run`.
pub fn human(e: &Experiment, s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}: {} model, {} optimizer (lr {}), {} runs x {} steps, seed {}",
        s.name, s.model, s.optimizer, e.optimizer.lr, s.runs, s.steps, s.seed
    );
    if let Some(dt) = s.dt {
        let _ = writeln!(
            o,
            "continuous time (Eq. 49): {} with dt = {dt}, so step t is time t*dt (T*dt = {}); C(w): {}",
            e.optimizer.scheme.name(),
            s.steps as f64 * dt,
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
            esc.delta, esc.value, esc.stderr
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
    for h in &s.histograms {
        let _ = writeln!(o, "histogram of w{} at step {}:", h.params[0] + 1, h.step);
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
