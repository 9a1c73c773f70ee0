//! Fig. 3: the phase diagram of escape over (a, λ) with Eq. 7's boundary (left), and the
//! escape rate γ̂ against λ with μ(λ) and Prop. 3's optimum (right).

use super::*;
use crate::checks::{binomial_p_value, z_threshold, Check, Rule, ALPHA};
use crate::plot::{Figure, HeatMap, Panel, Series, XyPlot};
use crate::source::Results;
use rayon::prelude::*;
use saddle::analysis::inputs::two_point_law_a;
use saddle::theory::escape_probability::escape_probability;
use saddle::theory::escape_rate::two_point_optimum;
use saddle::theory::log_moments::two_point_mu;

/// The λ range of Fig. 3 right (log axis).
const RATE_LR: (f64, f64) = (0.005, 2.0);

/// The largest escape fraction of a trapped cell (a choice).
const TRAPPED: f64 = 0.01;

/// The two branches of Eq. 7's boundary μ(a, λ) = 0 as curves a(λ) over [lr_lo, lr_hi]:
/// (1 − λ)(1 − λ(a − 1)) = ±1 is linear in a, giving a = −λ/(1 − λ) (the + sign) and
/// a = 1 + (2 − λ)/(λ(1 − λ)) (the − sign). Points with a outside [a_lo, a_hi] are NaN, so
/// the plotted lines break there.
pub(crate) fn boundary_curves(lr_lo: f64, lr_hi: f64, a_lo: f64, a_hi: f64) -> Vec<Series> {
    let lrs: Vec<f64> = linspace(lr_lo, lr_hi, 2001)
        .into_iter()
        .filter(|l| (l - 1.0).abs() > 1e-9 && *l > 0.0)
        .collect();
    let clip = |a: f64| {
        if a >= a_lo && a <= a_hi {
            a
        } else {
            f64::NAN
        }
    };
    let plus: Vec<f64> = lrs.iter().map(|l| clip(-l / (1.0 - l))).collect();
    let minus: Vec<f64> = lrs
        .iter()
        .map(|l| clip(1.0 + (2.0 - l) / (l * (1.0 - l))))
        .collect();
    vec![
        line("μ(λ) = 0 (Eq. 7)", plus, lrs.clone(), 1),
        line("", minus, lrs, 1),
    ]
}

/// The two-point parameter a of an experiment's noise.
pub(crate) fn two_point_a(r: &Results, i: usize) -> Result<f64, ReproduceError> {
    two_point_law_a(&r.experiments[i]).ok_or_else(|| {
        ReproduceError::Input(format!(
            "{}.toml: this figure needs two-point noise",
            r.base.name
        ))
    })
}

/// A heat map of the escape fraction over an (a, λ) sweep (a slowest), with Eq. 7's boundary.
pub(crate) fn phase_map(r: &Results, title: &str) -> Result<HeatMap, ReproduceError> {
    let grid = r.base.sweep.as_ref().ok_or_else(|| {
        ReproduceError::Input(format!("{}.toml: needs an (a, λ) sweep", r.base.name))
    })?;
    let (av, lv) = match grid.axes.as_slice() {
        [a, l] if a.path == "noise.a" && l.path == "optimizer.lr" => {
            (a.values.values(), l.values.values())
        }
        _ => {
            return Err(ReproduceError::Input(format!(
                "{}.toml: the sweep must have the axes noise.a then optimizer.lr",
                r.base.name
            )))
        }
    };
    let (na, nl) = (av.len(), lv.len());
    let half = |v: &[f64]| {
        if v.len() > 1 {
            0.5 * (v[1] - v[0])
        } else {
            0.5
        }
    };
    let (ha, hl) = (half(&av), half(&lv));
    let mut values = vec![f64::NAN; na * nl];
    for ia in 0..na {
        for il in 0..nl {
            values[il * na + ia] = r.cells[ia * nl + il]
                .escape
                .as_ref()
                .map_or(f64::NAN, |e| e.value);
        }
    }
    let (a_lo, a_hi) = (av[0] - ha, av[na - 1] + ha);
    let (l_lo, l_hi) = (lv[0] - hl, lv[nl - 1] + hl);
    Ok(HeatMap {
        title: title.into(),
        x: axis("a", a_lo, a_hi, false),
        y: axis("learning rate λ", l_lo, l_hi, false),
        nx: na,
        ny: nl,
        values,
        scale: axis("escape fraction P(|w_T| ≥ δ)", 0.0, 1.0, false),
        blank_at_or_below: None,
        contours: None,
        overlays: boundary_curves(l_lo.max(1e-3), l_hi, a_lo, a_hi),
    })
}

