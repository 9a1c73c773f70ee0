//! Fig. 8 (App. A.2): the escape rate estimate γ̂(t) settles within a few tens of steps.

use super::fig3::two_point_a;
use super::*;
use crate::checks::{z_threshold, Check, Rule};
use crate::plot::{Figure, Panel, XyPlot};
use saddle::theory::log_moments::two_point_mu;

/// The paper's statement: "γ becomes stable after roughly 40 steps".
const SETTLE: u64 = 40;
/// E ln|w₀| for w₀ ~ U[−1, 1]: ∫₀¹ ln w dw = −1.
const MEAN_LN_W0: f64 = -1.0;

pub(crate) fn build(ctx: &Ctx) -> Result<Section, ReproduceError> {
    let id = "fig8";
    let mut s = section(
        id,
        "Fig. 8: the escape rate is well defined after a few tens of steps",
        "The escape rate γ of Eq. 8 is estimated from finitely many steps. The estimate settles \
         within a few tens of steps (the paper: about 20 to 40), so γ̂ at t = 50 or 100 measures \
         μ(λ).",
    );
    let r = load(ctx, "fig8")?;
    s.experiments.push("fig8.toml".into());
    s.parameters.push(describe(&r));
    s.parameters
        .push("a = −1, w₀ ~ U[−1, 1], γ̂(t) at every t = 1, …, T".into());
    let mut series = Vec::new();
    let mut rows = Vec::new();
    let (mut y_lo, mut y_hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, sum) in r.cells.iter().enumerate() {
        let a = two_point_a(&r, i)?;
        let lr = r.experiments[i].optimizer.lr;
        let mu = two_point_mu(a, lr);
        let pts: Vec<_> = sum
            .escape_rate
            .iter()
            .filter(|g| g.value.is_some() && g.stderr.is_some())
            .collect();
        let zc = z_threshold(pts.len());
        // The settling time: the first t from which every later γ̂(t) is within zc standard
        // errors of μ.
        let mut settle = None;
        for (k, g) in pts.iter().enumerate().rev() {
            let z = (g.value.unwrap() - mu).abs() / g.stderr.unwrap();
            if z > zc {
                break;
            }
            settle = Some(pts[k].t);
        }
        let settled_from = settle.map_or(f64::NAN, |t| t as f64);
        s.checks.push(Check::new(
            &format!("fig8-settle-lr{lr}"),
            id,
            &format!(
                "At λ = {lr}, γ̂(t) agrees with μ(λ) = {} from at most {SETTLE} steps on.",
                num(mu)
            ),
            "App. A.2, Fig. 8",
            SETTLE as f64,
            settled_from,
            None,
            0.0,
            Rule::AtMost,
            format!(
                "measured: the first t from which every γ̂(t), t ≤ {}, is within {zc:.2} standard \
                 errors of μ (Bonferroni over {} steps at level {}); γ̂ subtracts ln|w₀| (Eq. 8), \
                 which removes the 1/t transient of E ln|w_t|/t that the paper plots",
                r.base.steps,
                pts.len(),
                crate::checks::ALPHA
            ),
        ));
        let t: Vec<f64> = pts.iter().map(|g| g.t as f64).collect();
        let g: Vec<f64> = pts.iter().map(|g| g.value.unwrap()).collect();
        let se: Vec<f64> = pts.iter().map(|g| g.stderr.unwrap()).collect();
        let paper: Vec<f64> = t.iter().zip(&g).map(|(t, g)| g + MEAN_LN_W0 / t).collect();
        for k in 0..t.len() {
            rows.push(vec![lr, t[k], g[k], se[k], paper[k], mu]);
        }
        for v in g.iter().chain(&[mu]) {
            y_lo = y_lo.min(*v);
            y_hi = y_hi.max(*v);
        }
        series.push(points(&format!("λ = {lr}"), t.clone(), g, Some(se), i));
        series.push(line("", t.clone(), paper, i));
        series.push(dashed("", vec![0.0, r.base.steps as f64], vec![mu, mu], i));
    }
    s.data.push(ctx.csv(
        "fig8",
        &["lr", "t", "gamma_hat", "stderr", "mean_ln_w_over_t", "mu"],
        rows,
    )?);
    let pad = 0.15 * (y_hi - y_lo).max(0.1);
    ctx.figure(
        "fig8",
        &Figure {
            title: "Fig. 8".into(),
            panels: vec![Panel::Xy(XyPlot {
                title: "Escape rate against the number of steps (a = −1)".into(),
                x: axis("step t", 0.0, r.base.steps as f64, false),
                y: axis("estimated escape rate γ(t)", y_lo - pad, y_hi + pad, false),
                series,
                lines: vec![vline(SETTLE as f64, "t = 40", 7)],
            })],
            panel_width: 720,
            height: 460,
        },
    )?;
    s.figure = Some("fig8".into());
    s.caption = "Points: γ̂(t) of Eq. 8 (ln|w₀| subtracted) with standard errors; solid lines: \
                 E ln|w_t| / t, the paper's plotted form, whose 1/t transient is that of \
                 E ln|w₀| = −1; dashed: μ(λ)."
        .into();
    Ok(s)
}
