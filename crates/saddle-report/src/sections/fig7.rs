//! Fig. 7 (App. A.1): the phase diagram on the fourth-order landscape, with the quadratic's
//! boundary drawn over it.

use super::fig3::{phase_map, quadratic_cells, two_point_a};
use super::*;
use crate::checks::{Check, Rule};
use crate::plot::{Figure, Panel};

/// The learning rates up to which the quadratic's boundary is compared (the paper: "when λ is
/// small").
const SMALL_LR: f64 = 0.5;
/// The fraction of decisive cells that must agree.
const AGREEMENT: f64 = 0.9;

pub(crate) fn build(ctx: &Ctx) -> Result<Section, ReproduceError> {
    let id = "fig7";
    let r = load(ctx, "fig7")?;
    let mut s = section(
        id,
        &format!(
            "The paper (App. A.1): on L̂ = x w²/2 + w⁴/4 the escape fraction over (a, λ) again \
             splits into an absorbing phase and an escaping one, and at small learning rates the \
             boundary is the quadratic's (Eq. 7): the quartic term only matters far from 0, so \
             whether runs leave 0 is decided by the same product of factors. Run here: {}.",
            super::fig3::grid_text(&r)
        ),
    );
    s.experiments.push("fig7.toml".into());
    s.parameters.push(describe(&r));
    s.parameters.push(settings(&r));
    // The quadratic's finite-T law in each cell at λ ≤ SMALL_LR; the cells where it is
    // decisive (`CellTheory::decisive`) are compared.
    let all = quadratic_cells(&r, id, f64::INFINITY)?;
    let cells: Vec<_> = all.iter().filter(|c| c.lr <= SMALL_LR).collect();
    let all_agree = all.iter().filter(|c| c.in_eq7_phase()).count();
    let trapped_maxima = all
        .iter()
        .filter(|c| c.a < 0.0 && c.measured <= 0.01)
        .count();
    s.checks.push(Check::some_cells(
        "fig7-trapped-maximum",
        id,
        "The fourth-order landscape has an absorbing phase where w = 0 is a maximum: in some \
             cells with a < 0 at most 1 % of the runs escape.",
        "App. A.1, Fig. 7",
        trapped_maxima,
        format!(
            "measured: cells with a < 0 and an escape fraction ≤ 0.01, of {} cells; the 1 % \
                 threshold is a choice",
            all.len()
        ),
    ));
    let decisive = cells.iter().filter(|c| c.decisive()).count();
    let agree = cells
        .iter()
        .filter(|c| c.decisive() && c.in_eq7_phase())
        .count();
    s.checks.push(
        Check::new(
            "fig7-small-lr",
            id,
            "At small learning rates (λ ≤ 0.5) the fourth-order landscape has the quadratic's \
         phases: at least 90 % of the cells where the quadratic's phase is unambiguous agree.",
            "App. A.1, Fig. 7",
            AGREEMENT,
            agree as f64 / decisive.max(1) as f64,
            None,
            0.0,
            Rule::AtLeast,
            format!(
            "{agree} of {decisive} cells with λ ≤ {SMALL_LR} where the quadratic's exact finite-T \
             escape probability is ≤ 0.01 (μ < 0) or ≥ 0.99 (μ > 0) have the same majority \
             phase; the 90 % threshold is a choice (the paper says \"good agreement\"); over \
             all {} cells (every λ, decisive or not) {all_agree} ({}) have the majority phase \
             of the sign of μ",
            all.len(),
            num(all_agree as f64 / all.len().max(1) as f64)
        ),
        )
        .unit("fraction of cells"),
    );
    let map = phase_map(&r, "Escape fraction (x w²/2 + w⁴/4)")?;
    let mut rows = Vec::new();
    for (i, c) in r.cells.iter().enumerate() {
        rows.push(vec![
            two_point_a(&r, i)?,
            r.experiments[i].optimizer.lr,
            c.escape.as_ref().map_or(f64::NAN, |e| e.value),
            c.diverged as f64 / r.base.runs as f64,
        ]);
    }
    s.data.push(ctx.csv(
        "fig7",
        &["a", "lr", "escape_fraction", "diverged_fraction"],
        rows,
    )?);
    ctx.figure(
        "fig7",
        &Figure {
            title: "Fig. 7".into(),
            panels: vec![Panel::Heat(map)],
            panel_width: 640,
            height: 500,
        },
    )?;
    s.figure = Some("fig7".into());
    s.caption = "The fraction of runs with |w_T| ≥ 0.05 in each (a, λ) cell on the fourth-order \
                 landscape; orange: the quadratic's boundary μ(λ) = 0 (Eq. 7)."
        .into();
    Ok(s)
}
