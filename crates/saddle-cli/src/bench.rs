//! `saddle bench`: the canonical workloads of the peer programs (quad-phase, nn-sweep,
//! adaptive; definitions in docs/performance.md) run through the same public path as
//! `saddle sweep` (experiment table → grid cells → `saddle::experiment::run`), timed.

use crate::input::InputError;
use anyhow::Result;
use rayon::prelude::*;
use saddle::config::{parse_table, Experiment};
use saddle::experiment::Summary;
use saddle::sweep::cell_experiment;
use std::process::ExitCode;
use std::time::Instant;

/// The experiment file of a workload at a size.
pub fn workload(work: &str, size: &str) -> String {
    let quick = size == "quick";
    match work {
        "quad-phase" => {
            let (n, r, t) = if quick {
                (32, 1000, 500)
            } else {
                (64, 2000, 1000)
            };
            format!(
                r#"name = "quad-phase"
runs = {r}
steps = {t}
model = {{ kind = "quadratic" }}
noise = {{ kind = "two-point", a = -1.0 }}
optimizer = {{ kind = "sgd", lr = 0.5 }}
divergence = {{ bound = 1e12 }}
observe = {{ escape = {{ delta = 0.05 }} }}
[[sweep.axis]]
path = "noise.a"
linspace = [-1.0, 1.0, {n}]
[[sweep.axis]]
path = "optimizer.lr"
linspace = [0.02, 2.0, {n}]
"#
            )
        }
        "nn-sweep" => {
            let (n, r, t) = if quick {
                (40, 500, 5000)
            } else {
                (150, 1000, 10000)
            };
            format!(
                r#"name = "nn-sweep"
runs = {r}
steps = {t}
model = {{ kind = "tiny-net" }}
noise = {{ kind = "discrete", values = [-1.0, 2.0], probs = [0.5, 0.5] }}
init = {{ lo = [-1.0, 0.0], hi = [1.0, 1.0] }}
optimizer = {{ kind = "sgd", lr = 0.01 }}
divergence = {{ bound = 1e6 }}
[[sweep.axis]]
path = "optimizer.lr"
linspace = [0.001, 0.15, {n}]
"#
            )
        }
        _ => {
            let (r, t) = if quick { (2000, 5000) } else { (2000, 50000) };
            format!(
                r#"name = "adaptive"
runs = {r}
steps = {t}
model = {{ kind = "quadratic" }}
noise = {{ kind = "two-point", a = -0.1 }}
optimizer = {{ kind = "adam", variant = "paper", lr = 0.2, beta1 = 0.0, beta2 = 0.999, clip = [-1.0, 1.0] }}
observe = {{ trace = 30 }}
[[sweep.axis]]
path = "optimizer.beta1"
values = [0.0, 0.9]
"#
            )
        }
    }
}

fn run_work(work: &str, size: &str) -> Result<(u64, f64, Vec<Summary>)> {
    let table = parse_table(&workload(work, size)).map_err(InputError::from_display)?;
    let base = Experiment::from_table(&table).map_err(InputError::from_display)?;
    let grid = base.sweep.clone().expect("workloads have a grid");
    let mut exps = vec![];
    for c in grid.cells() {
        let e = cell_experiment(&table, &c).map_err(InputError::from_display)?;
        if work == "adaptive" {
            // Adam and AMSGrad at each beta1: four variants, as the peers run them.
            let mut ams = e.clone();
            if let saddle::config::Rule::Adam(a) = &mut ams.optimizer.rule {
                a.amsgrad = true;
            }
            exps.push((2 * c.index, e));
            exps.push((2 * c.index + 1, ams));
        } else {
            exps.push((c.index, e));
        }
    }
    let steps: u64 = exps.iter().map(|(_, e)| e.runs * e.steps).sum();
    let t0 = Instant::now();
    let out: Vec<Summary> = exps
        .par_iter()
        .map(|(i, e)| saddle::experiment::run(e, *i as u32, None))
        .collect::<Result<_, _>>()
        .map_err(InputError::from_display)?;
    Ok((steps, t0.elapsed().as_secs_f64(), out))
}

