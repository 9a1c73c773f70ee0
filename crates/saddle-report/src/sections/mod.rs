//! The report's sections, one module per figure of the paper (or proposition without one),
//! each running its experiment files, checking the paper's claims against `saddle::theory`,
//! and drawing its figure.

use crate::plot::{Axis, Contours, HeatMap, RefLine, Series, Style};
use crate::source::{run_table, Results};
use crate::{Ctx, ReproduceError, Section};
use saddle::analysis::{distance::histogram_distance, escape::escape_init};
use saddle::observe::Histogram;
use saddle::theory::TheoryError;

mod eq65;
mod fig1;
mod fig10;
mod fig3;
mod fig4;
mod fig5;
mod fig6;
mod fig7;
mod fig8;
mod fig9;
mod prop1;

/// A section builder.
pub(crate) type Build = fn(&Ctx) -> Result<Section, ReproduceError>;

/// Every section, in report order: the id `--only` accepts, its title (the paper's figure
/// and what the paper claims there) and its builder.
pub(crate) const ALL: &[(&str, &str, Build)] = &[
    (
        "prop1",
        "Prop. 1: absorbed at the saddle in finitely many steps",
        prop1::build,
    ),
    (
        "fig1",
        "Fig. 1: SGD converges to a local maximum",
        fig1::build,
    ),
    (
        "fig3",
        "Fig. 3: the phase diagram of escape and the escape rate",
        fig3::build,
    ),
    (
        "fig4",
        "Fig. 4: SGD prefers the sharper minima",
        fig4::build,
    ),
    (
        "fig5",
        "Fig. 5: AMSGrad converges to the local maximum",
        fig5::build,
    ),
    (
        "fig6",
        "Fig. 6: the minimal network ends on the saddle line at a large learning rate",
        fig6::build,
    ),
    (
        "fig7",
        "Fig. 7: the phase diagram of the fourth-order landscape",
        fig7::build,
    ),
    (
        "fig8",
        "Fig. 8: the escape rate estimate settles within a few tens of steps",
        fig8::build,
    ),
    (
        "fig9",
        "Fig. 9: additive noise gives a stationary law, not a delta",
        fig9::build,
    ),
    (
        "eq65",
        "Eqs 63 and 65: the stationary density and its biased peak",
        eq65::build,
    ),
    (
        "fig10",
        "Fig. 10: noise can be designed to make any density stationary",
        fig10::build,
    ),
];

/// Read (at the report's scale) and run experiment file `name`, noting whether it differs
/// from the shipped copy.
pub(crate) fn load(ctx: &Ctx, name: &str) -> Result<Results, ReproduceError> {
    ctx.note_source(name)?;
    let table = ctx.source.table(name, ctx.scale)?;
    run_table(name, &table)
}

/// Like [`load`], with extra observers switched on (`observe.KEY = true`); observers do not
/// change the runs, only what is recorded.
pub(crate) fn load_observing(
    ctx: &Ctx,
    name: &str,
    keys: &[&str],
) -> Result<Results, ReproduceError> {
    ctx.note_source(name)?;
    let mut table = ctx.source.table(name, ctx.scale)?;
    for k in keys {
        saddle::config::set_path(
            &mut table,
            &format!("observe.{k}"),
            toml::Value::Boolean(true),
        )
        .map_err(|e| ReproduceError::Input(format!("{name}.toml: {e}")))?;
    }
    run_table(name, &table)
}

/// The settings of a file as run, one `key = value` per entry (sweep axes and observers
/// aside, which [`describe`] and the checks' details cover), e.g. `optimizer.lr = 0.8`.
pub(crate) fn settings(r: &Results) -> String {
    fn walk(prefix: &str, t: &toml::Table, out: &mut Vec<String>) {
        for (k, v) in t {
            if prefix.is_empty()
                && matches!(
                    k.as_str(),
                    "name" | "description" | "observe" | "sweep" | "seed" | "runs" | "steps"
                )
            {
                continue;
            }
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => walk(&path, t, out),
                v => out.push(format!("{path} = {v}")),
            }
        }
    }
    let mut out = Vec::new();
    walk("", &r.table, &mut out);
    let mut line = format!("{}.toml: {}", r.base.name, out.join(", "));
    if let Some(axes) = r
        .table
        .get("sweep")
        .and_then(|s| s.get("axis"))
        .and_then(|a| a.as_array())
    {
        let ax: Vec<String> = axes
            .iter()
            .filter_map(|a| {
                let path = a.get("path")?.as_str()?;
                let vals = a
                    .get("values")
                    .map(|v| format!("∈ {v}"))
                    .or_else(|| a.get("linspace").map(|v| format!("∈ linspace {v}")))
                    .or_else(|| a.get("logspace").map(|v| format!("∈ logspace {v}")))
                    .unwrap_or_default();
                Some(format!("{path} {vals}"))
            })
            .collect();
        line.push_str(&format!("; swept: {}", ax.join(" × ")));
    }
    line
}

