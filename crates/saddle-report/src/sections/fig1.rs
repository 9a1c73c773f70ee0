//! Fig. 1: SGD converges to the local maximum w = 0 of the quadratic (left) and of the
//! fourth-order landscape (right).

use super::*;
use crate::checks::{binomial_se, Check, Rule};
use crate::plot::{Figure, Panel, XyPlot};
use saddle::config::ModelSpec;
use saddle::theory::escape_probability::escape_probability;
use saddle::theory::log_moments::BatchMean;

pub(crate) fn build(ctx: &Ctx) -> Result<Section, ReproduceError> {
    let id = "fig1";
    let mut s = section(
        id,
        "Fig. 1: SGD converges to a local maximum",
        "On L̂ = x w²/2 with x = 1 or a − 1 (a = −1, so the expected loss −w²/4 has a maximum at \
         0), SGD with the constant learning rate λ = 0.8 does not escape: every run is pulled \
         into w = 0 (Prop. 2: μ(λ) = ½ ln|(1 − λ)(1 − λ(a − 1))| < 0). Adding w⁴/4, which puts \
         minima at ±√½, changes nothing: no run reaches them.",
    );
    let left = load(ctx, "fig1-left")?;
    let right = load(ctx, "fig1-right")?;
    s.experiments = vec!["fig1-left.toml".into(), "fig1-right.toml".into()];
    s.parameters = vec![
        describe(&left),
        describe(&right),
        "a = −1, λ = 0.8, w₀ ~ U[−1, 1]; right: b = 1 in x w²/2 + b w⁴/4".into(),
    ];
    let e = &left.base;
    let sum = left.single();
    let lr = e.optimizer.lr;
    let steps = e.steps;

    // Prop. 2 at finite T: the exact escape probability (multinomial over the count of each
    // noise value, w₀ ~ U[−1, 1]).
    if let Some(esc) = &sum.escape {
        let exact = theory(
            id,
            escape_probability(&e.noise, lr, steps, esc.delta, &init_law(e)?),
        )?;
        let p = exact.exact.unwrap_or(f64::NAN);
        s.checks.push(Check::z(
            "fig1-left-escape",
            id,
            "Almost no run escapes the maximum: the fraction with |w_T| ≥ δ is the exact \
             probability of Prop. 2's product of factors.",
            "Prop. 2, Lemma 1",
            p,
            esc.value,
            binomial_se(p, e.runs),
            1,
            &format!(
                "δ = {}, T = {steps}; exact sum over the {} count vectors; standard error from \
                 the binomial law at the exact probability",
                esc.delta,
                exact.count_vectors.unwrap_or(0)
            ),
        ));
    }
    let law = theory(id, BatchMean::from_noise(&e.noise))?;
    let mu = theory(id, law.mu(lr))?;
    if let Some(g) = sum.escape_rate.iter().rev().find(|g| g.value.is_some()) {
        s.checks.push(Check::z(
            "fig1-left-gamma",
            id,
            "The escape rate γ̂ (Eq. 8) equals μ(λ) < 0: the runs shrink toward the maximum \
             exponentially.",
            "Prop. 2, Eq. 8",
            mu,
            g.value.unwrap_or(f64::NAN),
            g.stderr.unwrap_or(f64::NAN),
            1,
            &format!("γ̂ at t = {} over {} runs", g.t, g.n),
        ));
    }

    // Fig. 1 right: how many runs end within δ of the minima ±√(−E[x]/b).
    let rsum = right.single();
    let b = match right.base.model {
        ModelSpec::Quartic { b } => b,
        _ => {
            return Err(ReproduceError::Input(
                "fig1-right.toml: the model must be the quartic".into(),
            ))
        }
    };
    let mean_x = right.base.noise.moments().mean_x;
    let w_min = (-mean_x / b).sqrt();
    let h_right = hist_at(&rsum.histograms, &[0], right.base.steps, "fig1-right")?;
    let width = (h_right.hi[0] - h_right.lo[0]) / h_right.bins[0] as f64;
    let near_minima: u64 = edges(h_right)
        .windows(2)
        .zip(&h_right.counts)
        .filter(|(e, _)| {
            let centre = 0.5 * (e[0] + e[1]);
            (centre.abs() - w_min).abs() < width
        })
        .map(|(_, c)| *c)
        .sum();
    s.checks.push(Check::new(
        "fig1-right-minima",
        id,
        "On the fourth-order landscape no run ends at the minima ±√(−E[x]/b).",
        "Fig. 1 right, §6.1",
        0.0,
        near_minima as f64,
        None,
        0.0,
        Rule::AtMost,
        format!(
            "runs in the histogram bins within one bin width ({width}) of ±{} at step {}; \
             {} of {} runs diverged (|w| beyond the bound), which also do not end at the minima",
            num(w_min),
            right.base.steps,
            rsum.diverged,
            right.base.runs
        ),
    ));
    if rsum.diverged > 0 {
        s.notes.push(format!(
            "With the quartic term w⁴/4 and λ = 0.8, {} of {} runs diverge: a step from |w| ≳ 1.6 \
             overshoots further each time. None reaches the minima, as the paper says; the \
             diverged runs are counted, not drawn.",
            rsum.diverged, right.base.runs
        ));
    }

    // The figure and its data.
    let mut panels = Vec::new();
    let mut rows = Vec::new();
    for (k, (res, name)) in [(&left, "left"), (&right, "right")].iter().enumerate() {
        let sm = res.single();
        let h0 = hist_at(&sm.histograms, &[0], 0, "fig1")?;
        let ht = hist_at(&sm.histograms, &[0], res.base.steps, "fig1")?;
        let d0 = density(h0);
        let dt = density(ht);
        let ed = edges(ht);
        for i in 0..dt.len() {
            rows.push(vec![k as f64, ed[i], ed[i + 1], d0[i], dt[i]]);
        }
        let top = dt.iter().chain(&d0).cloned().fold(0.0, f64::max) * 1.1;
        let title = if *name == "left" {
            "L = x w²/2 (a = −1, λ = 0.8)".to_string()
        } else {
            format!(
                "L = x w²/2 + w⁴/4: {} of {} runs diverged",
                sm.diverged, res.base.runs
            )
        };
        panels.push(Panel::Xy(XyPlot {
            title,
            x: axis("w", h0.lo[0], h0.hi[0], false),
            y: axis("density of runs", 0.0, top.max(1e-9), false),
            series: vec![
                bars("step 0 (w₀ ~ U[−1, 1])", edges(h0), d0, 0),
                bars(&format!("step {}", res.base.steps), ed, dt, 1),
            ],
            lines: if *name == "right" {
                vec![vline(-w_min, "minima ±√½", 2), vline(w_min, "", 2)]
            } else {
                vec![]
            },
        }));
    }
    s.data.push(ctx.csv(
        "fig1",
        &[
            "panel",
            "bin_lo",
            "bin_hi",
            "density_step0",
            "density_stepT",
        ],
        rows,
    )?);
    ctx.figure(
        "fig1",
        &Figure {
            title: "Fig. 1".into(),
            panels,
            panel_width: 560,
            height: 420,
        },
    )?;
    s.figure = Some("fig1".into());
    s.caption = "Histograms of w at initialisation and after T steps (density: fraction of all \
                 runs per unit of w; panel 0 is the left panel in the CSV). The final \
                 histograms are single spikes at w = 0."
        .into();
    Ok(s)
}
