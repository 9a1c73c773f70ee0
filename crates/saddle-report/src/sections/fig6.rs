//! Fig. 6: the minimal network f = w₂(w₁x)² reaches the global minimum at a small learning
//! rate and the saddle at a large one; the mean loss against λ up to divergence.

use super::*;
use crate::checks::{Check, Rule};
use crate::plot::{Figure, HeatMap, Panel, XyPlot};
use saddle::experiment::Summary;
use saddle::model::{Model, TinyNet};

/// The expected loss at the global minimum (w₂w₁² = ½) and on the saddle line w₁ = 0 of
/// Eq. 18 with y ∈ {−1, 2}: E(f − y)² = (f − E y)² + Var y, so L* = Var y = 2.25 and
/// L(saddle) = E y² = 2.5.
const L_MIN: f64 = 2.25;
const L_SADDLE: f64 = 2.5;

/// The final (w₁, w₂) of every run over the contours of Eq. 18's expected loss.
fn map(
    sum: &Summary,
    e: &saddle::config::Experiment,
    title: &str,
) -> Result<(HeatMap, Vec<Vec<f64>>), ReproduceError> {
    let h = hist_at(&sum.histograms2d, &[0, 1], e.steps, "fig6")?;
    let moments = e.noise.moments();
    let (mut map, rows) = runs_over_contours(
        h,
        title,
        |w| TinyNet.expected_loss(w, &moments).unwrap_or(f64::NAN),
        Some(vec![2.26, 2.3, 2.4, 2.5, 2.7, 3.0, 3.5, 4.5]),
        e.optimizer.lr,
    );
    if let Some(c) = map.contours.as_mut() {
        c.label = "L(w) contours".into();
    }
    Ok((map, rows))
}

pub(crate) fn build(ctx: &Ctx) -> Result<Section, ReproduceError> {
    let id = "fig6";
    let mut s = section(
        id,
        "Fig. 6: the minimal network reaches the saddle at a large learning rate",
        "For the network f = w₂(w₁x)² with x = 1 and labels y = −1 or 2 (loss (f − y)², Eq. 18), \
         the global minima lie on w₂w₁² = ½ with L* = 2.25 and the line w₁ = 0 is a saddle with \
         L = 2.5. SGD with λ = 0.001 ends in the valley of minima; with λ = 0.1 every run ends on \
         the saddle. The mean final loss jumps from 2.25 to 2.5 as λ grows, until runs start to \
         diverge between λ = 0.10 and 0.125.",
    );
    let left = load(ctx, "fig6-left")?;
    let mid = load(ctx, "fig6-mid")?;
    let right = load(ctx, "fig6-right")?;
    s.experiments = vec![
        "fig6-left.toml".into(),
        "fig6-mid.toml".into(),
        "fig6-right.toml".into(),
    ];
    s.parameters = vec![
        describe(&left),
        describe(&mid),
        describe(&right),
        "w₁ ~ U[−1, 1], w₂ ~ U[0, 1]; diverged: |w| > 10⁶".into(),
    ];
    let gap = L_SADDLE - L_MIN;
    for (res, target, name, which) in [
        (&left, L_MIN, "fig6-left-loss", "the global minimum"),
        (&mid, L_SADDLE, "fig6-mid-loss", "the saddle"),
    ] {
        let sum = res.single();
        s.checks.push(Check::new(
            name,
            id,
            &format!(
                "With λ = {} the mean final loss is that of {which}, L = {target}.",
                res.base.optimizer.lr
            ),
            "§6.5, Fig. 6",
            target,
            sum.mean_loss_final.unwrap_or(f64::NAN),
            sum.mean_loss_final_stderr,
            0.1 * gap,
            Rule::Within,
            format!(
                "tolerance: a tenth of the gap {gap} between the minimum and the saddle (the \
                 claim is which of the two the runs reach; SGD's own fluctuations add a loss of \
                 order λ); {} runs diverged",
                sum.diverged
            ),
        ));
    }
    // Divergence onset: the first λ of the sweep with a diverged run.
    let lrs: Vec<f64> = right.experiments.iter().map(|e| e.optimizer.lr).collect();
    let step = if lrs.len() > 1 { lrs[1] - lrs[0] } else { 0.0 };
    let onset = right
        .cells
        .iter()
        .zip(&lrs)
        .find(|(c, _)| c.diverged > 0)
        .map(|(_, l)| *l);
    s.checks.push(Check::new(
        "fig6-onset",
        id,
        "Runs start to diverge at a learning rate between 0.10 and 0.125.",
        "§6.5, Fig. 6 right",
        0.1125,
        onset.unwrap_or(f64::NAN),
        Some(step),
        0.0125,
        Rule::Within,
        format!(
            "measured: the smallest λ of the sweep (step {}) with at least one diverged run of {}",
            num(step),
            right.base.runs
        ),
    ));
    let (m_left, rows_l) = map(left.single(), &left.base, "λ = 0.001, final step")?;
    let (m_mid, rows_m) = map(mid.single(), &mid.base, "λ = 0.1, final step")?;
    s.data.push(ctx.csv(
        "fig6-maps",
        &["lr", "w1", "w2", "count"],
        rows_l.into_iter().chain(rows_m),
    )?);
    let loss: Vec<f64> = right
        .cells
        .iter()
        .map(|c| c.mean_loss_final.unwrap_or(f64::NAN))
        .collect();
    let se: Vec<f64> = right
        .cells
        .iter()
        .map(|c| c.mean_loss_final_stderr.unwrap_or(f64::NAN))
        .collect();
    let div: Vec<f64> = right
        .cells
        .iter()
        .map(|c| c.diverged as f64 / right.base.runs as f64)
        .collect();
    s.data.push(ctx.csv(
        "fig6-right",
        &["lr", "mean_loss_final", "stderr", "diverged_fraction"],
        (0..lrs.len()).map(|i| vec![lrs[i], loss[i], se[i], div[i]]),
    )?);
    let lr_hi = lrs.last().copied().unwrap_or(0.15);
    let mut lines = vec![
        hline(L_MIN, "L* = 2.25 (minimum)", 2),
        hline(L_SADDLE, "L = 2.5 (saddle)", 3),
    ];
    if let Some(o) = onset {
        lines.push(vline(o, &format!("first divergence, λ = {}", num(o)), 7));
    }
    let right_panel = XyPlot {
        title: "Mean final loss of the runs that did not diverge".into(),
        x: axis("learning rate λ", 0.0, lr_hi * 1.02, false),
        y: axis("mean L(w_T)", 2.2, 2.6, false),
        series: vec![points("measured", lrs.clone(), loss, Some(se), 0)],
        lines,
    };
    ctx.figure(
        "fig6",
        &Figure {
            title: "Fig. 6".into(),
            panels: vec![
                Panel::Heat(m_left),
                Panel::Heat(m_mid),
                Panel::Xy(right_panel),
            ],
            panel_width: 500,
            height: 440,
        },
    )?;
    s.figure = Some("fig6".into());
    s.caption = "Left and middle: final (w₁, w₂) of every run per 0.05 × 0.05 cell (log colour \
                 scale) over contours of the expected loss; the valley of minima is the curve \
                 w₂w₁² = ½. Right: mean final loss against λ with standard errors, and the first \
                 λ at which a run diverged."
        .into();
    Ok(s)
}