/// The title of section `id`.
pub(crate) fn title(id: &str) -> &'static str {
    ALL.iter()
        .find(|(i, _, _)| *i == id)
        .map_or("", |(_, t, _)| *t)
}

/// A theory result, its error named with the section.
pub(crate) fn theory<T>(section: &str, r: Result<T, TheoryError>) -> Result<T, ReproduceError> {
    r.map_err(|e| ReproduceError::Theory {
        section: section.into(),
        message: e.to_string(),
    })
}

/// An empty section with its id, title (from [`ALL`]) and claim.
pub(crate) fn section(id: &str, claim: &str) -> Section {
    Section {
        id: id.into(),
        title: title(id).into(),
        claim: claim.into(),
        parameters: Vec::new(),
        figure: None,
        caption: String::new(),
        data: Vec::new(),
        experiments: Vec::new(),
        checks: Vec::new(),
        notes: Vec::new(),
        seconds: 0.0,
    }
}

/// One line describing a run of an experiment file.
pub(crate) fn describe(r: &Results) -> String {
    let e = &r.base;
    let cells = if r.cells.len() > 1 {
        format!("{} cells × ", r.cells.len())
    } else {
        String::new()
    };
    let time = match e.optimizer.dt() {
        Some(dt) => format!(" (dt = {dt}, time {})", e.steps as f64 * dt),
        None => String::new(),
    };
    format!(
        "{}.toml: {cells}{} runs × {} steps{time}, seed {}",
        e.name, e.runs, e.steps, e.seed
    )
}

/// An axis.
pub(crate) fn axis(label: &str, lo: f64, hi: f64, log: bool) -> Axis {
    Axis::new(label, lo, hi, log)
}

fn series(label: &str, x: Vec<f64>, y: Vec<f64>, style: Style, color: usize) -> Series {
    Series::new(label, x, y, style, color)
}

/// A solid line.
pub(crate) fn line(label: &str, x: Vec<f64>, y: Vec<f64>, color: usize) -> Series {
    series(label, x, y, Style::Line, color)
}

/// A dashed line (theory).
pub(crate) fn dashed(label: &str, x: Vec<f64>, y: Vec<f64>, color: usize) -> Series {
    series(label, x, y, Style::Dashed, color)
}

/// Markers with optional error bars.
pub(crate) fn points(
    label: &str,
    x: Vec<f64>,
    y: Vec<f64>,
    err: Option<Vec<f64>>,
    color: usize,
) -> Series {
    let mut s = series(label, x, y, Style::Points, color);
    s.err = err;
    s
}

/// A histogram from bin edges and heights.
pub(crate) fn bars(label: &str, edges: Vec<f64>, heights: Vec<f64>, color: usize) -> Series {
    series(label, edges, heights, Style::Bars, color)
}

/// A vertical reference line.
pub(crate) fn vline(value: f64, label: &str, color: usize) -> RefLine {
    RefLine {
        vertical: true,
        value,
        label: label.into(),
        color,
    }
}

/// A horizontal reference line.
pub(crate) fn hline(value: f64, label: &str, color: usize) -> RefLine {
    RefLine {
        vertical: false,
        value,
        label: label.into(),
        color,
    }
}

/// `n` evenly spaced points from `lo` to `hi`.
pub(crate) fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1).max(1) as f64)
        .collect()
}

/// The bin edges of a 1-D histogram.
pub(crate) fn edges(h: &Histogram) -> Vec<f64> {
    linspace(h.lo[0], h.hi[0], h.bins[0] + 1)
}

/// All runs a histogram accounts for (in range, under, over, and left out as diverged).
pub(crate) fn total(h: &Histogram) -> u64 {
    h.counts.iter().sum::<u64>() + h.underflow + h.overflow + h.excluded
}

/// A 1-D histogram as a density: count / (all runs × bin width), so that it integrates to
/// the fraction of runs in range and compares with a density normalised on the whole line.
pub(crate) fn density(h: &Histogram) -> Vec<f64> {
    let width = (h.hi[0] - h.lo[0]) / h.bins[0] as f64;
    let n = total(h).max(1) as f64;
    h.counts.iter().map(|&c| c as f64 / (n * width)).collect()
}

/// The histogram of `hists` at `step` over parameter `param` (1-D when `params.len() == 1`).
pub(crate) fn hist_at<'a>(
    hists: &'a [Histogram],
    params: &[usize],
    step: u64,
    what: &str,
) -> Result<&'a Histogram, ReproduceError> {
    hists
        .iter()
        .find(|h| h.params == params && h.step == step)
        .ok_or_else(|| {
            ReproduceError::Input(format!(
                "{what}: the experiment file records no histogram of parameter(s) {params:?} at \
                 step {step}"
            ))
        })
}

