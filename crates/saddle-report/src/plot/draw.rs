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
const TITLE_H: f64 = 34.0;
/// Height of the x tick labels and axis label under a plot.
const X_LABEL_AREA: f64 = 54.0;
/// Space left around each plot.
const MARGIN: f64 = 8.0;
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
/// Default marker radius in pixels.
pub(super) const MARKER_R: f64 = 4.0;
/// Legend frames.
const LEGEND_FRAME: RGBColor = RGBColor(160, 160, 160);

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

/// Pixel sizes at a scale factor: every size above is in logical pixels (the SVG's); the PNG
/// is drawn at [`super::PNG_SCALE`] times the size, with every length and font scaled alike.
#[derive(Clone, Copy, Debug)]
pub(super) struct Px(pub f64);

impl Px {
    /// A length in device pixels.
    fn i(self, v: f64) -> i32 {
        (v * self.0).round() as i32
    }

    /// A line width in device pixels (at least 1).
    fn w(self, v: f64) -> u32 {
        (v * self.0).round().max(1.0) as u32
    }

    /// A font size in device pixels.
    fn font(self, v: f64) -> TextStyle<'static> {
        text(v * self.0)
    }
}

/// Draw `fig` onto `root` at scale `px` and write it out.
pub(super) fn figure<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    fig: &Figure,
    px: Px,
) -> Res {
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((1, fig.panels.len()));
    for (area, panel) in areas.iter().zip(&fig.panels) {
        match panel {
            Panel::Xy(p) => xy(area, p, px)?,
            Panel::Heat(h) => heat(area, h, px)?,
        }
    }
    root.present().map_err(err)
}

/// The panel title, centred in `area`, shrunk to fit its width.
fn title<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, title: &str, px: Px) -> Res {
    let (w, h) = area.dim_in_pixel();
    let mut size = TITLE_PX;
    let style = loop {
        let style = px.font(size);
        let (tw, _) = area.estimate_text_size(title, &style).map_err(err)?;
        if f64::from(tw) <= f64::from(w) - 16.0 * px.0 || size <= 10.0 {
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

/// Tick counts for a panel body (plot, labels and margins) of `w × h` device pixels.
fn tick_counts(w: u32, h: u32, px: Px) -> (usize, usize) {
    let (w, h) = (f64::from(w) / px.0, f64::from(h) / px.0);
    let nx = ((w - 110.0).max(0.0) / 60.0).clamp(3.0, 10.0) as usize;
    let ny = ((h - 80.0).max(0.0) / 45.0).clamp(3.0, 10.0) as usize;
    (nx, ny)
}

/// The chart over `area`, with room for tick labels and axis labels; nothing drawn yet.
fn layout<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    sx: &Scale,
    sy: &Scale,
    px: Px,
) -> Res<Chart<'a, DB>> {
    let tick = px.font(TICK_PX);
    let label_w = widest(area, sy.ticks.iter().map(|t| &t.1), &tick)?;
    // The last x tick label is centred on the right edge: keep its right half inside.
    let last_w = widest(area, sx.ticks.last().map(|t| &t.1), &tick)?;
    ChartBuilder::on(area)
        .margin_top(px.i(MARGIN))
        .margin_bottom(px.i(MARGIN))
        // Room between this panel's axis label and the panel (or colour bar) to its left.
        .margin_left(px.i(MARGIN + 16.0))
        .margin_right((last_w / 2 + px.i(6.0)).max(px.i(16.0)))
        .x_label_area_size(px.i(X_LABEL_AREA))
        // On narrow panels long tick labels may be cut rather than squeeze out the plot.
        .y_label_area_size((label_w + px.i(46.0)).min(area.dim_in_pixel().0 as i32 / 3))
        .build_cartesian_2d(sx.clone(), sy.clone())
        .map_err(err)
}

/// The axes, ticks, tick labels, axis labels and (if `grid`) grid lines of `chart`.
fn mesh<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    (sx, sy): (&Scale, &Scale),
    (x, y): (&Axis, &Axis),
    grid: bool,
    px: Px,
) -> Res {
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(sx.ticks.len().max(1))
        .y_labels(sy.ticks.len().max(1))
        .max_light_lines(10)
        .set_all_tick_mark_size(px.i(5.0))
        .label_style(px.font(TICK_PX))
        .axis_desc_style(px.font(LABEL_PX))
        .bold_line_style(GRID.stroke_width(px.w(1.0)))
        .light_line_style(MINOR_GRID.stroke_width(px.w(1.0)))
        .axis_style(AXIS.stroke_width(px.w(1.0)));
    if !x.label.is_empty() {
        mesh.x_desc(x.label.as_str());
    }
    if !y.label.is_empty() {
        mesh.y_desc(y.label.as_str());
    }
    if !grid {
        mesh.disable_mesh();
    }
    mesh.draw().map_err(err)
}

