//! The report's sections, one module per figure of the paper (or proposition without one),
//! each running its experiment files, checking the paper's claims against `saddle::theory`,
//! and drawing its figure.

use crate::plot::{Axis, Contours, HeatMap, RefLine, Series, Style};
use crate::source::{run_table, Results};
use crate::{Ctx, ReproduceError, Section};
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

/// Every section, in report order, with the id `--only` accepts.
pub(crate) const ALL: &[(&str, Build)] = &[
    ("prop1", prop1::build),
    ("fig1", fig1::build),
    ("fig3", fig3::build),
    ("fig4", fig4::build),
    ("fig5", fig5::build),
    ("fig6", fig6::build),
    ("fig7", fig7::build),
    ("fig8", fig8::build),
    ("fig9", fig9::build),
    ("eq65", eq65::build),
    ("fig10", fig10::build),
];

/// Read (at the report's scale) and run experiment file `name`.
pub(crate) fn load(ctx: &Ctx, name: &str) -> Result<Results, ReproduceError> {
    let table = ctx.source.table(name, ctx.scale)?;
    run_table(name, &table)
}

/// A theory result, its error named with the section.
pub(crate) fn theory<T>(section: &str, r: Result<T, TheoryError>) -> Result<T, ReproduceError> {
    r.map_err(|e| ReproduceError::Theory {
        section: section.into(),
        message: e.to_string(),
    })
}

/// An empty section with its id, title and claim.
pub(crate) fn section(id: &str, title: &str, claim: &str) -> Section {
    Section {
        id: id.into(),
        title: title.into(),
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
    let time = if e.optimizer.kind == saddle::config::OptKind::Sde {
        format!(
            " (dt = {}, time {})",
            e.optimizer.dt,
            e.steps as f64 * e.optimizer.dt
        )
    } else {
        String::new()
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

/// The theory's law of w₀ for a one-parameter experiment.
pub(crate) fn init_law(
    e: &saddle::config::Experiment,
) -> Result<saddle::theory::escape_probability::Init, ReproduceError> {
    use saddle::ensemble::Init as E;
    use saddle::theory::escape_probability::Init as T;
    match &e.init {
        E::Uniform { lo, hi } if lo.len() == 1 => Ok(T::Uniform {
            lo: lo[0],
            hi: hi[0],
        }),
        E::Point(w) if w.len() == 1 => Ok(T::Point { w0: w[0] }),
        _ => Err(ReproduceError::Input(format!(
            "{}: the escape probability needs a one-parameter experiment",
            e.name
        ))),
    }
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
    use saddle::theory::distance::{compare, BinnedCounts};
    let counts = theory(section, BinnedCounts::from_observed(h))?;
    let cmp = theory(section, compare(&counts, cdf, crate::checks::ALPHA))?;
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