/// Format a number for the report's text (4 significant digits).
pub(crate) fn num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if (1e-3..1e5).contains(&a) {
        let digits = (3 - a.log10().floor() as i32).max(0) as usize;
        format!("{x:.digits$}")
    } else {
        format!("{x:.3e}")
    }
}

/// A helper to fold [lo, hi] bounds out of data for a log axis: the smallest positive and
/// the largest finite value, widened by a factor.
pub(crate) fn log_range(values: impl Iterator<Item = f64>, widen: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (1e-3, 1.0);
    }
    if hi <= lo {
        hi = lo * 10.0;
    }
    (lo / widen, hi * widen)
}

/// The theory's law of w₀ for a one-parameter experiment ([`escape_init`]).
pub(crate) fn init_law(
    e: &saddle::config::Experiment,
) -> Result<saddle::theory::escape_probability::Init, ReproduceError> {
    escape_init(e).map_err(|x| ReproduceError::Input(x.to_string()))
}

/// A 2-D histogram of (w₁, w₂) as a heat map of runs per cell (log colour scale, empty cells
/// white) over contours of the expected loss `loss` on a 101 × 101 grid, at `levels` (None:
/// nine levels spread over the loss's range, denser near its minimum). Also returns the CSV
/// rows (tag, w₁, w₂, count).
pub(crate) fn runs_over_contours(
    h: &Histogram,
    title: &str,
    loss: impl Fn(&[f64; 2]) -> f64,
    levels: Option<Vec<f64>>,
    tag: f64,
) -> (HeatMap, Vec<Vec<f64>>) {
    let (nx, ny) = (h.bins[0], h.bins[1]);
    let at = |lo: f64, hi: f64, n: usize, i: usize| lo + (i as f64 + 0.5) * (hi - lo) / n as f64;
    // Counts are row-major with w₁ slowest; the map wants w₂ (y) slowest.
    let mut values = vec![0.0; nx * ny];
    let mut rows = Vec::with_capacity(nx * ny);
    for i in 0..nx {
        for j in 0..ny {
            let c = h.counts[i * ny + j] as f64;
            values[j * nx + i] = c;
            let (x, y) = (at(h.lo[0], h.hi[0], nx, i), at(h.lo[1], h.hi[1], ny, j));
            rows.push(vec![tag, x, y, c]);
        }
    }
    let cn = 101;
    let mut grid = Vec::with_capacity(cn * cn);
    for j in 0..cn {
        for i in 0..cn {
            grid.push(loss(&[
                at(h.lo[0], h.hi[0], cn, i),
                at(h.lo[1], h.hi[1], cn, j),
            ]));
        }
    }
    let levels = levels.unwrap_or_else(|| {
        let (lo, hi) = grid
            .iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        (1..10)
            .map(|k| lo + (hi - lo) * (k as f64 / 10.0).powi(2))
            .collect()
    });
    let max = values.iter().cloned().fold(1.0, f64::max);
    let map = HeatMap {
        title: title.into(),
        x: axis("w₁", h.lo[0], h.hi[0], false),
        y: axis("w₂", h.lo[1], h.hi[1], false),
        nx,
        ny,
        values,
        scale: axis("runs per cell", 1.0, max, true),
        blank_at_or_below: Some(0.0),
        contours: Some(Contours {
            nx: cn,
            ny: cn,
            values: grid,
            levels,
            label: String::new(),
        }),
        overlays: vec![],
    };
    (map, rows)
}

/// The check that an ensemble's 1-D histogram `h` follows the law of CDF `cdf`: its L1
/// distance is at most its expectation under sampling alone plus 3.29 standard deviations.
pub(crate) fn l1_check(
    id: &str,
    section: &str,
    claim: &str,
    reference: &str,
    h: &Histogram,
    cdf: impl Fn(f64) -> f64,
) -> Result<crate::checks::Check, ReproduceError> {
    let cmp = theory(section, histogram_distance(h, cdf, crate::checks::ALPHA))?;
    let z1 = crate::checks::z_threshold(1);
    Ok(crate::checks::Check::new(
        id,
        section,
        claim,
        reference,
        cmp.l1_mean,
        cmp.l1,
        None,
        z1 * cmp.l1_sd,
        crate::checks::Rule::AtMost,
        format!(
            "measured: the L1 distance between the histogram at step {} and the density over {} \
             bins and the two tails; theory: its expectation {} ± {} under sampling alone \
             (n = {}); tolerance {z1:.2} standard deviations; KS distance {} (p = {})",
            h.step,
            h.bins[0],
            num(cmp.l1_mean),
            num(cmp.l1_sd),
            cmp.n,
            num(cmp.ks),
            num(cmp.ks_p_value)
        ),
    ))
}