/// Everything drawn in the plotting area of an x–y panel, and its legend entries (reference
/// lines that cannot be shown have none).
fn paint_xy<DB: DrawingBackend>(painter: &mut Painter<'_, DB>, p: &XyPlot) -> Res<Vec<Entry>> {
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
                marker_r: MARKER_R,
                opacity: 1.0,
            });
        }
    }
    Ok(legend)
}

/// A line, points and histogram panel. The legend goes into the emptiest place inside the
/// plot that covers no data; where there is none, into a strip above the plot.
fn xy<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &XyPlot, px: Px) -> Res {
    let (top, body) = area.split_vertically(px.i(TITLE_H));
    title(&top, &p.title, px)?;
    let (w, h) = body.dim_in_pixel();
    let (nx, ny) = tick_counts(w, h, px);
    let (sx, sy) = (Scale::new(&p.x, nx), Scale::new(&p.y, ny));
    // A dry run finds where the data are, and the legend's entries.
    let (entries, spot) = {
        let chart = layout(&body, &sx, &sy, px)?;
        let mut dry = Painter::new(chart.plotting_area(), sx.clone(), sy.clone(), px, true);
        let entries = paint_xy(&mut dry, p)?;
        let spot = dry.legend_spot(&entries)?;
        (entries, spot)
    };
    let (strip, body) = if entries.is_empty() || spot.is_some() {
        (None, body)
    } else {
        let hs = legend_strip_height(&body, &entries, px)?;
        let (s, b) = body.split_vertically(hs);
        (Some(s), b)
    };
    let mut chart = layout(&body, &sx, &sy, px)?;
    mesh(&mut chart, (&sx, &sy), (&p.x, &p.y), true, px)?;
    let mut painter = Painter::new(chart.plotting_area(), sx, sy, px, false);
    paint_xy(&mut painter, p)?;
    frame(painter.area, px)?;
    match (spot, strip) {
        (Some(at), _) => draw_legend(&painter.area.strip_coord_spec(), &entries, at, 1, px),
        (None, Some(strip)) => legend_in_strip(&strip, &entries, px),
        (None, None) => Ok(()),
    }
}

