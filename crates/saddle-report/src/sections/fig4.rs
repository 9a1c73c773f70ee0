//! Fig. 4: on the sharp-flat landscape (Eq. 9) SGD ends at the sharper minima (Prop. 4).

use super::*;
use crate::checks::{Check, Rule};
use crate::plot::{Contours, Figure, HeatMap, Panel};
use saddle::config::ModelSpec;
use saddle::model::{Model, SharpFlat};

pub(crate) fn build(ctx: &Ctx) -> Result<Section, ReproduceError> {
    let id = "fig4";
    let mut s = section(
        id,
        "Fig. 4: SGD prefers the sharper minima",
        "On the landscape of Eq. 9 the minima along w₂ are sharper than those along w₁, and the \
         noise x = ±1 multiplies a term that vanishes on w₁ = 0. With λ small enough and \
         b = 1/λ − 6, SGD ends at the sharp minima (0, ±√((1 + a)/2)) with probability 1 \
         (Prop. 4), even though most runs start nearer the flat ones.",
    );
    let r = load(ctx, "fig4")?;
    let e = &r.base;
    let sum = r.single();
    s.experiments.push("fig4.toml".into());
    s.parameters.push(describe(&r));
    let (a, b) = match e.model {
        ModelSpec::SharpFlat { a, b } => (a, b),
        _ => {
            return Err(ReproduceError::Input(
                "fig4.toml: the model must be sharp-flat".into(),
            ))
        }
    };
    s.parameters.push(format!(
        "a = {a}, b = {b}, λ = {}, x = ±1 with probability ½, w₀ ~ U[−1, 1]², |wᵢ| ≤ 1 after \
         every step",
        e.optimizer.lr
    ));
    let sharp = ((1.0 + a) / 2.0).sqrt();
    let finals = sum.final_states.as_ref().ok_or_else(|| {
        ReproduceError::Input("fig4.toml: needs [observe] final_states = true".into())
    })?;
    let radius = 0.05;
    let at_sharp = finals
        .iter()
        .filter(|f| f.w[0].abs() < radius && (f.w[1].abs() - sharp).abs() < radius)
        .count();
    let n = finals.len();
    s.checks.push(Check::new(
        "prop4-sharp",
        id,
        "Every run ends at a sharp minimum (0, ±√((1 + a)/2)).",
        "Prop. 4",
        1.0,
        at_sharp as f64 / n.max(1) as f64,
        None,
        0.0,
        Rule::AtLeast,
        format!(
            "measured: the fraction of the {n} runs whose final (w₁, w₂) is within {radius} of \
             (0, ±{}) in each coordinate; {} diverged",
            num(sharp),
            sum.diverged
        ),
    ));
    let model = SharpFlat { a, b };
    let moments = e.noise.moments();
    let mut panels = Vec::new();
    let mut rows = Vec::new();
    let steps: Vec<u64> = {
        let mut v: Vec<u64> = sum
            .histograms2d
            .iter()
            .filter(|h| h.params == [0, 1])
            .map(|h| h.step)
            .collect();
        v.dedup();
        v
    };
    for step in steps {
        let h = hist_at(&sum.histograms2d, &[0, 1], step, "fig4")?;
        let (nx, ny) = (h.bins[0], h.bins[1]);
        // Counts are row-major with w₁ slowest; the map wants w₂ (y) slowest.
        let mut values = vec![0.0; nx * ny];
        for i in 0..nx {
            for j in 0..ny {
                values[j * nx + i] = h.counts[i * ny + j] as f64;
                let x = h.lo[0] + (i as f64 + 0.5) * (h.hi[0] - h.lo[0]) / nx as f64;
                let y = h.lo[1] + (j as f64 + 0.5) * (h.hi[1] - h.lo[1]) / ny as f64;
                rows.push(vec![step as f64, x, y, h.counts[i * ny + j] as f64]);
            }
        }
        let max = values.iter().cloned().fold(1.0, f64::max);
        let cn = 81;
        let mut loss = Vec::with_capacity(cn * cn);
        for j in 0..cn {
            for i in 0..cn {
                let w = [
                    h.lo[0] + (i as f64 + 0.5) * (h.hi[0] - h.lo[0]) / cn as f64,
                    h.lo[1] + (j as f64 + 0.5) * (h.hi[1] - h.lo[1]) / cn as f64,
                ];
                loss.push(model.expected_loss(&w, &moments).unwrap_or(f64::NAN));
            }
        }
        let (lmin, lmax) = loss
            .iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let levels: Vec<f64> = (1..10)
            .map(|k| lmin + (lmax - lmin) * (k as f64 / 10.0).powi(2))
            .collect();
        panels.push(Panel::Heat(HeatMap {
            title: format!("step {step}"),
            x: axis("w₁", h.lo[0], h.hi[0], false),
            y: axis("w₂", h.lo[1], h.hi[1], false),
            nx,
            ny,
            values,
            scale: axis("runs per cell", 1.0, max, true),
            blank_at_or_below: Some(0.0),
            contours: Some(Contours {
                nx: cn,
                ny: cn,
                values: loss,
                levels,
                label: String::new(),
            }),
            overlays: vec![
                points("sharp minima", vec![0.0, 0.0], vec![sharp, -sharp], None, 3),
                points(
                    "",
                    vec![(0.5f64).sqrt(), -(0.5f64).sqrt()],
                    vec![0.0, 0.0],
                    None,
                    5,
                ),
            ],
        }));
    }
    s.data
        .push(ctx.csv("fig4", &["step", "w1", "w2", "count"], rows)?);
    ctx.figure(
        "fig4",
        &Figure {
            title: "Fig. 4".into(),
            panels,
            panel_width: 480,
            height: 440,
        },
    )?;
    s.figure = Some("fig4".into());
    s.caption = "Runs per 0.05 × 0.05 cell of (w₁, w₂) at initialisation, after 2 steps and at \
                 the end (log colour scale; empty cells white), over contours of the expected \
                 loss L(w) of Eq. 9; orange dots: the sharp minima, pink dots: the flat ones."
        .into();
    Ok(s)
}
