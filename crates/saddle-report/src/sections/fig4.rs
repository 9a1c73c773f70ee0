//! Fig. 4: on the sharp-flat landscape (Eq. 9) SGD ends at the sharper minima (Prop. 4).

use super::*;
use crate::checks::{Check, Rule};
use crate::plot::{Figure, Panel};
use saddle::config::ModelSpec;
use saddle::model::{Model, SharpFlat};

pub(crate) fn build(ctx: &Ctx) -> Result<Section, ReproduceError> {
    let id = "fig4";
    let r = load_observing(ctx, "fig4", &["final_states"])?;
    let e = &r.base;
    let sum = r.single();
    let (a, b) = match e.model {
        ModelSpec::SharpFlat { a, b } => (a, b),
        _ => {
            return Err(ReproduceError::Input(
                "fig4.toml: the model must be sharp-flat".into(),
            ))
        }
    };
    let lr = e.optimizer.lr;
    let mut s = section(
        id,
        &format!(
            "The paper (§6.3, Prop. 4): on the landscape of Eq. 9 the minima along w₂ are sharper \
             than those along w₁, and the noise x = ±1 multiplies a term that vanishes on \
             w₁ = 0. With λ small enough (λ ≤ (1 + √6)/20 ≈ 0.17) and b = 1/λ − 6, SGD ends at \
             the sharp minima (0, ±√((1 + a)/2)) with probability 1, even though most runs start \
             nearer the flat ones. Run here: a = {a}, b = {b}, λ = {lr} (1/λ − 6 = {}).",
            num(1.0 / lr - 6.0)
        ),
    );
    s.experiments.push("fig4.toml".into());
    s.parameters.push(describe(&r));
    s.parameters.push(settings(&r));
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
    s.checks.push(
        Check::new(
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
        )
        .claim()
        .unit("fraction of runs"),
    );
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
        let (mut map, r) = runs_over_contours(
            h,
            &format!("step {step}"),
            |w| model.expected_loss(w, &moments).unwrap_or(f64::NAN),
            None,
            step as f64,
        );
        rows.extend(r);
        let flat = 0.5f64.sqrt();
        // Small translucent dots: at step 10000 the runs sit in the cells under the sharp
        // minima, which a full-size dot would hide.
        map.overlays = vec![
            points("", vec![0.0, 0.0], vec![sharp, -sharp], None, 3).markers(2.5, 0.6),
            points("", vec![flat, -flat], vec![0.0, 0.0], None, 5).markers(2.5, 0.6),
        ];
        panels.push(Panel::Heat(map));
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