/// The per-cell answers of a workload, in the layout of the peers' `--out` files
/// (`../shared/peers/workloads.py`), with the standard errors the peers do not give.
fn answers(work: &str, out: &[Summary]) -> serde_json::Value {
    let opt = |v: Option<f64>| v.filter(|x| x.is_finite());
    match work {
        "quad-phase" => serde_json::json!({
            "runs": out.first().map_or(0, |s| s.runs),
            "escape_fraction": out.iter().map(|s| s.escape_fraction).collect::<Vec<_>>(),
        }),
        "nn-sweep" => serde_json::json!({
            "runs": out.first().map_or(0, |s| s.runs),
            "mean_loss": out.iter().map(|s| opt(s.mean_loss_final)).collect::<Vec<_>>(),
            "mean_loss_stderr": out.iter().map(|s| opt(s.mean_loss_final_stderr)).collect::<Vec<_>>(),
            "diverged": out.iter().map(|s| s.diverged as f64 / s.runs as f64).collect::<Vec<_>>(),
        }),
        _ => {
            // Four variants in the peers' order: Adam and AMSGrad at β₁ = 0, then at 0.9.
            let mut doc = serde_json::Map::new();
            let t: Vec<u64> = out
                .first()
                .map(|s| s.trace.iter().map(|p| p.t).filter(|t| *t > 0).collect())
                .unwrap_or_default();
            doc.insert("runs".into(), out.first().map_or(0, |s| s.runs).into());
            doc.insert("t".into(), serde_json::json!(t));
            for (s, name) in out.iter().zip(["adam", "amsgrad", "adam_m", "amsgrad_m"]) {
                let pts: Vec<_> = s.trace.iter().filter(|p| p.t > 0).collect();
                doc.insert(
                    name.into(),
                    serde_json::json!(pts.iter().map(|p| opt(p.mean_norm)).collect::<Vec<_>>()),
                );
                doc.insert(
                    format!("{name}_stderr"),
                    serde_json::json!(pts.iter().map(|p| opt(p.norm_stderr)).collect::<Vec<_>>()),
                );
            }
            serde_json::Value::Object(doc)
        }
    }
}

/// `saddle bench`. With `out`, each workload's per-cell answers go to `out/WORK.json`.
pub fn run(
    size: &str,
    works: &[String],
    json: bool,
    quiet: bool,
    out_dir: Option<&std::path::Path>,
) -> Result<ExitCode> {
    if let Some(d) = out_dir {
        crate::output::ensure_dir(d)?;
    }
    for w in works {
        let (steps, secs, out) = run_work(w, size)?;
        if let Some(d) = out_dir {
            let mut doc = answers(w, &out);
            if let Some(o) = doc.as_object_mut() {
                o.insert("impl".into(), "saddle".into());
                o.insert("work".into(), w.as_str().into());
                o.insert("size".into(), size.into());
                o.insert("steps".into(), steps.into());
                o.insert("seconds".into(), secs.into());
            }
            crate::output::write_atomic(
                &d.join(format!("{w}.json")),
                format!("{}\n", serde_json::to_string(&doc)?).as_bytes(),
            )?;
        }
        let rate = steps as f64 / secs;
        // A one-number check of the answer, comparable with the peers' --out files.
        let check = match w.as_str() {
            "quad-phase" => {
                out.iter().filter_map(|s| s.escape_fraction).sum::<f64>() / out.len() as f64
            }
            "nn-sweep" => {
                out.iter()
                    .map(|s| s.diverged as f64 / s.runs as f64)
                    .sum::<f64>()
                    / out.len() as f64
            }
            _ => out.iter().filter_map(|s| s.mean_norm_final).sum::<f64>() / out.len() as f64,
        };
        let label = match w.as_str() {
            "quad-phase" => "mean escape fraction",
            "nn-sweep" => "mean diverged fraction",
            _ => "mean final |w|",
        };
        if json {
            crate::print_line(
                &serde_json::json!({
                    "impl": "saddle", "work": w, "size": size, "steps": steps,
                    "seconds": secs, "steps_per_s": rate, "threads": rayon::current_num_threads(),
                    "check": check,
                })
                .to_string(),
            )?;
        } else {
            let _ = quiet;
            crate::print_line(&format!(
                "{w:<11} {size:<6} {steps:>14} steps {secs:>9.3} s {rate:>12.3e} steps/s   ({label} {check:.4})"
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
