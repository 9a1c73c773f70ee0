//! Drawing a checked figure onto any plotters backend (the SVG and PNG outputs share this
//! code).

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::geom::{marching_squares, View, P};
use super::scale::Scale;
use super::{palette, Axis, Figure, HeatMap, Panel, RefLine, Series, Style, XyPlot, FAMILY};

// Font sizes in pixels. Even sizes keep glyphs on a common baseline in the bitmap output
// (plotters' glyph placement rounds half the font size).
/// Panel titles.
const TITLE_PX: f64 = 18.0;
/// Axis labels.
const LABEL_PX: f64 = 16.0;
/// Tick labels.
const TICK_PX: f64 = 14.0;
/// Legend entries.
const LEGEND_PX: f64 = 14.0;
/// Height of the title strip above each panel.
const TITLE_H: i32 = 34;
/// Height of the x tick labels and axis label under a plot.
const X_LABEL_AREA: i32 = 54;
/// Space left around each plot.
const MARGIN: i32 = 8;
/// Major grid lines.
const GRID: RGBColor = RGBColor(218, 218, 218);
/// Minor grid lines.
const MINOR_GRID: RGBColor = RGBColor(240, 240, 240);
/// Axes, ticks and frames.
const AXIS: RGBColor = RGBColor(70, 70, 70);
/// Contour lines.
const CONTOUR: RGBColor = RGBColor(45, 45, 45);
/// Opacity of band fills.
const BAND_ALPHA: f64 = 0.22;
/// Opacity of bar fills.
const BAR_ALPHA: f64 = 0.35;
/// Marker radius in pixels.
const MARKER_R: i32 = 4;

type Res<T = ()> = Result<T, String>;
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Scale, Scale>>;
type PlotArea<DB> = DrawingArea<DB, Cartesian2d<Scale, Scale>>;

/// A plotters error as text.
fn err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

/// Text in the bundled font.
fn text(size: f64) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).color(&BLACK)
}

/// Palette colour `i`.
fn colour(i: usize) -> RGBColor {
    let (r, g, b) = palette(i);
    RGBColor(r, g, b)
}

/// Viridis (matplotlib's perceptually uniform map) at `t` in [0, 1], interpolated between
/// ten samples.
fn viridis(t: f64) -> RGBColor {
    const V: [(u8, u8, u8); 10] = [
        (0x44, 0x01, 0x54),
        (0x48, 0x28, 0x78),
        (0x3e, 0x49, 0x89),
        (0x31, 0x68, 0x8e),
        (0x26, 0x82, 0x8e),
        (0x1f, 0x9e, 0x89),
        (0x35, 0xb7, 0x79),
        (0x6e, 0xce, 0x58),
        (0xb5, 0xde, 0x2b),
        (0xfd, 0xe7, 0x25),
    ];
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let s = t * (V.len() - 1) as f64;
    let i = (s.floor() as usize).min(V.len() - 2);
    let f = s - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + f * (f64::from(b) - f64::from(a))).round() as u8;
    let (a, b) = (V[i], V[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Draw `fig` onto `root` and write it out.
pub(super) fn figure<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, fig: &Figure) -> Res {
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((1, fig.panels.len()));
    for (area, panel) in areas.iter().zip(&fig.panels) {
        match panel {
            Panel::Xy(p) => xy(area, p)?,
            Panel::Heat(h) => heat(area, h)?,
        }
    }
    root.present().map_err(err)
}

/// The panel title, centred in `area`, shrunk to fit its width.
fn title<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, title: &str) -> Res {
    let (w, h) = area.dim_in_pixel();
    let mut size = TITLE_PX;
    let style = loop {
        let style = text(size);
        let (tw, _) = area.estimate_text_size(title, &style).map_err(err)?;
        if f64::from(tw) <= f64::from(w) - 16.0 || size <= 10.0 {
            break style;
        }
        size -= 1.0;
    };
    let style = style.pos(Pos::new(HPos::Center, VPos::Center));
    area.draw_text(title, &style, (w as i32 / 2, h as i32 / 2))
        .map_err(err)
}

/// Widest of `labels` in pixels at `style`.
fn widest<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: impl IntoIterator<Item = impl AsRef<str>>,
    style: &TextStyle,
) -> Res<i32> {
    let mut w = 0;
    for l in labels {
        let (tw, _) = area.estimate_text_size(l.as_ref(), style).map_err(err)?;
        w = w.max(tw as i32);
    }
    Ok(w)
}

