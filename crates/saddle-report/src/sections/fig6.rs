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
/// The fraction of runs that counts as "the runs end there" (a choice).
const REACHED: f64 = 0.99;

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

/// Where a final state of Eq. 18's network lies. With u = w₂w₁², L = ½(u + 1)² + ½(u − 2)²,
/// ∇L = (2u − 1)(2w₁w₂, w₁²): the stationary points are the valley u = ½ (global minima,
/// L* = 2.25) and the line w₁ = 0 (L = 2.5), where ∂²L/∂w₁² = −2w₂ and the other second
/// derivatives vanish: saddles for w₂ > 0 (a maximum along w₁), degenerate local minima for
/// w₂ < 0 (not global), a degenerate point at w₂ = 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// |w₁| ≤ [`ON_LINE`] and w₂ ≥ −[`W2_TOL`]: the saddle set (the paper's "saddle point").
    Saddle,
    /// |w₁| ≤ [`ON_LINE`] and w₂ < −[`W2_TOL`]: the line of degenerate non-global minima.
    LineMinima,
    /// |w₂w₁² − ½| ≤ [`VALLEY`]: the valley of global minima.
    Global,
    /// The run diverged.
    Diverged,
    /// Anywhere else (still moving, or between the sets).
    Elsewhere,
}

/// |w₁| at most this is on the line w₁ = 0 (a 2-D histogram cell of Fig. 6).
const ON_LINE: f64 = 0.05;
/// w₂ below −W2_TOL on that line is on the minima's half.
const W2_TOL: f64 = 0.01;
/// |w₂w₁² − ½| at most this is in the valley of global minima: L − L* = (u − ½)² at most a
/// quarter of the gap L(saddle) − L* = ¼.
const VALLEY: f64 = 0.25;

impl Place {
    pub(crate) fn of(f: &saddle::observe::FinalState) -> Place {
        if matches!(f.status, saddle::observe::Status::Diverged(_)) {
            return Place::Diverged;
        }
        let (w1, w2) = (f.w[0], f.w[1]);
        if w1.abs() <= ON_LINE {
            if w2 >= -W2_TOL {
                Place::Saddle
            } else {
                Place::LineMinima
            }
        } else if (w2 * w1 * w1 - 0.5).abs() <= VALLEY {
            Place::Global
        } else {
            Place::Elsewhere
        }
    }
}

/// Counts of final states per place: [saddle, line minima, global, diverged, elsewhere].
fn places(sum: &Summary, name: &str) -> Result<[u64; 5], ReproduceError> {
    let finals = sum
        .final_states
        .as_ref()
        .ok_or_else(|| ReproduceError::Input(format!("{name}.toml: no final states recorded")))?;
    let mut c = [0u64; 5];
    for f in finals {
        c[match Place::of(f) {
            Place::Saddle => 0,
            Place::LineMinima => 1,
            Place::Global => 2,
            Place::Diverged => 3,
            Place::Elsewhere => 4,
        }] += 1;
    }
    Ok(c)
}

fn places_text(c: &[u64; 5], n: u64) -> String {
    format!(
        "of {n} runs: {} on the saddle set (w₁ ≈ 0, w₂ ≥ 0), {} on the line of degenerate \
         minima (w₁ ≈ 0, w₂ < 0), {} at the global minimum (w₂w₁² ≈ ½), {} diverged, {} \
         elsewhere",
        c[0], c[1], c[2], c[3], c[4]
    )
}

