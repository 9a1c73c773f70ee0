//! Fig. 1: SGD converges to the local maximum w = 0 of the quadratic (left) and of the
//! fourth-order landscape (right).

use super::*;
use crate::checks::{binomial_se, z_threshold, Check, Rule};
use crate::plot::{Figure, Panel, XyPlot};
use saddle::analysis::inputs::{data_moments, quartic_b, two_point_law_a};
use saddle::theory::escape_probability::escape_probability;
use saddle::theory::log_moments::BatchMean;

/// The largest escape fraction that counts as "every run is pulled into 0" (a choice).
const TRAPPED: f64 = 0.01;

pub(crate) fn build(ctx: &Ctx) -> Result<Section, ReproduceError> {
    let id = "fig1";
    let left = load(ctx, "fig1-left")?;
    let right = load(ctx, "fig1-right")?;
    let e = &left.base;
    let sum = left.single();
    let lr = e.optimizer.lr;
    let steps = e.steps;
    let law = theory(id, BatchMean::from_noise(&e.noise))?;
    let mu = theory(id, law.mu(lr))?;
    let a_text = match two_point_law_a(e) {
        Some(a) => format!("x = 1 or a − 1 with a = {a}"),
        None => "the noise of fig1-left.toml".into(),
    };
    let (mean_x, _) = data_moments(e);
    let mut s = section(
        id,
        &format!(
            "The paper (§6.1, Prop. 2): on L̂ = x w²/2 with x = 1 or a − 1 (a = −1, so the \
             expected loss has a maximum at 0), SGD with the constant learning rate λ = 0.8 does \
             not escape: every run is pulled into w = 0. Prop. 2: runs are trapped iff \
             μ(λ) = E ln|1 − λx| < 0. Adding w⁴/4, which puts minima at ±√½, changes nothing: \
             no run reaches them. Run here: {a_text} (E[x] = {}: w = 0 is a {}), λ = {lr}, so \
             μ(λ) = {} ({}); right: λ = {}.",
            num(mean_x),
            if mean_x < 0.0 { "maximum" } else { "minimum" },
            num(mu),
            if mu < 0.0 {
                "Prop. 2 predicts trapping"
            } else {
                "Prop. 2 predicts escape: the paper's claim does not hold here"
            },
            right.base.optimizer.lr
        ),
    );
    s.experiments = vec!["fig1-left.toml".into(), "fig1-right.toml".into()];
    s.parameters = vec![
        describe(&left),
        settings(&left),
        describe(&right),
        settings(&right),
    ];

    // The claim: SGD converges to the maximum, i.e. almost no run escapes and the runs shrink
    // toward it (γ̂ < 0).
    let z1 = z_threshold(1);
    if let Some(esc) = &sum.escape {
        s.checks.push(
            Check::new(
                "fig1-left-trapped",
                id,
                "Every run is pulled into the maximum w = 0: at most 1 % of the runs end with \
                 |w_T| ≥ δ.",
                "§6.1, Fig. 1 left",
                TRAPPED,
                esc.value,
                Some(esc.stderr),
                0.0,
                Rule::AtMost,
                format!(
                    "measured: the fraction of the {} runs with |w_T| ≥ δ = {} at T = {steps} \
                     (diverged runs count as escaped); the 1 % threshold is a choice (the paper: \
                     every run)",
                    e.runs, esc.delta
                ),
            )
            .claim()
            .unit("fraction of runs"),
        );
    }
    let gamma = sum.escape_rate.iter().rev().find(|g| g.value.is_some());
    if let Some(g) = gamma {
        let se = g.stderr.unwrap_or(f64::NAN);
        s.checks.push(
            Check::new(
                "fig1-left-shrinks",
                id,
                "The runs shrink toward the maximum: the escape rate γ̂ (Eq. 8) is negative.",
                "Prop. 2, Eq. 8",
                0.0,
                g.value.unwrap_or(f64::NAN),
                Some(se),
                z1 * se,
                Rule::Below,
                format!(
                    "γ̂ at t = {} over {} runs must lie below 0 by at least {z1:.2} standard \
                     errors (one-sided margin)",
                    g.t, g.n
                ),
            )
            .claim()
            .unit("per step"),
        );
    }

    // Prop. 2 at finite T: the exact escape probability (multinomial over the count of each
    // noise value, w₀ ~ U[−1, 1]).
    if let Some(esc) = &sum.escape {
        let exact = theory(
            id,
            escape_probability(&e.noise, lr, steps, esc.delta, &init_law(e)?),
        )?;
        let p = exact.exact.unwrap_or(f64::NAN);
        s.checks.push(
            Check::z(
                "fig1-left-escape",
                id,
                "The fraction with |w_T| ≥ δ is the exact escape probability of Prop. 2's \
                 product of random factors.",
                "Prop. 2, Lemma 1",
                p,
                esc.value,
                binomial_se(p, e.runs),
                1,
                &format!(
                    "δ = {}, T = {steps}; exact sum over the {} count vectors; standard error \
                     from the binomial law at the exact probability",
                    esc.delta,
                    exact.count_vectors.unwrap_or(0)
                ),
            )
            .unit("fraction of runs"),
        );
    }
    if let Some(g) = gamma {
        s.checks.push(
            Check::z(
                "fig1-left-gamma",
                id,
                "The escape rate γ̂ (Eq. 8) equals μ(λ) = E ln|1 − λx|.",
                "Prop. 2, Eq. 8",
                mu,
                g.value.unwrap_or(f64::NAN),
                g.stderr.unwrap_or(f64::NAN),
                1,
                &format!("γ̂ at t = {} over {} runs", g.t, g.n),
            )
            .unit("per step"),
        );
    }

    // Fig. 1 right: how many runs end within δ of the minima ±√(−E[x]/b).
    let rsum = right.single();
    let b = quartic_b(&right.base).ok_or_else(|| {
        ReproduceError::Input("fig1-right.toml: the model must be the quartic".into())
    })?;
    let (mean_x, _) = data_moments(&right.base);
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
    s.checks.push(
        Check::new(
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
        )
        .claim()
        .unit("runs"),
    );
    if rsum.diverged > 0 {
        s.notes.push(format!(
            "With the quartic term w⁴/4 and λ = {}, {} of {} runs diverge: a step from far \
             enough out overshoots further each time. The diverged runs do not end at the \
             minima either; they are counted, not drawn.",
            right.base.optimizer.lr, rsum.diverged, right.base.runs
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
            format!("L = x w²/2 (λ = {})", res.base.optimizer.lr)
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
