//! Checks that a figure can be drawn, before anything is drawn.

use super::{Axis, Figure, HeatMap, Panel, PlotError, Series, Style, XyPlot};

/// Smallest panel that leaves room for the plot after titles, labels and margins.
pub(super) const MIN_PANEL: (u32, u32) = (200, 150);
/// Largest image side drawn (the bitmap is held in memory).
pub(super) const MAX_SIDE: u64 = 16_384;

/// Ok when `fig` is drawable, else [`PlotError::Data`] saying what is wrong and where.
pub(super) fn figure(fig: &Figure) -> Result<(), PlotError> {
    let data = |message: String| PlotError::Data {
        figure: fig.title.clone(),
        message,
    };
    if fig.panels.is_empty() {
        return Err(data("no panels".into()));
    }
    if fig.panel_width < MIN_PANEL.0 || fig.height < MIN_PANEL.1 {
        return Err(data(format!(
            "panels of {}×{} px are too small (at least {}×{} px)",
            fig.panel_width, fig.height, MIN_PANEL.0, MIN_PANEL.1
        )));
    }
    let width = u64::from(fig.panel_width) * fig.panels.len() as u64;
    // The PNG is drawn at PNG_SCALE times the size.
    let max = MAX_SIDE / u64::from(super::PNG_SCALE);
    if width > max || u64::from(fig.height) > max {
        return Err(data(format!(
            "{width}×{} px is too large (at most {max} px a side)",
            fig.height
        )));
    }
    for (i, panel) in fig.panels.iter().enumerate() {
        let (title, result) = match panel {
            Panel::Xy(p) => (&p.title, xy(p)),
            Panel::Heat(h) => (&h.title, heat(h)),
        };
        result.map_err(|m| data(format!("panel {} \"{title}\": {m}", i + 1)))?;
    }
    Ok(())
}

/// An axis's range is finite and increasing, and positive when logarithmic.
fn axis(name: &str, a: &Axis) -> Result<(), String> {
    let (lo, hi) = a.range;
    if !(lo.is_finite() && hi.is_finite()) {
        return Err(format!("{name} axis range ({lo}, {hi}) is not finite"));
    }
    if lo >= hi {
        return Err(format!("{name} axis range ({lo}, {hi}) is empty (lo ≥ hi)"));
    }
    if a.log && lo <= 0.0 {
        return Err(format!(
            "{name} axis is logarithmic but its range ({lo}, {hi}) starts at or below 0"
        ));
    }
    Ok(())
}

fn xy(p: &XyPlot) -> Result<(), String> {
    axis("x", &p.x)?;
    axis("y", &p.y)?;
    for s in &p.series {
        series(s)?;
    }
    Ok(())
}

/// Lengths of a series agree: `x` and `y` (or n+1 edges and n heights for bars), and the
/// band and error bars with the points (or bins).
fn series(s: &Series) -> Result<(), String> {
    let name = if s.label.is_empty() {
        "unlabelled series".to_string()
    } else {
        format!("series \"{}\"", s.label)
    };
    let (nx, ny) = (s.x.len(), s.y.len());
    let points = if s.style == Style::Bars {
        if nx != ny + 1 {
            return Err(format!(
                "{name}: bars need n+1 edges for n heights, got {nx} edges and {ny} heights"
            ));
        }
        ny
    } else {
        if nx != ny {
            return Err(format!("{name}: {nx} x values but {ny} y values"));
        }
        nx
    };
    let what = if s.style == Style::Bars {
        "bins"
    } else {
        "points"
    };
    if let Some((lo, hi)) = &s.band {
        if lo.len() != points || hi.len() != points {
            return Err(format!(
                "{name}: band has {} lower and {} upper values for {points} {what}",
                lo.len(),
                hi.len()
            ));
        }
    }
    if !(s.marker_r.is_finite() && s.marker_r > 0.0 && s.marker_r <= 50.0) {
        return Err(format!(
            "{name}: marker radius {} is not in (0, 50] px",
            s.marker_r
        ));
    }
    if !(s.opacity > 0.0 && s.opacity <= 1.0) {
        return Err(format!("{name}: opacity {} is not in (0, 1]", s.opacity));
    }
    if let Some(err) = &s.err {
        if err.len() != points {
            return Err(format!(
                "{name}: {} error bars for {points} {what}",
                err.len()
            ));
        }
    }
    Ok(())
}

fn heat(h: &HeatMap) -> Result<(), String> {
    axis("x", &h.x)?;
    axis("y", &h.y)?;
    if h.x.log || h.y.log {
        return Err("heat map axes are linear, but an axis is marked logarithmic".into());
    }
    axis("colour", &h.scale)?;
    if h.nx == 0 || h.ny == 0 {
        return Err(format!("heat map of {}×{} cells is empty", h.nx, h.ny));
    }
    if h.nx.checked_mul(h.ny) != Some(h.values.len()) {
        return Err(format!(
            "heat map has {} values for {}×{} cells",
            h.values.len(),
            h.nx,
            h.ny
        ));
    }
    if let Some(c) = &h.contours {
        if c.nx < 2 || c.ny < 2 {
            return Err(format!(
                "contour grid of {}×{} points is too small (at least 2×2)",
                c.nx, c.ny
            ));
        }
        if c.nx.checked_mul(c.ny) != Some(c.values.len()) {
            return Err(format!(
                "contour grid has {} values for {}×{} points",
                c.values.len(),
                c.nx,
                c.ny
            ));
        }
        if let Some(l) = c.levels.iter().find(|l| !l.is_finite()) {
            return Err(format!("contour level {l} is not finite"));
        }
    }
    for s in &h.overlays {
        series(s)?;
    }
    Ok(())
}
