//! `[noise]`: the data distributions of experiment files (two-point, discrete, Gaussian,
//! uniform, a dataset), with the batch size and injected noise: keys, parsing and emission.
//! The laws themselves are [`crate::noise`].

use super::reader::{num, Reader, R};
use super::{floats, int, ModelSpec};
use crate::model::{Field, Sample};
use crate::noise::{Law, NoiseLaw};
use toml::Table;

/// The `[noise]` table that parses back to `noise` with injected σ = `sigma`.
pub(crate) fn to_table(noise: &NoiseLaw, sigma: f64) -> Table {
    let mut n = Table::new();
    match &noise.law {
        Law::TwoPoint { a } => {
            n.insert("kind".into(), "two-point".into());
            n.insert("a".into(), (*a).into());
        }
        Law::Discrete { values, probs } => {
            n.insert("kind".into(), "discrete".into());
            n.insert("values".into(), floats(values));
            n.insert("probs".into(), floats(probs));
        }
        Law::Gaussian { mean, std } => {
            n.insert("kind".into(), "gaussian".into());
            n.insert("mean".into(), (*mean).into());
            n.insert("std".into(), (*std).into());
        }
        Law::Uniform { lo, hi } => {
            n.insert("kind".into(), "uniform".into());
            n.insert("lo".into(), (*lo).into());
            n.insert("hi".into(), (*hi).into());
        }
        Law::Dataset {
            samples,
            replacement,
        } => {
            n.insert("kind".into(), "dataset".into());
            n.insert(
                "x".into(),
                floats(&samples.iter().map(|s| s.x).collect::<Vec<_>>()),
            );
            n.insert(
                "y".into(),
                floats(&samples.iter().map(|s| s.y).collect::<Vec<_>>()),
            );
            n.insert("replacement".into(), (*replacement).into());
        }
    }
    if !matches!(noise.law, Law::Dataset { .. }) {
        let f = if noise.field == Field::X { "x" } else { "y" };
        n.insert("field".into(), f.into());
    }
    n.insert("batch".into(), int(noise.batch as u64));
    n.insert("injected_sigma".into(), sigma.into());
    n
}

const NOISE_KINDS: [&str; 5] = ["two-point", "discrete", "gaussian", "uniform", "dataset"];

pub(super) fn parse(r: &Reader<'_>, model: &ModelSpec) -> R<(NoiseLaw, f64)> {
    let kind = r.choice("kind", &NOISE_KINDS, None)?;
    let common = ["kind", "batch", "field", "injected_sigma"];
    let allowed: Vec<&str> = match kind.as_str() {
        "two-point" => vec!["a"],
        "discrete" => vec!["values", "probs"],
        "gaussian" => vec!["mean", "std"],
        "uniform" => vec!["lo", "hi"],
        _ => vec!["x", "y", "replacement"],
    };
    let mut all: Vec<&str> = common.to_vec();
    all.extend(&allowed);
    if kind == "dataset" {
        all.retain(|k| *k != "field");
    }
    r.only(&all)?;
    let law = match kind.as_str() {
        "two-point" => Law::TwoPoint { a: r.req_f64("a")? },
        "discrete" => {
            let values = r
                .f64_list("values")?
                .map_or_else(|| r.err("values", "missing"), Ok)?;
            if values.is_empty() {
                return r.err("values", "must not be empty");
            }
            let probs = match r.f64_list("probs")? {
                Some(p) => p,
                None => vec![1.0 / values.len() as f64; values.len()],
            };
            if probs.len() != values.len() {
                return r.err(
                    "probs",
                    format!(
                        "has {} entries but values has {}",
                        probs.len(),
                        values.len()
                    ),
                );
            }
            if let Some(p) = probs.iter().find(|p| **p < 0.0) {
                return r.err(
                    "probs",
                    format!("probabilities must be >= 0 (got {})", num(*p)),
                );
            }
            let sum: f64 = probs.iter().sum();
            if (sum - 1.0).abs() > 1e-9 {
                return r.err(
                    "probs",
                    format!("probabilities must sum to 1 (got {})", num(sum)),
                );
            }
            Law::Discrete { values, probs }
        }
        "gaussian" => {
            let std = r.req_f64("std")?;
            if std < 0.0 {
                return r.err("std", format!("must be >= 0 (got {})", num(std)));
            }
            Law::Gaussian {
                mean: r.f64_or("mean", 0.0)?,
                std,
            }
        }
        "uniform" => {
            let (lo, hi) = (r.req_f64("lo")?, r.req_f64("hi")?);
            if lo >= hi {
                return r.err(
                    "hi",
                    format!(
                        "must be greater than lo (got lo = {}, hi = {})",
                        num(lo),
                        num(hi)
                    ),
                );
            }
            Law::Uniform { lo, hi }
        }
        _ => {
            let xs = r.f64_list("x")?;
            let ys = r.f64_list("y")?;
            let n = xs.as_ref().or(ys.as_ref()).map(|v| v.len()).unwrap_or(0);
            if n == 0 {
                return r.err("x", "a dataset needs a non-empty list `x` (and/or `y`)");
            }
            if let (Some(x), Some(y)) = (&xs, &ys) {
                if x.len() != y.len() {
                    return r.err(
                        "y",
                        format!("has {} entries but x has {}", y.len(), x.len()),
                    );
                }
            }
            let d = Sample::default();
            let samples = (0..n)
                .map(|i| Sample {
                    x: xs.as_ref().map_or(d.x, |v| v[i]),
                    y: ys.as_ref().map_or(d.y, |v| v[i]),
                })
                .collect();
            Law::Dataset {
                samples,
                replacement: r.bool_or("replacement", true)?,
            }
        }
    };
    let default_field = if *model == ModelSpec::TinyNet {
        "y"
    } else {
        "x"
    };
    let field = if r.choice("field", &["x", "y"], Some(default_field))? == "x" {
        Field::X
    } else {
        Field::Y
    };
    let batch = r.u64("batch")?.unwrap_or(1);
    if let Some(why) = super::batch_obstacle(batch) {
        return r.err("batch", why);
    }
    let sigma = r.f64_or("injected_sigma", 0.0)?;
    if sigma < 0.0 {
        return r.err(
            "injected_sigma",
            format!("must be >= 0 (got {})", num(sigma)),
        );
    }
    Ok((
        NoiseLaw {
            law,
            field,
            batch: batch as usize,
        },
        sigma,
    ))
}