/// The sweep of a file as text: "a ∈ [−1, 1] (64 values) × λ ∈ [0.02, 2] (64 values)".
pub(crate) fn grid_text(r: &Results) -> String {
    let Some(grid) = &r.base.sweep else {
        return "no sweep".into();
    };
    grid.axes
        .iter()
        .map(|ax| {
            let v = ax.values.values();
            let name = match ax.path.as_str() {
                "noise.a" => "a".to_string(),
                "optimizer.lr" => "λ".to_string(),
                p => p.to_string(),
            };
            let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            format!("{name} ∈ [{}, {}] ({} values)", num(lo), num(hi), v.len())
        })
        .collect::<Vec<_>>()
        .join(" × ")
}

pub(crate) fn build(ctx: &Ctx) -> Result<Section, ReproduceError> {
    let id = "fig3";
    let left = load(ctx, "fig3-left")?;
    let right = load(ctx, "fig3-right")?;
    let mut s = section(
        id,
        &format!(
            "The paper (Prop. 2, Eq. 7; Prop. 3): whether SGD escapes w = 0 on L̂ = x w²/2 \
             (x = 1 or a − 1) is decided by the sign of μ(λ) = ½ ln|(1 − λ)(1 − λ(a − 1))|: runs \
             are trapped where μ < 0, even where w = 0 is a maximum (a < 0), and escape where \
             μ > 0. The escape rate γ̂ (Eq. 8) measures μ directly; for a < 0 it is largest at \
             λ* = a/(2(a − 1)), where it equals γ* = ln((2 − a)/(2√(1 − a))) (Prop. 3), which \
             tends to 0 as a → 0: escaping a flat saddle is slow at any learning rate. Run here: \
             the phase diagram over {}; the escape rate over {}.",
            grid_text(&left),
            grid_text(&right)
        ),
    );
    s.experiments = vec!["fig3-left.toml".into(), "fig3-right.toml".into()];
    let delta = left.cells[0].escape.as_ref().map_or(f64::NAN, |e| e.delta);
    s.parameters = vec![
        describe(&left),
        settings(&left),
        describe(&right),
        settings(&right),
        format!(
            "escaped: |w_T| ≥ δ = {delta} (diverged runs count as escaped); γ̂ at t = 50 (§6.2)"
        ),
    ];
    left_checks(&mut s, ctx, &left)?;
    let right_panel = right_checks(&mut s, ctx, &right)?;
    let map = phase_map(&left, "Escape fraction (quadratic)")?;
    ctx.figure(
        "fig3",
        &Figure {
            title: "Fig. 3".into(),
            panels: vec![Panel::Heat(map), Panel::Xy(right_panel)],
            panel_width: 600,
            height: 480,
        },
    )?;
    s.figure = Some("fig3".into());
    s.caption = "Left: the fraction of runs with |w_T| ≥ 0.05 in each (a, λ) cell; orange: \
                 μ(λ) = 0, the boundary of Eq. 7 (trapped between the branches at a < 0 and \
                 below them at a > 0). Right: γ̂(50) (light dots, with standard errors) for five \
                 values of a on log–log axes, so that every peak shows: only positive rates can \
                 be drawn, so the trapped range (γ ≤ 0, around λ = 1) runs off the bottom; \
                 dashed: μ(λ); black dots: Prop. 3's (λ*, γ*), which fall towards 0 as a → 0."
        .into();
    Ok(s)
}