/// A colour map panel with its colour bar. The cells are data everywhere, so its legend
/// (contours, overlays) goes into a strip above the plot.
fn heat<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, h: &HeatMap, px: Px) -> Res {
    let (top, body) = area.split_vertically(px.i(TITLE_H));
    title(&top, &h.title, px)?;
    let mut legend = Vec::new();
    if let Some(c) = &h.contours {
        if !c.label.is_empty() {
            legend.push(Entry {
                label: c.label.clone(),
                colour: CONTOUR,
                swatch: Swatch::Contour,
                marker_r: MARKER_R,
                opacity: 1.0,
            });
        }
    }
    legend.extend(
        h.overlays
            .iter()
            .filter(|s| !s.label.is_empty())
            .map(Entry::of_series),
    );
    let (strip, body) = if legend.is_empty() {
        (None, body)
    } else {
        let hs = legend_strip_height(&body, &legend, px)?;
        let (s, b) = body.split_vertically(hs);
        (Some(s), b)
    };
    let (w, ht) = body.dim_in_pixel();
    let plot_h = f64::from(ht) / px.0 - X_LABEL_AREA - 2.0 * MARGIN;
    let sc = Scale::new(&h.scale, (plot_h / 45.0).clamp(3.0, 8.0) as usize);
    let bar_labels = widest(&body, sc.ticks.iter().map(|t| &t.1), &px.font(TICK_PX))? + px.i(40.0);
    let bar_w = (px.i(14.0 + 18.0 + 4.0) + bar_labels).min(w as i32 / 3);
    let (main, bar) = body.split_horizontally(w as i32 - bar_w);
    let (mw, _) = main.dim_in_pixel();
    let (nx, ny) = tick_counts(mw, ht, px);
    let (sx, sy) = (Scale::new(&h.x, nx), Scale::new(&h.y, ny));
    let mut chart = layout(&main, &sx, &sy, px)?;
    mesh(&mut chart, (&sx, &sy), (&h.x, &h.y), false, px)?;
    let mut painter = Painter::new(chart.plotting_area(), sx, sy, px, false);
    painter.cells(h, &sc)?;
    if let Some(c) = &h.contours {
        painter.contours(c)?;
    }
    for s in &h.overlays {
        painter.series(s)?;
    }
    frame(painter.area, px)?;
    if let Some(strip) = strip {
        legend_in_strip(&strip, &legend, px)?;
    }
    colour_bar(&bar, &h.scale, &sc, bar_labels.min(bar_w - px.i(26.0)), px)
}

/// The colour bar of a heat map: the colour scale as a vertical strip with ticks and label,
/// aligned with the plot beside it.
fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    axis: &Axis,
    sc: &Scale,
    label_area: i32,
    px: Px,
) -> Res {
    let mut chart = ChartBuilder::on(area)
        .margin_top(px.i(MARGIN))
        .margin_bottom(px.i(MARGIN + X_LABEL_AREA))
        .margin_left(px.i(14.0))
        .margin_right(px.i(12.0))
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
        .set_all_tick_mark_size(px.i(5.0))
        .label_style(px.font(TICK_PX))
        .axis_desc_style(px.font(LABEL_PX))
        .axis_style(AXIS.stroke_width(px.w(1.0)));
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
            AXIS.stroke_width(px.w(1.0)),
        ))
        .map_err(err)
}

