//! App. C.2 (Eqs 62–65): the continuous-time stationary density of SGD on the fourth-order
//! landscape with additive noise, and its most probable w.

use super::*;
use crate::checks::{z_threshold, Check, Rule};
use crate::plot::{Figure, Panel, XyPlot};
use saddle::analysis::inputs::{continuous_limit, data_moments, quartic_b};
use saddle::analysis::stationary::stationary_density_for;
use saddle::analysis::time_per_step;
use saddle::experiment::coefficients;
use saddle::rng::{standard_normal, stream};
use saddle::theory::distance::bin_probabilities;

/// Half-width, in bins, of the window around the highest bin where ln(count) is fitted with
/// a parabola.
const HALF_WINDOW: usize = 6;
/// Bootstrap replicates for the mode's standard error.
const REPLICATES: u32 = 400;

/// The mode of a folded histogram (bin centres `x`, counts `c`): the vertex of a weighted
/// least-squares parabola through ln(count) around the highest bin (weights = counts, since
/// Var ln c ≈ 1/c). Falls back to the highest bin's centre when the fit is not concave.
fn mode(x: &[f64], c: &[f64]) -> f64 {
    let j = c
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(j, _)| j);
    let lo = j.saturating_sub(HALF_WINDOW);
    let hi = (j + HALF_WINDOW).min(c.len() - 1);
    // Normal equations for y = p0 + p1 u + p2 u², u = x − x_j.
    let mut s = [[0.0f64; 3]; 3];
    let mut r = [0.0f64; 3];
    for i in lo..=hi {
        if c[i] <= 0.0 {
            continue;
        }
        let u = x[i] - x[j];
        let basis = [1.0, u, u * u];
        for a in 0..3 {
            for b in 0..3 {
                s[a][b] += c[i] * basis[a] * basis[b];
            }
            r[a] += c[i] * basis[a] * c[i].ln();
        }
    }
    match solve3(s, r) {
        Some([_, p1, p2]) if p2 < 0.0 => {
            let v = x[j] - p1 / (2.0 * p2);
            if v >= x[lo] && v <= x[hi] {
                v
            } else {
                x[j]
            }
        }
        _ => x[j],
    }
}

/// Solve a 3 × 3 linear system by Cramer's rule (None when singular).
fn solve3(m: [[f64; 3]; 3], r: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&m);
    if d.abs() < 1e-300 {
        return None;
    }
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut mk = m;
        for i in 0..3 {
            mk[i][k] = r[i];
        }
        *o = det(&mk) / d;
    }
    Some(out)
}