/// One cell of an (a, λ) sweep against the quadratic's exact finite-T law.
pub(crate) struct CellTheory {
    pub(crate) a: f64,
    pub(crate) lr: f64,
    /// μ(λ) of Eq. 7.
    pub(crate) mu: f64,
    /// The quadratic's exact P(|w_T| ≥ δ).
    pub(crate) exact: f64,
    /// The measured escape fraction.
    pub(crate) measured: f64,
    /// The runs that escaped.
    pub(crate) escaped: u64,
    /// The two-sided exact binomial p-value of `escaped` under `exact`.
    pub(crate) p_value: f64,
}

impl CellTheory {
    /// Whether the quadratic's phase is unambiguous after T steps: its exact escape
    /// probability is ≤ 0.01 with μ < 0 or ≥ 0.99 with μ > 0.
    pub(crate) fn decisive(&self) -> bool {
        (self.mu < 0.0 && self.exact <= 0.01) || (self.mu > 0.0 && self.exact >= 0.99)
    }

    /// Whether the majority phase of the runs is Eq. 7's (escaped where μ > 0).
    pub(crate) fn in_eq7_phase(&self) -> bool {
        (self.measured >= 0.5) == (self.mu > 0.0)
    }
}

/// The cells of an (a, λ) sweep with λ ≤ `lr_max`, each with the quadratic's exact escape
/// probability (computed in parallel), for the checks of Figs 3 and 7.
pub(crate) fn quadratic_cells(
    r: &Results,
    section: &str,
    lr_max: f64,
) -> Result<Vec<CellTheory>, ReproduceError> {
    let init = init_law(&r.base)?;
    let cells: Vec<Option<CellTheory>> = (0..r.cells.len())
        .into_par_iter()
        .map(|i| {
            let e = &r.experiments[i];
            let lr = e.optimizer.lr;
            if lr > lr_max {
                return Ok(None);
            }
            let a = two_point_a(r, i)?;
            let esc = r.cells[i].escape.as_ref().ok_or_else(|| {
                ReproduceError::Input(format!("{}.toml: needs [observe] escape", r.base.name))
            })?;
            let exact = theory(
                section,
                escape_probability(&e.noise, lr, e.steps, esc.delta, &init),
            )?
            .exact
            .unwrap_or(f64::NAN);
            let escaped = (esc.value * e.runs as f64).round() as u64;
            Ok(Some(CellTheory {
                a,
                lr,
                mu: two_point_mu(a, lr),
                exact,
                measured: esc.value,
                escaped,
                p_value: binomial_p_value(escaped, e.runs, exact),
            }))
        })
        .collect::<Result<_, ReproduceError>>()?;
    Ok(cells.into_iter().flatten().collect())
}