/// The top and right edges of a plotting area (the axes draw the left and bottom ones).
fn frame<DB: DrawingBackend>(area: &PlotArea<DB>, px: Px) -> Res {
    let (w, h) = area.dim_in_pixel();
    let (r, b) = (w as i32 - 1, h as i32 - 1);
    area.strip_coord_spec()
        .draw(&PathElement::new(
            vec![(0, 0), (r, 0), (r, b)],
            AXIS.stroke_width(px.w(1.0)),
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
    /// Marker radius (logical pixels) of a points swatch.
    marker_r: f64,
    /// Opacity of a points swatch.
    opacity: f64,
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
            marker_r: s.marker_r,
            opacity: s.opacity,
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

/// Draws `$e` with `$p`'s area unless `$p` is a dry run.
macro_rules! put {
    ($p:expr, $e:expr) => {
        if !$p.dry {
            $p.area.draw($e).map_err(err)?;
        }
    };
}

/// Draws into the plotting area of one panel, in display coordinates, clipping to the view
/// and remembering where marks were made (for placing the legend). A dry run only
/// remembers.
struct Painter<'a, DB: DrawingBackend> {
    area: &'a PlotArea<DB>,
    px: Px,
    dry: bool,
    sx: Scale,
    sy: Scale,
    view: View,
    /// Plotting area size in pixels.
    size: (f64, f64),
    /// Pixel positions (from the plotting area's top left) covered by marks.
    marks: Vec<(f64, f64)>,
}

impl<'a, DB: DrawingBackend> Painter<'a, DB> {
    fn new(area: &'a PlotArea<DB>, sx: Scale, sy: Scale, px: Px, dry: bool) -> Self {
        let (w, h) = area.dim_in_pixel();
        let view = View {
            x0: sx.lo,
            x1: sx.hi,
            y0: sy.lo,
            y1: sy.hi,
        };
        Painter {
            area,
            px,
            dry,
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
    fn polyline(&mut self, pts: &[P], c: RGBColor, dashed: bool, width: f64) -> Res {
        let px = self.px;
        for piece in self.view.clip_polyline(pts) {
            self.mark_path(&piece);
            let style = c.stroke_width(px.w(width));
            if dashed {
                put!(
                    self,
                    &DashedPathElement::new(piece, px.w(9.0), px.w(6.0), style)
                );
            } else {
                put!(self, &PathElement::new(piece, style));
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
                self.polyline(&run, c, s.style == Style::Dashed, 2.0)?;
            }
        }
        if let Some(e) = &s.err {
            let xs: Vec<_> = s.x.iter().map(|&x| self.sx.to_display(x)).collect();
            self.error_bars(&xs, &s.y, e, c.mix(s.opacity))?;
        }
        if s.style == Style::Points {
            for p in pts.into_iter().flatten() {
                self.marker(p, c.mix(s.opacity), s.marker_r)?;
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
            put!(self, &Rectangle::new([lo, hi], c.mix(BAR_ALPHA).filled()));
            put!(
                self,
                &Rectangle::new([lo, hi], c.stroke_width(self.px.w(1.0)))
            );
        }
        if let Some(e) = &s.err {
            let centres: Vec<_> = bins.iter().map(|b| b.map(|(a, e)| 0.5 * (a + e))).collect();
            self.error_bars(&centres, &s.y, e, c.to_rgba())?;
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
            // The band's inside: vertical strokes a few pixels apart.
            for w in pairs.windows(2) {
                let ((l0, u0), (l1, u1)) = (w[0], w[1]);
                let dx = (self.pixel(l1).0 - self.pixel(l0).0).abs();
                let n = (dx / (3.0 * self.px.0)).ceil().clamp(1.0, 10_000.0) as usize;
                for k in 0..=n {
                    let t = k as f64 / n as f64;
                    let lerp = |a: P, b: P| (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
                    if let Some((a, b)) = self.view.clip_segment(lerp(l0, l1), lerp(u0, u1)) {
                        self.mark_path(&[a, b]);
                    }
                }
            }
            put!(self, &Polygon::new(clipped, c.mix(BAND_ALPHA).filled()));
        }
        Ok(())
    }

    /// Vertical error bars ±`err` at display x positions `xs` and data heights `ys`, with
    /// caps where the bar ends inside the view. On a log axis a bar reaching 0 or below runs
    /// to the bottom edge.
    fn error_bars(&mut self, xs: &[Option<f64>], ys: &[f64], errs: &[f64], c: RGBAColor) -> Res {
        let px = self.px;
        let style = c.stroke_width(px.w(1.0));
        let cap = px.i(4.0);
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
            put!(self, &PathElement::new(vec![ca, cb], style));
            for (end, clipped) in [(a, ca), (b, cb)] {
                if end == clipped && !(self.sy.log && end.1 == self.view.y0 && y - e <= 0.0) {
                    put!(
                        self,
                        &(EmptyElement::at(end)
                            + PathElement::new(vec![(-cap, 0), (cap, 0)], style))
                    );
                }
            }
        }
        Ok(())
    }

    /// A circle marker of radius `r` (logical pixels) with a thin white rim, if inside the
    /// view. Its whole disc counts as covered.
    fn marker(&mut self, p: P, c: RGBAColor, r: f64) -> Res {
        if !self.view.contains(p) {
            return Ok(());
        }
        let (cx, cy) = self.pixel(p);
        let rr = r * self.px.0;
        for (dx, dy) in [(0.0, 0.0), (-rr, 0.0), (rr, 0.0), (0.0, -rr), (0.0, rr)] {
            self.marks.push((cx + dx, cy + dy));
        }
        let (ri, rim) = (self.px.i(r).max(1), self.px.i(r + 0.75).max(2));
        put!(self, &Circle::new(p, rim, WHITE.mix(c.3.max(0.6)).filled()));
        put!(self, &Circle::new(p, ri, c.filled()));
        Ok(())
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
        let px = self.px;
        let style = colour(r.color).stroke_width(px.w(2.0));
        put!(
            self,
            &DashedPathElement::new(vec![a, b], px.w(3.0), px.w(4.0), style)
        );
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
                    put!(self, &rect);
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
        let style = CONTOUR.stroke_width(self.px.w(1.0));
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
                    put!(self, &PathElement::new(vec![a, b], style));
                }
            }
        }
        Ok(())
    }

    /// Where (top left, in pixels from the plotting area's top left) a one-column legend of
    /// `entries` covers no mark: of the free places, the one nearest a corner (upper right,
    /// upper left, lower right, lower left on ties). None when there is no free place or the
    /// plot is too small for the legend.
    fn legend_spot(&self, entries: &[Entry]) -> Res<Option<(i32, i32)>> {
        if entries.is_empty() {
            return Ok(None);
        }
        let px = self.px;
        let (bw, bh) = legend_size(&self.area.strip_coord_spec(), entries, 1, px)?;
        let (w, h) = (self.size.0 as i32, self.size.1 as i32);
        let inset = px.i(8.0);
        if bw + 2 * inset > w || bh + 2 * inset > h {
            return Ok(None);
        }
        let free = Occupancy::new(&self.marks, self.size, 2.0 * px.0);
        // Clearance between the box and the nearest mark.
        let pad = 3.0 * px.0;
        let step = px.i(4.0).max(1);
        let along = |lo: i32, hi: i32| {
            let mut v: Vec<i32> = (lo..hi).step_by(step as usize).collect();
            v.push(hi);
            v
        };
        let corners = [
            (w - inset - bw, inset),
            (inset, inset),
            (w - inset - bw, h - inset - bh),
            (inset, h - inset - bh),
        ];
        let mut best: Option<((i32, i32), f64)> = None;
        for &y in &along(inset, h - inset - bh) {
            for &x in &along(inset, w - inset - bw) {
                let (x0, y0) = (f64::from(x) - pad, f64::from(y) - pad);
                let (x1, y1) = (f64::from(x + bw) + pad, f64::from(y + bh) + pad);
                if free.count(x0, y0, x1, y1) > 0 {
                    continue;
                }
                let cost = corners
                    .iter()
                    .enumerate()
                    .map(|(k, c)| f64::from((x - c.0).abs() + (y - c.1).abs()) + 0.1 * k as f64)
                    .fold(f64::INFINITY, f64::min);
                if best.is_none_or(|b| cost < b.1) {
                    best = Some(((x, y), cost));
                }
            }
        }
        Ok(best.map(|b| b.0))
    }
}

/// Marks counted on a grid of square cells, with prefix sums for counting those in any box.
struct Occupancy {
    /// Cell side in pixels.
    cell: f64,
    /// Cells along x and y.
    n: (usize, usize),
    /// sums[j * (nx + 1) + i]: the marks in cells [0, i) × [0, j).
    sums: Vec<u32>,
}

impl Occupancy {
    fn new(marks: &[(f64, f64)], size: (f64, f64), cell: f64) -> Occupancy {
        let nx = (size.0 / cell).ceil().clamp(1.0, 1e5) as usize;
        let ny = (size.1 / cell).ceil().clamp(1.0, 1e5) as usize;
        let mut counts = vec![0u32; nx * ny];
        for &(x, y) in marks {
            if !(x.is_finite() && y.is_finite()) {
                continue;
            }
            let i = ((x / cell).floor().max(0.0) as usize).min(nx - 1);
            let j = ((y / cell).floor().max(0.0) as usize).min(ny - 1);
            counts[j * nx + i] += 1;
        }
        let mut sums = vec![0u32; (nx + 1) * (ny + 1)];
        for j in 0..ny {
            for i in 0..nx {
                sums[(j + 1) * (nx + 1) + i + 1] =
                    counts[j * nx + i] + sums[j * (nx + 1) + i + 1] + sums[(j + 1) * (nx + 1) + i]
                        - sums[j * (nx + 1) + i];
            }
        }
        Occupancy {
            cell,
            n: (nx, ny),
            sums,
        }
    }

    /// Marks in the cells that meet the box [x0, x1] × [y0, y1] (pixels).
    fn count(&self, x0: f64, y0: f64, x1: f64, y1: f64) -> u32 {
        let (nx, ny) = self.n;
        let cell = |v: f64, n: usize| ((v / self.cell).floor().max(0.0) as usize).min(n);
        let (i0, i1) = (cell(x0, nx), (cell(x1, nx) + 1).min(nx));
        let (j0, j1) = (cell(y0, ny), (cell(y1, ny) + 1).min(ny));
        if i0 >= i1 || j0 >= j1 {
            return 0;
        }
        let s = |i: usize, j: usize| self.sums[j * (nx + 1) + i];
        s(i1, j1) + s(i0, j0) - s(i0, j1) - s(i1, j0)
    }
}

// Legend metrics in logical pixels.
/// Space inside the legend box around its entries.
const LEGEND_PAD: f64 = 8.0;
/// Height of one legend row.
const LEGEND_ROW: f64 = 21.0;
/// Width of a legend sample.
const LEGEND_SAMPLE: f64 = 30.0;
/// Space between a sample and its label.
const LEGEND_GAP: f64 = 8.0;
/// Space between legend columns.
const LEGEND_COL_GAP: f64 = 18.0;

/// Width of one legend column (sample, gap, widest label) in pixels.
fn legend_column<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    px: Px,
) -> Res<i32> {
    let label_w = widest(area, entries.iter().map(|e| &e.label), &px.font(LEGEND_PX))?;
    Ok(px.i(LEGEND_SAMPLE + LEGEND_GAP) + label_w)
}

/// Size in pixels of a legend box of `entries` in `cols` columns.
fn legend_size<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    cols: usize,
    px: Px,
) -> Res<(i32, i32)> {
    let col_w = legend_column(area, entries, px)?;
    let cols = cols.clamp(1, entries.len().max(1));
    let rows = entries.len().div_ceil(cols);
    let bw = 2 * px.i(LEGEND_PAD) + cols as i32 * col_w + (cols as i32 - 1) * px.i(LEGEND_COL_GAP);
    let bh = px.i(LEGEND_PAD) + rows as i32 * px.i(LEGEND_ROW) + px.i(LEGEND_PAD / 2.0);
    Ok((bw, bh))
}