pub(crate) fn build(ctx: &Ctx) -> Result<Section, ReproduceError> {
    let id = "eq65";
    let r = load(ctx, "eq63")?;
    let e = &r.base;
    let sum = r.single();
    let b = quartic_b(e)
        .ok_or_else(|| ReproduceError::Input("eq63.toml: the model must be the quartic".into()))?;
    let (m, v) = data_moments(e);
    let batch = e.noise.batch as f64;
    let lr = e.optimizer.lr;
    let mut s = section(
        id,
        &format!(
            "The paper (App. C.2, Eqs 62–65): in the continuous-time limit (Eq. 49) of SGD on \
             L = m w²/2 + b w⁴/4 with minibatch noise of variance v w² and additive noise σ, the \
             noise strength is C(w) = v w² + Sσ² (Eq. 62) and the stationary density is Eq. 63. \
             Its most probable w is not a minimum of L: ŵ = ±√(−λv/(Sb) − m/b) for m < −λv/S \
             (Eq. 65), pulled toward the saddle at 0 by the state-dependent noise. Run here: \
             m = {}, b = {b}, v = {}, σ = {}, λ = {lr}, S = {batch}.",
            num(m),
            num(v),
            e.injected_sigma
        ),
    );
    s.experiments.push("eq63.toml".into());
    s.parameters.push(describe(&r));
    s.parameters.push(settings(&r));
    s.parameters.push(format!(
        "m = {}, b = {b}, v = {}, σ = {}, λ = {lr}, S = {batch}, w₀ ~ U[−1, 1]",
        num(m),
        num(v),
        e.injected_sigma
    ));
    let closed = theory(id, continuous_limit(e, b))?;
    let w_hat = theory(id, closed.most_probable_w())?;
    let land = coefficients(e).map_err(|x| ReproduceError::Run(format!("eq63: {x}")))?;
    let h = hist_at(&sum.histograms, &[0], e.steps, "eq63")?;
    let span = 3.0 * h.hi[0].abs().max(h.lo[0].abs());
    let fp = theory(
        id,
        stationary_density_for(e, land.as_ref(), -span, span, 4000),
    )?;
    s.checks.push(
        l1_check(
            "eq63-density",
            id,
            "The ensemble's histogram is the stationary density of Eq. 63.",
            "App. C.2, Eqs 57, 63",
            h,
            |w| fp.cdf_at(w),
        )?
        .unit("L1 distance"),
    );
    let probs = theory(
        id,
        bin_probabilities(|w| fp.cdf_at(w), h.lo[0], h.hi[0], h.bins[0]),
    )?;
    let z1 = z_threshold(1);
    // The mode, from the histogram folded onto |w| (the density is even).
    let nb = h.bins[0];
    if nb % 2 != 0 || (h.lo[0] + h.hi[0]).abs() > 1e-12 {
        return Err(ReproduceError::Input(
            "eq63.toml: the histogram must be symmetric about 0 with an even number of bins".into(),
        ));
    }
    let half = nb / 2;
    let width = (h.hi[0] - h.lo[0]) / nb as f64;
    let xs: Vec<f64> = (0..half).map(|i| (i as f64 + 0.5) * width).collect();
    let fold =
        |c: &[f64]| -> Vec<f64> { (0..half).map(|i| c[half + i] + c[half - 1 - i]).collect() };
    let observed: Vec<f64> = fold(&h.counts.iter().map(|&c| c as f64).collect::<Vec<_>>());
    let measured = mode(&xs, &observed);
    // The estimator's own bias: applied to the exact expected counts.
    let n = total(h) as f64;
    let expected: Vec<f64> = fold(&probs[1..=nb].iter().map(|p| p * n).collect::<Vec<_>>());
    let bias = mode(&xs, &expected) - w_hat;
    // Its standard error: a parametric bootstrap, each count perturbed by its Poisson sd.
    let reps: Vec<f64> = (0..REPLICATES)
        .map(|k| {
            let mut rng = stream(0x65, 0, k);
            let c: Vec<f64> = observed
                .iter()
                .map(|&c| (c + c.sqrt() * standard_normal(&mut rng)).max(0.0))
                .collect();
            mode(&xs, &c)
        })
        .collect();
    let mean_r = reps.iter().sum::<f64>() / reps.len() as f64;
    let se =
        (reps.iter().map(|x| (x - mean_r).powi(2)).sum::<f64>() / (reps.len() - 1) as f64).sqrt();
    let w_min = (-m / b).max(0.0).sqrt();
    s.checks.push(Check::new(
        "eq65-mode",
        id,
        "The most probable |w| is Eq. 65's ŵ = √(−λv/(Sb) − m/b), not the minimum √(−m/b) of L.",
        "App. C.2, Eq. 65",
        w_hat,
        measured,
        Some(se),
        z1 * se + bias.abs(),
        Rule::Within,
        format!(
            "measured: the vertex of a weighted parabola through ln(count) of the histogram \
             folded onto |w|, within ±{HALF_WINDOW} bins of the highest; standard error from \
             {REPLICATES} bootstrap replicates; tolerance {z1:.2} standard errors plus the \
             estimator's bias on the exact bin probabilities ({}); the minimum of L is at {}, \
             {} standard errors away",
            num(bias),
            num(w_min),
            num((measured - w_min).abs() / se)
        ),
    )
    .unit("w"));
    s.checks.push(
        Check::new(
            "eq65-inside-minimum",
            id,
            "The most probable |w| is not the minimum of L: it is pulled toward the saddle at 0, \
             below √(−m/b).",
            "App. C.2, Eq. 65",
            w_min,
            measured,
            Some(se),
            z1 * se + bias.abs(),
            Rule::Below,
            format!(
                "measured: the mode of |w| as in eq65-mode; it must lie below the minimum {} of L \
                 by {z1:.2} bootstrap standard errors plus the estimator's bias ({})",
                num(w_min),
                num(bias)
            ),
        )
        .claim()
        .unit("w"),
    );
    let ed = edges(h);
    let d = density(h);
    let fx = linspace(h.lo[0], h.hi[0], 401);
    let fy: Vec<f64> = fx.iter().map(|&w| fp.density_at(w)).collect();
    // Head room for the legend above the peaks.
    let top = d.iter().chain(&fy).cloned().fold(0.0, f64::max) * 1.45;
    s.data.push(ctx.csv(
        "eq65",
        &["bin_lo", "bin_hi", "density", "eq63_at_centre"],
        (0..nb).map(|i| {
            vec![
                ed[i],
                ed[i + 1],
                d[i],
                fp.density_at(0.5 * (ed[i] + ed[i + 1])),
            ]
        }),
    )?);
    ctx.figure(
        "eq65",
        &Figure {
            title: "Eq. 65".into(),
            panels: vec![Panel::Xy(XyPlot {
                title: format!(
                    "Stationary distribution: m = {}, b = {b}, σ = {}",
                    num(m),
                    e.injected_sigma
                ),
                x: axis("w", h.lo[0], h.hi[0], false),
                y: axis("density", 0.0, top, false),
                series: vec![
                    bars(
                        &format!("SDE ensemble, t = {}", e.steps as f64 * time_per_step(e)),
                        ed,
                        d,
                        0,
                    ),
                    dashed("Eq. 63", fx, fy, 1),
                ],
                lines: vec![
                    vline(-w_hat, "most probable ±ŵ (Eq. 65)", 3),
                    vline(w_hat, "", 3),
                    vline(-w_min, "minima of L", 7),
                    vline(w_min, "", 7),
                ],
            })],
            panel_width: 720,
            height: 440,
        },
    )?;
    s.figure = Some("eq65".into());
    s.caption = "Histogram of the SDE ensemble at the final time (density) against Eq. 63; the \
                 peaks sit at Eq. 65's ±ŵ, inside the minima of L."
        .into();
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_finds_the_vertex_of_a_gaussian_bump() {
        // Exact counts of a Gaussian bump centred between bins: ln(count) is a parabola, so
        // the fit returns the centre to rounding.
        let xs: Vec<f64> = (0..80).map(|i| (i as f64 + 0.5) * 0.025).collect();
        let c: Vec<f64> = xs
            .iter()
            .map(|x| 1000.0 * (-(x - 0.62f64).powi(2) / (2.0 * 0.09)).exp())
            .collect();
        assert!((mode(&xs, &c) - 0.62).abs() < 1e-9);
    }
}