/// Tick counts for a panel body (plot, labels and margins) of `w × h` pixels.
fn tick_counts(w: u32, h: u32) -> (usize, usize) {
    let nx = (w.saturating_sub(110) / 60).clamp(3, 10) as usize;
    let ny = (h.saturating_sub(80) / 45).clamp(3, 10) as usize;
    (nx, ny)
}

/// Axes over `area` with room for tick labels and axis labels.
fn axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    sx: &Scale,
    sy: &Scale,
    x: &Axis,
    y: &Axis,
    grid: bool,
) -> Res<Chart<'a, DB>> {
    let tick = text(TICK_PX);
    let label_w = widest(area, sy.ticks.iter().map(|t| &t.1), &tick)?;
    // The last x tick label is centred on the right edge: keep its right half inside.
    let last_w = widest(area, sx.ticks.last().map(|t| &t.1), &tick)?;
    let mut chart = ChartBuilder::on(area)
        .margin_top(MARGIN)
        .margin_bottom(MARGIN)
        // Room between this panel's axis label and the panel (or colour bar) to its left.
        .margin_left(MARGIN + 16)
        .margin_right((last_w / 2 + 6).max(16))
        .x_label_area_size(X_LABEL_AREA)
        // On narrow panels long tick labels may be cut rather than squeeze out the plot.
        .y_label_area_size((label_w + 46).min(area.dim_in_pixel().0 as i32 / 3))
        .build_cartesian_2d(sx.clone(), sy.clone())
        .map_err(err)?;
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(sx.ticks.len().max(1))
        .y_labels(sy.ticks.len().max(1))
        .max_light_lines(10)
        .set_all_tick_mark_size(5)
        .label_style(tick)
        .axis_desc_style(text(LABEL_PX))
        .bold_line_style(GRID)
        .light_line_style(MINOR_GRID)
        .axis_style(AXIS);
    if !x.label.is_empty() {
        mesh.x_desc(x.label.as_str());
    }
    if !y.label.is_empty() {
        mesh.y_desc(y.label.as_str());
    }
    if !grid {
        mesh.disable_mesh();
    }
    mesh.draw().map_err(err)?;
    Ok(chart)
}

/// A line, points and histogram panel.
fn xy<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &XyPlot) -> Res {
    let (top, body) = area.split_vertically(TITLE_H);
    title(&top, &p.title)?;
    let (w, h) = body.dim_in_pixel();
    let (nx, ny) = tick_counts(w, h);
    let (sx, sy) = (Scale::new(&p.x, nx), Scale::new(&p.y, ny));
    let chart = axes(&body, &sx, &sy, &p.x, &p.y, true)?;
    let mut painter = Painter::new(chart.plotting_area(), sx, sy);
    let mut legend = Vec::new();
    for s in &p.series {
        painter.series(s)?;
        if !s.label.is_empty() {
            legend.push(Entry::of_series(s));
        }
    }
    for r in &p.lines {
        if painter.ref_line(r)? && !r.label.is_empty() {
            legend.push(Entry {
                label: r.label.clone(),
                colour: colour(r.color),
                swatch: Swatch::Ref,
            });
        }
    }
    frame(painter.area)?;
    painter.legend(&legend)
}

/// A colour map panel with its colour bar.
fn heat<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, h: &HeatMap) -> Res {
    let (top, body) = area.split_vertically(TITLE_H);
    title(&top, &h.title)?;
    let (w, ht) = body.dim_in_pixel();
    let plot_h = ht.saturating_sub((X_LABEL_AREA + 2 * MARGIN) as u32);
    let sc = Scale::new(&h.scale, (plot_h / 45).clamp(3, 8) as usize);
    let bar_labels = widest(&body, sc.ticks.iter().map(|t| &t.1), &text(TICK_PX))? + 40;
    let bar_w = (14 + 18 + 4 + bar_labels).min(w as i32 / 3);
    let (main, bar) = body.split_horizontally(w as i32 - bar_w);
    let (mw, _) = main.dim_in_pixel();
    let (nx, ny) = tick_counts(mw, ht);
    let (sx, sy) = (Scale::new(&h.x, nx), Scale::new(&h.y, ny));
    let chart = axes(&main, &sx, &sy, &h.x, &h.y, false)?;
    let mut painter = Painter::new(chart.plotting_area(), sx, sy);
    painter.cells(h, &sc)?;
    let mut legend = Vec::new();
    if let Some(c) = &h.contours {
        painter.contours(c)?;
        if !c.label.is_empty() {
            legend.push(Entry {
                label: c.label.clone(),
                colour: CONTOUR,
                swatch: Swatch::Contour,
            });
        }
    }
    for s in &h.overlays {
        painter.series(s)?;
        if !s.label.is_empty() {
            legend.push(Entry::of_series(s));
        }
    }
    frame(painter.area)?;
    painter.legend(&legend)?;
    colour_bar(&bar, &h.scale, &sc, bar_labels.min(bar_w - 26))
}