fn left_checks(s: &mut Section, ctx: &Ctx, left: &Results) -> Result<(), ReproduceError> {
    let id = "fig3";
    let e0 = &left.base;
    let cells = quadratic_cells(left, id, f64::INFINITY)?;
    let m = cells.len();
    // Prop. 2: where the finite-T law is decisive and agrees with Eq. 7's sign, the
    // empirical majority phase must be Eq. 7's.
    let decisive: Vec<&CellTheory> = cells.iter().filter(|c| c.decisive()).collect();
    let mismatched = decisive.iter().filter(|c| !c.in_eq7_phase()).count();
    let sign_vs_majority = cells.iter().filter(|c| !c.in_eq7_phase()).count();
    // The paper's claim: SGD is trapped at a maximum (a < 0) in part of the plane.
    let trapped_maxima = cells
        .iter()
        .filter(|c| c.a < 0.0 && c.measured <= TRAPPED)
        .count();
    let maxima = cells.iter().filter(|c| c.a < 0.0).count();
    s.checks.push(Check::some_cells(
        "fig3-trapped-maximum",
        id,
        "SGD converges to a local maximum: in some cells with a < 0 (w = 0 a maximum of the \
             expected loss) at most 1 % of the runs escape.",
        "Prop. 2, Fig. 3 left",
        trapped_maxima,
        format!(
            "measured: cells with a < 0 and an escape fraction ≤ {TRAPPED}, of the {maxima} \
                 cells with a < 0 (of {m}); the 1 % threshold is a choice"
        ),
    ));
    s.checks.push(
        Check::new(
            "prop2-phase",
            id,
            "Every cell whose phase is unambiguous after T steps is in the phase Eq. 7 predicts: \
             trapped (most runs at |w_T| < δ) where μ < 0, escaped where μ > 0.",
            "Prop. 2, Eq. 7",
            0.0,
            mismatched as f64,
            None,
            0.0,
            Rule::AtMost,
            format!(
                "measured: cells in the wrong phase among the {} of {m} cells where the exact \
                 finite-T escape probability is ≤ 0.01 with μ < 0 or ≥ 0.99 with μ > 0; over all \
                 cells, {sign_vs_majority} have a majority phase other than the sign of μ (cells \
                 near the boundary, where T steps are too few to decide)",
                decisive.len()
            ),
        )
        .unit("cells"),
    );
    let worst = cells
        .iter()
        .min_by(|x, y| x.p_value.total_cmp(&y.p_value))
        .expect("at least one cell");
    s.checks.push(
        Check::test(
            "fig3-exact",
            id,
            "In every cell the escape fraction is the exact escape probability of the product \
             of random factors (w₀ ~ U[−1, 1]), within binomial sampling error.",
            "Prop. 2, Lemma 1",
            Some(worst.exact),
            worst.measured,
            worst.p_value,
            ALPHA / m as f64,
            format!(
                "the cell with the smallest two-sided exact binomial p-value over the {m} cells \
                 (a = {}, λ = {}: {} of {} runs escaped); theory: its exact escape probability; \
                 level: the Bonferroni level {ALPHA}/{m}",
                num(worst.a),
                num(worst.lr),
                worst.escaped,
                e0.runs,
            ),
        )
        .unit("fraction of runs"),
    );
    s.data.push(
        ctx.csv(
            "fig3-left",
            &[
                "a",
                "lr",
                "escape_fraction",
                "exact_probability",
                "mu",
                "p_value",
            ],
            cells
                .iter()
                .map(|c| vec![c.a, c.lr, c.measured, c.exact, c.mu, c.p_value]),
        )?,
    );
    Ok(())
}