pub(crate) fn build(ctx: &Ctx) -> Result<Section, ReproduceError> {
    let id = "fig6";
    let left = load_observing(ctx, "fig6-left", &["final_states"])?;
    let mid = load_observing(ctx, "fig6-mid", &["final_states"])?;
    let right = load(ctx, "fig6-right")?;
    let (lr_l, lr_m) = (left.base.optimizer.lr, mid.base.optimizer.lr);
    let mut s = section(
        id,
        &format!(
            "The paper (§6.5): for the network f = w₂(w₁x)² with x = 1 and labels y = −1 or 2 \
             (loss (f − y)², Eq. 18), the global minima lie on w₂w₁² = ½ with L* = 2.25 and the \
             line w₁ = 0 has L = 2.5. SGD with λ = 0.001 ends in the valley of global minima; \
             with λ = 0.1 \"all runs converge to the saddle point\". On the line w₁ = 0, \
             ∂²L/∂w₁² = −2w₂: it is a set of saddles where w₂ > 0 but a line of degenerate \
             (non-global) minima where w₂ < 0. The honest claim checked here: at the large λ no \
             run reaches the global minimum and every run ends on the line w₁ = 0 where \
             L = 2.5, the saddle's loss; the split between its two halves is reported. The mean \
             final loss jumps from 2.25 to 2.5 as λ grows, until runs start to diverge between \
             λ = 0.10 and 0.125. Run here: λ = {lr_l} (left), λ = {lr_m} (middle), the sweep \
             over {} (right).",
            super::fig3::grid_text(&right)
        ),
    );
    s.experiments = vec![
        "fig6-left.toml".into(),
        "fig6-mid.toml".into(),
        "fig6-right.toml".into(),
    ];
    s.parameters = vec![
        describe(&left),
        settings(&left),
        describe(&mid),
        settings(&mid),
        describe(&right),
        settings(&right),
        format!(
            "final states classified: on the line |w₁| ≤ {ON_LINE} (saddle set if w₂ ≥ \
             −{W2_TOL}, degenerate minima below), global minimum |w₂w₁² − ½| ≤ {VALLEY}"
        ),
    ];
    let c_left = places(left.single(), "fig6-left")?;
    let c_mid = places(mid.single(), "fig6-mid")?;
    let (n_l, n_m) = (left.base.runs, mid.base.runs);
    s.checks.push(
        Check::new(
            "fig6-left-global",
            id,
            &format!(
                "With λ = {lr_l} (the paper: 0.001) at least 99 % of the runs end at the global \
                 minimum w₂w₁² = ½."
            ),
            "§6.5, Fig. 6 left",
            REACHED,
            c_left[2] as f64 / n_l.max(1) as f64,
            None,
            0.0,
            Rule::AtLeast,
            format!(
                "{}; the 99 % threshold is a choice (the paper: the runs end in the valley)",
                places_text(&c_left, n_l)
            ),
        )
        .claim()
        .unit("fraction of runs"),
    );
    s.checks.push(
        Check::new(
            "fig6-mid-saddle-line",
            id,
            &format!(
                "With λ = {lr_m} (the paper: 0.1) no run ends at the global minimum: at least 99 % \
                 end on the line w₁ = 0 (L = 2.5), saddles or degenerate minima."
            ),
            "§6.5, Fig. 6 middle",
            REACHED,
            (c_mid[0] + c_mid[1]) as f64 / n_m.max(1) as f64,
            None,
            0.0,
            Rule::AtLeast,
            format!(
                "{}; the 99 % threshold is a choice (the paper: all runs)",
                places_text(&c_mid, n_m)
            ),
        )
        .claim()
        .unit("fraction of runs"),
    );
    s.notes.push(format!(
        "Where the runs end at λ = {lr_m}: {}. The paper calls all of them the saddle point; on \
         the half w₂ < 0 of the line w₁ = 0 the Hessian's only non-zero entry, ∂²L/∂w₁² = −2w₂, \
         is positive, so those runs sit on a line of degenerate local minima with the saddle's \
         loss 2.5, not on saddles. At λ = {lr_l}: {}.",
        places_text(&c_mid, n_m),
        places_text(&c_left, n_l)
    ));
    s.data.push(ctx.csv(
        "fig6-final-places",
        &[
            "lr",
            "saddle_set",
            "line_minima",
            "global_minimum",
            "diverged",
            "elsewhere",
        ],
        [(lr_l, c_left), (lr_m, c_mid)].into_iter().map(|(lr, c)| {
            let mut row = vec![lr];
            row.extend(c.iter().map(|&x| x as f64));
            row
        }),
    )?);
    let gap = L_SADDLE - L_MIN;
    for (res, target, name, which) in [
        (&left, L_MIN, "fig6-left-loss", "the global minimum"),
        (&mid, L_SADDLE, "fig6-mid-loss", "the line w₁ = 0"),
    ] {
        let sum = res.single();
        s.checks.push(
            Check::new(
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
                    "tolerance: a tenth of the gap {gap} between the minimum and the saddle (SGD's \
                     own fluctuations add a loss of order λ); {} runs diverged",
                    sum.diverged
                ),
            )
            .unit("loss"),
        );
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
    s.checks.push(
        Check::new(
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
        )
        .claim()
        .unit("learning rate"),
    );
    let (m_left, rows_l) = map(
        left.single(),
        &left.base,
        &format!("λ = {lr_l}, final step"),
    )?;
    let (m_mid, rows_m) = map(mid.single(), &mid.base, &format!("λ = {lr_m}, final step"))?;
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