/// The colour bar of a heat map: the colour scale as a vertical strip with ticks and label,
/// aligned with the plot beside it.
fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    axis: &Axis,
    sc: &Scale,
    label_area: i32,
) -> Res {
    let mut chart = ChartBuilder::on(area)
        .margin_top(MARGIN)
        .margin_bottom(MARGIN + X_LABEL_AREA)
        .margin_left(14)
        .margin_right(12)
        .right_y_label_area_size(label_area)
        .build_cartesian_2d(Scale::unit(), sc.clone())
        .map_err(err)?;
    let pa = chart.plotting_area();
    let (_, h) = pa.dim_in_pixel();
    let steps = h.clamp(2, 256) as usize;
    let span = sc.hi - sc.lo;
    for i in 0..steps {
        let d0 = sc.lo + span * i as f64 / steps as f64;
        let d1 = sc.lo + span * (i + 1) as f64 / steps as f64;
        let c = viridis((i as f64 + 0.5) / steps as f64);
        pa.draw(&Rectangle::new([(0.0, d0), (1.0, d1)], c.filled()))
            .map_err(err)?;
    }
    let mut mesh = chart.configure_mesh();
    mesh.disable_mesh()
        .disable_x_axis()
        .y_labels(sc.ticks.len().max(1))
        .max_light_lines(0)
        .set_all_tick_mark_size(5)
        .label_style(text(TICK_PX))
        .axis_desc_style(text(LABEL_PX))
        .axis_style(AXIS);
    if !axis.label.is_empty() {
        mesh.y_desc(axis.label.as_str());
    }
    mesh.draw().map_err(err)?;
    // Top, left and bottom edges (the axis draws the right one).
    let pa = chart.plotting_area();
    let (w, h) = pa.dim_in_pixel();
    let (r, b) = (w as i32 - 1, h as i32 - 1);
    pa.strip_coord_spec()
        .draw(&PathElement::new(
            vec![(r, 0), (0, 0), (0, b), (r, b)],
            AXIS.stroke_width(1),
        ))
        .map_err(err)
}

/// The top and right edges of a plotting area (the axes draw the left and bottom ones).
fn frame<DB: DrawingBackend>(area: &PlotArea<DB>) -> Res {
    let (w, h) = area.dim_in_pixel();
    let (r, b) = (w as i32 - 1, h as i32 - 1);
    area.strip_coord_spec()
        .draw(&PathElement::new(
            vec![(0, 0), (r, 0), (r, b)],
            AXIS.stroke_width(1),
        ))
        .map_err(err)
}

/// How a legend entry is sampled.
#[derive(Clone, Copy, Debug)]
enum Swatch {
    /// A line, dashed or not, over its band if any.
    Line { dashed: bool, band: bool },
    /// A marker, with an error bar when the series has them.
    Points { err: bool },
    /// A filled bar.
    Bars,
    /// A reference line.
    Ref,
    /// A contour line.
    Contour,
}

/// One legend entry.
struct Entry {
    label: String,
    colour: RGBColor,
    swatch: Swatch,
}

impl Entry {
    fn of_series(s: &Series) -> Entry {
        let band = s.band.is_some();
        let swatch = match s.style {
            Style::Line => Swatch::Line {
                dashed: false,
                band,
            },
            Style::Dashed => Swatch::Line { dashed: true, band },
            Style::Points => Swatch::Points {
                err: s.err.is_some(),
            },
            Style::Bars => Swatch::Bars,
        };
        Entry {
            label: s.label.clone(),
            colour: colour(s.color),
            swatch,
        }
    }
}

/// Splits points into runs of consecutive drawable ones.
fn runs(pts: &[Option<P>]) -> Vec<Vec<P>> {
    pts.split(Option::is_none)
        .filter(|r| !r.is_empty())
        .map(|r| r.iter().flatten().copied().collect())
        .collect()
}