fn right_checks(s: &mut Section, ctx: &Ctx, right: &Results) -> Result<XyPlot, ReproduceError> {
    let id = "fig3";
    let t_gamma = 50;
    struct Pt {
        a: f64,
        lr: f64,
        g: f64,
        se: f64,
        mu: f64,
    }
    let mut pts = Vec::new();
    for (i, sum) in right.cells.iter().enumerate() {
        let a = two_point_a(right, i)?;
        let lr = right.experiments[i].optimizer.lr;
        let g = sum
            .escape_rate
            .iter()
            .find(|g| g.t == t_gamma)
            .ok_or_else(|| {
                ReproduceError::Input(format!(
                    "fig3-right.toml: needs escape_rate_steps to include {t_gamma}"
                ))
            })?;
        pts.push(Pt {
            a,
            lr,
            g: g.value.unwrap_or(f64::NAN),
            se: g.stderr.unwrap_or(f64::NAN),
            mu: two_point_mu(a, lr),
        });
    }
    // Every cell: γ̂(50) against μ(λ).
    let zc = z_threshold(pts.len());
    let (worst_z, worst) = pts
        .iter()
        .map(|p| ((p.g - p.mu).abs() / p.se, p))
        .max_by(|x, y| x.0.total_cmp(&y.0))
        .expect("cells");
    s.checks.push(
        Check::new(
            "prop3-gamma-all",
            id,
            "In every cell the escape rate γ̂ equals μ(λ) within its standard error.",
            "Eq. 8, Eq. 83",
            0.0,
            if pts.iter().any(|p| !p.g.is_finite()) {
                f64::NAN
            } else {
                worst_z
            },
            None,
            zc,
            Rule::AtMost,
            format!(
            "measured: the largest |γ̂(50) − μ|/SE over the {} cells (a = {}, λ = {}); tolerance: \
             {zc:.2}, the two-sided Bonferroni threshold at level {ALPHA}",
            pts.len(),
            num(worst.a),
            num(worst.lr)
        ),
        )
        .unit("standard errors"),
    );
    // Prop. 3 for each a: λ* and γ*.
    let mut a_values: Vec<f64> = pts.iter().map(|p| p.a).collect();
    a_values.dedup();
    let z1 = z_threshold(1);
    // Figure: light measured points under the μ(λ) curves, Prop. 3's optima on top.
    let (mut series, mut curves) = (Vec::new(), Vec::new());
    let (mut lr_stars, mut gamma_stars) = (Vec::new(), Vec::new());
    // (a, largest γ̂ over λ < 1, its SE, its λ) for the slow-escape claim.
    let mut bests: Vec<(f64, f64, f64, f64)> = Vec::new();
    for (k, &a) in a_values.iter().enumerate() {
        let opt = theory(id, two_point_optimum(a))?;
        let row: Vec<&Pt> = pts
            .iter()
            .filter(|p| p.a == a && p.lr < opt.lr_max)
            .collect();
        let near = *row
            .iter()
            .min_by(|x, y| {
                (x.lr - opt.lr_star)
                    .abs()
                    .total_cmp(&(y.lr - opt.lr_star).abs())
            })
            .ok_or_else(|| {
                ReproduceError::Input("fig3-right.toml: no learning rate below 1".into())
            })?;
        let best = *row
            .iter()
            .max_by(|x, y| x.g.total_cmp(&y.g))
            .expect("non-empty row");
        let zr = z_threshold(row.len());
        let tol = row
            .iter()
            .filter(|p| opt.gamma_star - p.mu <= zr * (p.se * p.se + near.se * near.se).sqrt())
            .map(|p| (p.lr - opt.lr_star).abs())
            .fold((near.lr - opt.lr_star).abs(), f64::max);
        s.checks.push(
            Check::new(
                &format!("prop3-lambda-star-a{a}"),
                id,
                &format!(
                    "For a = {a} the escape rate is largest at λ* = a/(2(a − 1)) (among λ < 1)."
                ),
                "Prop. 3, Eq. 89",
                opt.lr_star,
                best.lr,
                None,
                tol,
                Rule::Within,
                format!(
                    "measured: the grid λ with the largest γ̂(50); tolerance: the farthest grid λ \
                 whose μ(λ) is within {zr:.2} combined standard errors of γ* (any of them can \
                 come out on top by chance), at least the distance to the nearest grid point"
                ),
            )
            .unit("learning rate"),
        );
        let offset = opt.gamma_star - near.mu;
        s.checks.push(
            Check::new(
                &format!("prop3-gamma-star-a{a}"),
                id,
                &format!("For a = {a} the largest escape rate is γ* = ln((2 − a)/(2√(1 − a)))."),
                "Prop. 3, Eq. 90",
                opt.gamma_star,
                near.g,
                Some(near.se),
                z1 * near.se + offset,
                Rule::Within,
                format!(
                "measured: γ̂(50) at the grid λ = {} nearest λ* = {}; tolerance: {z1:.2} standard \
                 errors plus γ* − μ(λ) = {} for the grid offset",
                num(near.lr),
                num(opt.lr_star),
                num(offset)
            ),
            )
            .unit("per step"),
        );
        bests.push((a, best.g, best.se, best.lr));
        let all: Vec<&Pt> = pts.iter().filter(|p| p.a == a).collect();
        // Log-spaced λ, so that the peaks at small λ are smooth on the log axis.
        let lx: Vec<f64> = linspace(0.0, 1.0, 1200)
            .iter()
            .map(|t| RATE_LR.0 * (RATE_LR.1 / RATE_LR.0).powf(*t))
            .collect();
        curves.push(dashed(
            "",
            lx.clone(),
            lx.iter().map(|&l| two_point_mu(a, l)).collect(),
            k,
        ));
        series.push(
            points(
                &format!("a = {a}"),
                all.iter().map(|p| p.lr).collect(),
                all.iter().map(|p| p.g).collect(),
                Some(all.iter().map(|p| p.se).collect()),
                k,
            )
            .markers(2.5, 0.55),
        );
        lr_stars.push(opt.lr_star);
        gamma_stars.push(opt.gamma_star);
    }
    series.append(&mut curves);
    series.push(dashed("μ(λ), Eq. 7", vec![], vec![], 7));
    series.push(points("(λ*, γ*), Prop. 3", lr_stars, gamma_stars, None, 7).markers(4.5, 1.0));
    // The paper's claim (Theorem 1, Prop. 3): escape from a flat saddle is slow at any λ:
    // the best escape rate over λ < 1 at the a nearest 0 is below that at the a farthest.
    let flat = bests
        .iter()
        .filter(|b| b.0 < 0.0)
        .max_by(|x, y| x.0.total_cmp(&y.0));
    let steep = bests
        .iter()
        .filter(|b| b.0 < 0.0)
        .min_by(|x, y| x.0.total_cmp(&y.0));
    let (diff, se, detail) = match (flat, steep) {
        (Some(f), Some(st)) if f.0 != st.0 => (
            f.1 - st.1,
            (f.2 * f.2 + st.2 * st.2).sqrt(),
            format!(
                "measured: the largest γ̂(50) over λ < 1 at a = {} ({} at λ = {}) minus that at \
                 a = {} ({} at λ = {}); it must lie below 0 by {z1:.2} combined standard errors",
                f.0,
                num(f.1),
                num(f.3),
                st.0,
                num(st.1),
                num(st.3)
            ),
        ),
        _ => (
            f64::NAN,
            f64::NAN,
            "fig3-right.toml sweeps fewer than two values of a < 0".to_string(),
        ),
    };
    s.checks.push(
        Check::new(
            "fig3-slow-escape",
            id,
            "Escaping a flat saddle is slow at any learning rate: the best escape rate over \
             λ < 1 falls as a → 0⁻.",
            "Theorem 1, Prop. 3",
            0.0,
            diff,
            Some(se),
            z1 * se,
            Rule::Below,
            detail,
        )
        .claim()
        .unit("per step"),
    );
    s.data.push(ctx.csv(
        "fig3-right",
        &["a", "lr", "gamma_hat_50", "stderr", "mu"],
        pts.iter().map(|p| vec![p.a, p.lr, p.g, p.se, p.mu]),
    )?);
    // Log axes: the optima span γ* = 0.059 (a = −1) to 3·10⁻⁴ (a = −0.05); rates ≤ 0 (the
    // trapped range around λ = 1) cannot be shown and run off the bottom.
    Ok(XyPlot {
        title: "Positive escape rates γ̂(50) against λ (log–log)".into(),
        x: axis("learning rate λ", RATE_LR.0, RATE_LR.1, true),
        y: axis(
            "escape rate γ̂(50) per step (≤ 0 not shown)",
            5e-5,
            2.0,
            true,
        ),
        series,
        lines: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::Style;

    #[test]
    fn boundary_curves_are_zeros_of_mu() {
        for s in boundary_curves(0.02, 2.0, -1.0, 1.0) {
            assert_eq!(s.style, Style::Line);
            let mut n = 0;
            for (&a, &l) in s.x.iter().zip(&s.y) {
                if a.is_finite() {
                    assert!(two_point_mu(a, l).abs() < 1e-9, "μ({a}, {l})");
                    n += 1;
                }
            }
            assert!(n > 100);
        }
    }
}