/// Columns and size of a legend laid out across `area`'s width (as few rows as fit, then
/// as few columns as those rows need).
fn strip_layout<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    px: Px,
) -> Res<(usize, (i32, i32))> {
    let avail = area.dim_in_pixel().0 as i32 - 2 * px.i(MARGIN);
    let mut cols = entries.len().max(1);
    while cols > 1 && legend_size(area, entries, cols, px)?.0 > avail {
        cols -= 1;
    }
    let rows = entries.len().div_ceil(cols);
    let cols = entries.len().div_ceil(rows).max(1);
    Ok((cols, legend_size(area, entries, cols, px)?))
}

/// Height of the strip above a plot that holds its legend.
fn legend_strip_height<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    px: Px,
) -> Res<i32> {
    let (_, (_, bh)) = strip_layout(area, entries, px)?;
    Ok(bh + px.i(MARGIN))
}

/// The legend, centred in the strip above a plot.
fn legend_in_strip<DB: DrawingBackend>(
    strip: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    px: Px,
) -> Res {
    let (cols, (bw, _)) = strip_layout(strip, entries, px)?;
    let w = strip.dim_in_pixel().0 as i32;
    draw_legend(
        strip,
        entries,
        ((w - bw).max(0) / 2, px.i(MARGIN)),
        cols,
        px,
    )
}