/// Draws into the plotting area of one panel, in display coordinates, clipping to the view
/// and remembering where marks were made (for placing the legend).
struct Painter<'a, DB: DrawingBackend> {
    area: &'a PlotArea<DB>,
    sx: Scale,
    sy: Scale,
    view: View,
    /// Plotting area size in pixels.
    size: (f64, f64),
    /// Pixel positions (from the plotting area's top left) covered by marks.
    marks: Vec<(f64, f64)>,
}

impl<'a, DB: DrawingBackend> Painter<'a, DB> {
    fn new(area: &'a PlotArea<DB>, sx: Scale, sy: Scale) -> Self {
        let (w, h) = area.dim_in_pixel();
        let view = View {
            x0: sx.lo,
            x1: sx.hi,
            y0: sy.lo,
            y1: sy.hi,
        };
        Painter {
            area,
            sx,
            sy,
            view,
            size: (f64::from(w), f64::from(h)),
            marks: Vec::new(),
        }
    }

    /// Data point `(x, y)` in display space, if it can be shown on these axes.
    fn display(&self, x: f64, y: f64) -> Option<P> {
        Some((self.sx.to_display(x)?, self.sy.to_display(y)?))
    }

    /// Display point `p` in pixels from the plotting area's top left.
    fn pixel(&self, p: P) -> (f64, f64) {
        (
            self.sx.fraction(p.0) * self.size.0,
            (1.0 - self.sy.fraction(p.1)) * self.size.1,
        )
    }

