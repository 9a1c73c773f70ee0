//! Prop. 1: SGD lands exactly on w = 0, and stays there, the first time it draws a data point
//! with λ = 1/x.

use super::*;
use crate::checks::{binomial_se, Check, Rule};
use crate::plot::{Figure, Panel, XyPlot};
use saddle::theory::log_moments::BatchMean;

/// The fraction of runs at 0 after T steps that counts as "converged" (a choice: Prop. 1
/// says probability 1 as t → ∞).
const CONVERGED: f64 = 0.95;

pub(crate) fn build(ctx: &Ctx) -> Result<Section, ReproduceError> {
    let id = "prop1";
    let r = load(ctx, "prop1")?;
    let e = &r.base;
    let sum = r.single();
    let law = theory(id, BatchMean::from_noise(&e.noise))?;
    let lr = e.optimizer.lr;
    let p = law.zero_probability(lr);
    let mut s = section(
        id,
        &format!(
            "Prop. 1: if the learning rate equals 1/x for a value x the data can take, one SGD \
             step on the quadratic multiplies w by 1 − λx = 0, and from then on w stays at 0, a \
             saddle or maximum of the expected loss: SGD converges to w = 0 with probability 1. \
             After t steps the fraction of runs sitting exactly at 0 is 1 − (1 − p)^t, with p \
             the probability of that data point. Run here: λ = {lr}, so p = P(1 − λx = 0) = {}{}.",
            num(p),
            if p > 0.0 {
                ""
            } else {
                " (no data point gives 1 − λx = 0: Prop. 1 does not apply)"
            }
        ),
    );
    s.experiments.push("prop1.toml".into());
    s.parameters.push(describe(&r));
    s.parameters.push(settings(&r));
    let absorbed_by = |t: u64| 1.0 - (1.0 - p).powf(t as f64);
    let n = e.runs;
    let theory_t = absorbed_by(e.steps);
    let measured = sum.absorbed as f64 / n as f64;
    s.checks.push(
        Check::new(
            "prop1-converges",
            id,
            "SGD converges to w = 0: after T steps at least 95 % of the runs sit exactly at 0.",
            "Prop. 1",
            CONVERGED,
            measured,
            Some(binomial_se(measured, n)),
            0.0,
            Rule::AtLeast,
            format!(
                "measured: {} of {n} runs absorbed exactly at 0 after T = {} steps; the 95 % \
                 threshold is a choice (the paper: probability 1 as t → ∞, 1 − 2^−t at t with \
                 p = ½)",
                sum.absorbed, e.steps
            ),
        )
        .claim()
        .unit("fraction of runs"),
    );
    s.checks.push(
        Check::z(
            "prop1-absorbed",
            id,
            "The fraction of runs absorbed exactly at w = 0 after t steps is 1 − (1 − p)^t.",
            "Prop. 1",
            theory_t,
            measured,
            binomial_se(theory_t, n),
            1,
            &format!(
                "p = P(1 − λx = 0) = {} per step, t = {}; {} of {n} runs absorbed; standard \
                 error from the binomial law at the theoretical fraction",
                num(p),
                e.steps,
                sum.absorbed
            ),
        )
        .unit("fraction of runs"),
    );
    // The figure: the absorbed fraction at each recorded step against 1 − (1 − p)^t.
    let t: Vec<f64> = sum.trace.iter().map(|tp| tp.t as f64).collect();
    let frac: Vec<f64> = sum
        .trace
        .iter()
        .map(|tp| tp.absorbed as f64 / n as f64)
        .collect();
    let err: Vec<f64> = sum
        .trace
        .iter()
        .map(|tp| binomial_se(absorbed_by(tp.t), n))
        .collect();
    let tt = linspace(0.0, e.steps as f64, 200);
    let theory_curve: Vec<f64> = tt.iter().map(|&t| 1.0 - (1.0 - p).powf(t)).collect();
    s.data.push(
        ctx.csv(
            "prop1",
            &["t", "absorbed_fraction", "theory"],
            sum.trace
                .iter()
                .zip(&frac)
                .map(|(tp, f)| vec![tp.t as f64, *f, absorbed_by(tp.t)]),
        )?,
    );
    let fig = Figure {
        title: "Prop. 1".into(),
        panels: vec![Panel::Xy(XyPlot {
            title: "Runs absorbed at w = 0 (λ = 1)".into(),
            x: axis("step t", 0.0, e.steps as f64 + 0.5, false),
            y: axis("fraction of runs with w_t = 0", 0.0, 1.05, false),
            series: vec![
                dashed("1 − (1 − p)^t (Prop. 1)", tt, theory_curve, 1),
                points("measured", t, frac, Some(err), 0),
            ],
            lines: vec![],
        })],
        panel_width: 640,
        height: 420,
    };
    ctx.figure("prop1", &fig)?;
    s.figure = Some("prop1".into());
    s.caption = "Points: the fraction of runs at exactly 0 after t steps, with binomial standard \
                 errors; dashed: Prop. 1."
        .into();
    Ok(s)
}