/// A framed legend box with its top left at `at`: a sample and a label per entry, row by
/// row in `cols` columns.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    (x, y): (i32, i32),
    cols: usize,
    px: Px,
) -> Res {
    let (bw, bh) = legend_size(area, entries, cols, px)?;
    let cols = cols.clamp(1, entries.len().max(1));
    let col_w = legend_column(area, entries, px)?;
    area.draw(&Rectangle::new(
        [(x, y), (x + bw, y + bh)],
        WHITE.mix(0.9).filled(),
    ))
    .map_err(err)?;
    area.draw(&Rectangle::new(
        [(x, y), (x + bw, y + bh)],
        LEGEND_FRAME.stroke_width(px.w(1.0)),
    ))
    .map_err(err)?;
    let font = px.font(LEGEND_PX).pos(Pos::new(HPos::Left, VPos::Center));
    let (pad, row, gap) = (px.i(LEGEND_PAD), px.i(LEGEND_ROW), px.i(LEGEND_GAP));
    let (w1, w2) = (px.w(1.0), px.w(2.0));
    let d = |v: f64| px.i(v);
    for (i, e) in entries.iter().enumerate() {
        let (ci, ri) = ((i % cols) as i32, (i / cols) as i32);
        let yc = y + pad + row * ri + row / 2;
        let s0 = x + pad + ci * (col_w + px.i(LEGEND_COL_GAP));
        let s1 = s0 + px.i(LEGEND_SAMPLE);
        let sm = (s0 + s1) / 2;
        let c = e.colour;
        match e.swatch {
            Swatch::Line { dashed, band } => {
                if band {
                    area.draw(&Rectangle::new(
                        [(s0, yc - d(6.0)), (s1, yc + d(6.0))],
                        c.mix(BAND_ALPHA).filled(),
                    ))
                    .map_err(err)?;
                }
                let pts = vec![(s0, yc), (s1, yc)];
                if dashed {
                    area.draw(&DashedPathElement::new(
                        pts,
                        px.w(9.0),
                        px.w(6.0),
                        c.stroke_width(w2),
                    ))
                    .map_err(err)?;
                } else {
                    area.draw(&PathElement::new(pts, c.stroke_width(w2)))
                        .map_err(err)?;
                }
            }
            Swatch::Points { err: bars } => {
                let c = c.mix(e.opacity);
                if bars {
                    area.draw(&PathElement::new(
                        vec![(sm, yc - d(7.0)), (sm, yc + d(7.0))],
                        c.stroke_width(w1),
                    ))
                    .map_err(err)?;
                }
                area.draw(&Circle::new((sm, yc), px.i(e.marker_r).max(1), c.filled()))
                    .map_err(err)?;
            }
            Swatch::Bars => {
                let r = [(s0 + d(5.0), yc - d(7.0)), (s1 - d(5.0), yc + d(7.0))];
                area.draw(&Rectangle::new(r, c.mix(BAR_ALPHA).filled()))
                    .map_err(err)?;
                area.draw(&Rectangle::new(r, c.stroke_width(w1)))
                    .map_err(err)?;
            }
            Swatch::Ref => {
                area.draw(&DashedPathElement::new(
                    vec![(s0, yc), (s1, yc)],
                    px.w(3.0),
                    px.w(4.0),
                    c.stroke_width(w2),
                ))
                .map_err(err)?;
            }
            Swatch::Contour => {
                area.draw(&PathElement::new(
                    vec![(s0, yc), (s1, yc)],
                    c.stroke_width(w1),
                ))
                .map_err(err)?;
            }
        }
        area.draw_text(&e.label, &font, (s1 + gap, yc))
            .map_err(err)?;
    }
    Ok(())
}