    /// Records a polyline (display space) as covered, sampled every few pixels.
    fn mark_path(&mut self, pts: &[P]) {
        if let Some(&p) = pts.first() {
            self.marks.push(self.pixel(p));
        }
        for w in pts.windows(2) {
            let (a, b) = (self.pixel(w[0]), self.pixel(w[1]));
            let n = ((b.0 - a.0).hypot(b.1 - a.1) / 5.0).ceil().min(10_000.0) as usize;
            for k in 1..=n {
                let t = k as f64 / n as f64;
                self.marks
                    .push((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)));
            }
        }
    }

    /// Records a filled box (display space) as covered.
    fn mark_box(&mut self, lo: P, hi: P) {
        let (a, b) = (self.pixel(lo), self.pixel(hi));
        let nx = ((b.0 - a.0).abs() / 6.0).ceil().min(1000.0) as usize;
        let ny = ((b.1 - a.1).abs() / 6.0).ceil().min(1000.0) as usize;
        for i in 0..=nx {
            for j in 0..=ny {
                let u = if nx == 0 { 0.5 } else { i as f64 / nx as f64 };
                let v = if ny == 0 { 0.5 } else { j as f64 / ny as f64 };
                self.marks
                    .push((a.0 + u * (b.0 - a.0), a.1 + v * (b.1 - a.1)));
            }
        }
    }

    /// A solid or dashed polyline, clipped.
    fn polyline(&mut self, pts: &[P], c: RGBColor, dashed: bool, width: u32) -> Res {
        for piece in self.view.clip_polyline(pts) {
            self.mark_path(&piece);
            let style = c.stroke_width(width);
            if dashed {
                self.area
                    .draw(&DashedPathElement::new(piece, 9, 6, style))
                    .map_err(err)?;
            } else {
                self.area
                    .draw(&PathElement::new(piece, style))
                    .map_err(err)?;
            }
        }
        Ok(())
    }

    /// A series (of an x–y plot or over a heat map).
    fn series(&mut self, s: &Series) -> Res {
        let c = colour(s.color);
        if s.style == Style::Bars {
            return self.bars(s, c);
        }
        if let Some((lo, hi)) = &s.band {
            let lower: Vec<_> =
                s.x.iter()
                    .zip(lo)
                    .map(|(&x, &y)| self.display(x, y))
                    .collect();
            let upper: Vec<_> =
                s.x.iter()
                    .zip(hi)
                    .map(|(&x, &y)| self.display(x, y))
                    .collect();
            self.band(&lower, &upper, c)?;
        }
        let pts: Vec<_> =
            s.x.iter()
                .zip(&s.y)
                .map(|(&x, &y)| self.display(x, y))
                .collect();
        if matches!(s.style, Style::Line | Style::Dashed) {
            for run in runs(&pts) {
                self.polyline(&run, c, s.style == Style::Dashed, 2)?;
            }
        }
        if let Some(e) = &s.err {
            let xs: Vec<_> = s.x.iter().map(|&x| self.sx.to_display(x)).collect();
            self.error_bars(&xs, &s.y, e, c)?;
        }
        if s.style == Style::Points {
            for p in pts.into_iter().flatten() {
                self.marker(p, c)?;
            }
        }
        Ok(())
    }

    /// A histogram: bars from the axis (or the bottom of a log axis) to each height, with
    /// its band as steps and error bars at the bin centres.
    fn bars(&mut self, s: &Series, c: RGBColor) -> Res {
        let edges: Vec<Option<f64>> = s.x.iter().map(|&x| self.sx.to_display(x)).collect();
        let bins: Vec<Option<(f64, f64)>> =
            edges.windows(2).map(|w| Some((w[0]?, w[1]?))).collect();
        if let Some((lo, hi)) = &s.band {
            // Step outlines: each bin contributes its two edges at its level.
            let steps = |v: &[f64]| -> Vec<Option<P>> {
                bins.iter()
                    .zip(v)
                    .flat_map(|(b, &y)| {
                        let y = self.sy.to_display(y);
                        let pair = b.zip(y).map(|((a, e), y)| [(a, y), (e, y)]);
                        match pair {
                            Some([p, q]) => [Some(p), Some(q)],
                            None => [None, None],
                        }
                    })
                    .collect()
            };
            let (lower, upper) = (steps(lo), steps(hi));
            self.band(&lower, &upper, c)?;
        }
        let base = if self.sy.log {
            self.view.y0
        } else {
            0.0f64.clamp(self.view.y0, self.view.y1)
        };
        for (b, &y) in bins.iter().zip(&s.y) {
            let (Some((a, e)), Some(top)) = (*b, self.sy.to_display(y)) else {
                continue;
            };
            let Some((lo, hi)) = self.view.clip_rect((a, base), (e, top)) else {
                continue;
            };
            self.mark_box(lo, hi);
            self.area
                .draw(&Rectangle::new([lo, hi], c.mix(BAR_ALPHA).filled()))
                .map_err(err)?;
            self.area
                .draw(&Rectangle::new([lo, hi], c.stroke_width(1)))
                .map_err(err)?;
        }
        if let Some(e) = &s.err {
            let centres: Vec<_> = bins.iter().map(|b| b.map(|(a, e)| 0.5 * (a + e))).collect();
            self.error_bars(&centres, &s.y, e, c)?;
        }
        Ok(())
    }

    /// A shaded area between two curves; runs split where either is undrawable.
    fn band(&mut self, lower: &[Option<P>], upper: &[Option<P>], c: RGBColor) -> Res {
        let both: Vec<Option<(P, P)>> = lower.iter().zip(upper).map(|(l, u)| l.zip(*u)).collect();
        for run in both.split(Option::is_none).filter(|r| r.len() >= 2) {
            let pairs: Vec<(P, P)> = run.iter().flatten().copied().collect();
            let mut poly: Vec<P> = pairs.iter().map(|p| p.0).collect();
            poly.extend(pairs.iter().rev().map(|p| p.1));
            let clipped = self.view.clip_polygon(&poly);
            if clipped.len() < 3 {
                continue;
            }
            for (l, u) in &pairs {
                if let Some((a, b)) = self.view.clip_segment(*l, *u) {
                    self.mark_path(&[a, b]);
                }
            }
            self.area
                .draw(&Polygon::new(clipped, c.mix(BAND_ALPHA).filled()))
                .map_err(err)?;
        }
        Ok(())
    }

    /// Vertical error bars ±`err` at display x positions `xs` and data heights `ys`, with
    /// caps where the bar ends inside the view. On a log axis a bar reaching 0 or below runs
    /// to the bottom edge.
    fn error_bars(&mut self, xs: &[Option<f64>], ys: &[f64], errs: &[f64], c: RGBColor) -> Res {
        let style = c.stroke_width(1);
        for ((&x, &y), &e) in xs.iter().zip(ys).zip(errs) {
            let Some(x) = x else { continue };
            if !(y.is_finite() && e.is_finite() && e >= 0.0) {
                continue;
            }
            let Some(top) = self.sy.to_display(y + e) else {
                continue;
            };
            let bottom = match self.sy.to_display(y - e) {
                Some(b) => b,
                None if self.sy.log => self.view.y0,
                None => continue,
            };
            let (a, b) = ((x, bottom), (x, top));
            let Some((ca, cb)) = self.view.clip_segment(a, b) else {
                continue;
            };
            self.mark_path(&[ca, cb]);
            self.area
                .draw(&PathElement::new(vec![ca, cb], style))
                .map_err(err)?;
            for (end, clipped) in [(a, ca), (b, cb)] {
                if end == clipped && !(self.sy.log && end.1 == self.view.y0 && y - e <= 0.0) {
                    self.area
                        .draw(
                            &(EmptyElement::at(end)
                                + PathElement::new(vec![(-4, 0), (4, 0)], style)),
                        )
                        .map_err(err)?;
                }
            }
        }
        Ok(())
    }

    /// A circle marker with a white rim, if inside the view.
    fn marker(&mut self, p: P, c: RGBColor) -> Res {
        if !self.view.contains(p) {
            return Ok(());
        }
        self.marks.push(self.pixel(p));
        self.area
            .draw(&Circle::new(p, MARKER_R + 1, WHITE.filled()))
            .map_err(err)?;
        self.area
            .draw(&Circle::new(p, MARKER_R, c.filled()))
            .map_err(err)
    }

    /// A reference line across the view; false when it cannot be shown (outside the range,
    /// non-finite, or ≤ 0 on a log axis).
    fn ref_line(&mut self, r: &RefLine) -> Res<bool> {
        let v = &self.view;
        let (a, b) = if r.vertical {
            match self.sx.to_display(r.value) {
                Some(d) if d >= v.x0 && d <= v.x1 => ((d, v.y0), (d, v.y1)),
                _ => return Ok(false),
            }
        } else {
            match self.sy.to_display(r.value) {
                Some(d) if d >= v.y0 && d <= v.y1 => ((v.x0, d), (v.x1, d)),
                _ => return Ok(false),
            }
        };
        self.mark_path(&[a, b]);
        let style = colour(r.color).stroke_width(2);
        self.area
            .draw(&DashedPathElement::new(vec![a, b], 3, 4, style))
            .map_err(err)?;
        Ok(true)
    }

    /// The cells of a heat map, coloured by `sc`; runs of equal colour along a row are
    /// drawn as one rectangle.
    fn cells(&mut self, h: &HeatMap, sc: &Scale) -> Res {
        let colour_of = |v: f64| -> Option<RGBColor> {
            if !v.is_finite() || h.blank_at_or_below.is_some_and(|b| v <= b) {
                return None;
            }
            Some(viridis(sc.fraction(sc.to_display(v)?)))
        };
        let (x0, x1) = h.x.range;
        let (y0, y1) = h.y.range;
        let xe = |i: usize| x0 + (x1 - x0) * i as f64 / h.nx as f64;
        let ye = |j: usize| y0 + (y1 - y0) * j as f64 / h.ny as f64;
        for (iy, row) in h.values.chunks(h.nx).enumerate() {
            let colours: Vec<Option<RGBColor>> = row.iter().map(|&v| colour_of(v)).collect();
            let mut ix = 0;
            while ix < colours.len() {
                let c = colours[ix];
                let mut end = ix + 1;
                while end < colours.len() && colours[end] == c {
                    end += 1;
                }
                if let Some(c) = c {
                    let rect =
                        Rectangle::new([(xe(ix), ye(iy)), (xe(end), ye(iy + 1))], c.filled());
                    self.area.draw(&rect).map_err(err)?;
                }
                ix = end;
            }
        }
        Ok(())
    }

    /// Contour lines at each level, on the contour grid's cell centres over the view.
    fn contours(&mut self, c: &super::Contours) -> Res {
        let dx = (self.view.x1 - self.view.x0) / c.nx as f64;
        let dy = (self.view.y1 - self.view.y0) / c.ny as f64;
        let style = CONTOUR.stroke_width(1);
        for &level in &c.levels {
            let segs = marching_squares(
                c.nx,
                c.ny,
                &c.values,
                (self.view.x0 + 0.5 * dx, dx),
                (self.view.y0 + 0.5 * dy, dy),
                level,
            );
            for (a, b) in segs {
                if let Some((a, b)) = self.view.clip_segment(a, b) {
                    self.mark_path(&[a, b]);
                    self.area
                        .draw(&PathElement::new(vec![a, b], style))
                        .map_err(err)?;
                }
            }
        }
        Ok(())
    }

    /// The legend: a box with a sample and label per entry, in the corner of the plotting
    /// area that covers the fewest marks (upper right first on ties); left out when it does
    /// not fit in the plotting area.
    fn legend(&self, entries: &[Entry]) -> Res {
        if entries.is_empty() {
            return Ok(());
        }
        let area = self.area.strip_coord_spec();
        let font = text(LEGEND_PX);
        let label_w = widest(&area, entries.iter().map(|e| &e.label), &font)?;
        let (pad, row, sample, gap) = (8, 21, 30, 8);
        let bw = pad + sample + gap + label_w + pad;
        let bh = pad + row * entries.len() as i32 + pad / 2;
        let (w, h) = (self.size.0 as i32, self.size.1 as i32);
        let inset = 10;
        if bw + 2 * inset > w || bh + 2 * inset > h {
            // Too small a plot for its legend: leave the data visible instead.
            return Ok(());
        }
        let corners = [
            (w - inset - bw, inset),
            (inset, inset),
            (w - inset - bw, h - inset - bh),
            (inset, h - inset - bh),
        ];
        let covered = |&(x, y): &(i32, i32)| {
            let (x0, y0) = (f64::from(x - 4), f64::from(y - 4));
            let (x1, y1) = (f64::from(x + bw + 4), f64::from(y + bh + 4));
            self.marks
                .iter()
                .filter(|m| m.0 >= x0 && m.0 <= x1 && m.1 >= y0 && m.1 <= y1)
                .count()
        };
        let mut best = corners[0];
        let mut best_n = covered(&best);
        for c in &corners[1..] {
            let n = covered(c);
            if n < best_n {
                (best, best_n) = (*c, n);
            }
        }
        let (x, y) = best;
        area.draw(&Rectangle::new(
            [(x, y), (x + bw, y + bh)],
            WHITE.mix(0.9).filled(),
        ))
        .map_err(err)?;
        area.draw(&Rectangle::new(
            [(x, y), (x + bw, y + bh)],
            RGBColor(160, 160, 160).stroke_width(1),
        ))
        .map_err(err)?;
        let font = font.pos(Pos::new(HPos::Left, VPos::Center));
        for (i, e) in entries.iter().enumerate() {
            let yc = y + pad + row * i as i32 + row / 2;
            let (s0, s1) = (x + pad, x + pad + sample);
            let sm = (s0 + s1) / 2;
            let c = e.colour;
            match e.swatch {
                Swatch::Line { dashed, band } => {
                    if band {
                        area.draw(&Rectangle::new(
                            [(s0, yc - 6), (s1, yc + 6)],
                            c.mix(BAND_ALPHA).filled(),
                        ))
                        .map_err(err)?;
                    }
                    let pts = vec![(s0, yc), (s1, yc)];
                    if dashed {
                        area.draw(&DashedPathElement::new(pts, 9, 6, c.stroke_width(2)))
                            .map_err(err)?;
                    } else {
                        area.draw(&PathElement::new(pts, c.stroke_width(2)))
                            .map_err(err)?;
                    }
                }
                Swatch::Points { err: bars } => {
                    if bars {
                        area.draw(&PathElement::new(
                            vec![(sm, yc - 7), (sm, yc + 7)],
                            c.stroke_width(1),
                        ))
                        .map_err(err)?;
                    }
                    area.draw(&Circle::new((sm, yc), MARKER_R, c.filled()))
                        .map_err(err)?;
                }
                Swatch::Bars => {
                    let r = [(s0 + 5, yc - 7), (s1 - 5, yc + 7)];
                    area.draw(&Rectangle::new(r, c.mix(BAR_ALPHA).filled()))
                        .map_err(err)?;
                    area.draw(&Rectangle::new(r, c.stroke_width(1)))
                        .map_err(err)?;
                }
                Swatch::Ref => {
                    area.draw(&DashedPathElement::new(
                        vec![(s0, yc), (s1, yc)],
                        3,
                        4,
                        c.stroke_width(2),
                    ))
                    .map_err(err)?;
                }
                Swatch::Contour => {
                    area.draw(&PathElement::new(
                        vec![(s0, yc), (s1, yc)],
                        c.stroke_width(1),
                    ))
                    .map_err(err)?;
                }
            }
            area.draw_text(&e.label, &font, (s1 + gap, yc))
                .map_err(err)?;
        }
        Ok(())
    }
}
