//! Figures as data: a [`Figure`] is a row of panels (line/point plots, histograms, heat maps
//! with contours), rendered to SVG and PNG with plotters and a bundled font (DejaVu Sans), so
//! no system font or graphics library is needed.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};
use plotters::style::FontStyle;

mod check;
mod draw;
mod geom;
mod scale;

/// The font family every text is drawn in (the bundled font is registered under it).
const FAMILY: &str = "sans-serif";

/// DejaVu Sans, bundled so that no system font is needed.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the bundled font (once per process) as [`FAMILY`].
fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err("the bundled font DejaVuSans.ttf could not be loaded".into())
    }
}

/// Errors while drawing a figure.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// plotters failed (file or drawing error).
    #[error("drawing {file}: {message}")]
    Draw {
        /// The output file.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// The figure's data are not drawable (empty, non-finite ranges, mismatched lengths).
    #[error("figure {figure}: {message}")]
    Data {
        /// The figure's title.
        figure: String,
        /// What is wrong.
        message: String,
    },
}

/// One axis of a panel.
#[derive(Clone, Debug)]
pub struct Axis {
    /// Label, with symbol or unit, e.g. "learning rate λ".
    pub label: String,
    /// Shown range (lo < hi; both > 0 on a log axis).
    pub range: (f64, f64),
    /// Logarithmic scale.
    pub log: bool,
}

impl Axis {
    /// An axis with a label and a range.
    pub fn new(label: &str, lo: f64, hi: f64, log: bool) -> Axis {
        Axis {
            label: label.into(),
            range: (lo, hi),
            log,
        }
    }
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    /// A solid line through the points.
    Line,
    /// A dashed line (theory curves).
    Dashed,
    /// Markers only (measurements); with error bars when `Series::err` is set.
    Points,
    /// A histogram: `x` holds the n+1 bin edges, `y` the n heights, drawn as filled bars.
    Bars,
}

/// One data series of an [`XyPlot`] or overlay of a [`HeatMap`].
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend entry ("" for none).
    pub label: String,
    /// x values (bin edges for [`Style::Bars`]).
    pub x: Vec<f64>,
    /// y values. Non-finite points (and points outside a log axis) are skipped, splitting
    /// lines.
    pub y: Vec<f64>,
    /// Style.
    pub style: Style,
    /// Colour as an index into the palette ([`palette`]).
    pub color: usize,
    /// Shaded band (lower, upper), same length as `x`, drawn under the line. For
    /// [`Style::Bars`], one value per bin (same length as `y`), drawn as steps.
    pub band: Option<(Vec<f64>, Vec<f64>)>,
    /// Symmetric error bars (same length as `x`) for [`Style::Points`]; drawn for the other
    /// styles too when set, at the bin centres (one per bin) for [`Style::Bars`].
    pub err: Option<Vec<f64>>,
    /// Marker radius in logical pixels for [`Style::Points`] (4 by default).
    pub marker_r: f64,
    /// Opacity of markers and error bars, in (0, 1] (1 by default): lighter markers let the
    /// curves drawn after them show through.
    pub opacity: f64,
}

impl Series {
    /// A series without band or error bars.
    pub fn new(label: &str, x: Vec<f64>, y: Vec<f64>, style: Style, color: usize) -> Series {
        Series {
            label: label.into(),
            x,
            y,
            style,
            color,
            band: None,
            err: None,
            marker_r: draw::MARKER_R,
            opacity: 1.0,
        }
    }

    /// The same series with markers of radius `r` (logical pixels) at opacity `opacity`.
    pub fn markers(mut self, r: f64, opacity: f64) -> Series {
        self.marker_r = r;
        self.opacity = opacity;
        self
    }
}

/// A straight reference line across a panel.
#[derive(Clone, Debug)]
pub struct RefLine {
    /// Vertical (at x = value) or horizontal (at y = value).
    pub vertical: bool,
    /// Position.
    pub value: f64,
    /// Legend entry ("" for none).
    pub label: String,
    /// Palette colour index.
    pub color: usize,
}

/// Line, point and histogram plots sharing axes.
#[derive(Clone, Debug)]
pub struct XyPlot {
    /// Panel title.
    pub title: String,
    /// x axis.
    pub x: Axis,
    /// y axis.
    pub y: Axis,
    /// Series, drawn in order.
    pub series: Vec<Series>,
    /// Reference lines.
    pub lines: Vec<RefLine>,
}

/// Contour lines of a scalar field on a regular grid (cell centres, as [`HeatMap::values`]).
#[derive(Clone, Debug)]
pub struct Contours {
    /// Grid points along x.
    pub nx: usize,
    /// Grid points along y.
    pub ny: usize,
    /// Values, row-major with y slowest: `values[iy * nx + ix]` at
    /// (x_lo + (ix + ½)·dx, y_lo + (iy + ½)·dy) over the panel's axis ranges.
    pub values: Vec<f64>,
    /// Levels to draw.
    pub levels: Vec<f64>,
    /// Legend entry ("" for none).
    pub label: String,
}

/// A colour map over a regular grid of cells spanning the panel's axis ranges, with a colour
/// bar, optional contour lines and overlaid series.
#[derive(Clone, Debug)]
pub struct HeatMap {
    /// Panel title.
    pub title: String,
    /// x axis (linear).
    pub x: Axis,
    /// y axis (linear).
    pub y: Axis,
    /// Cells along x.
    pub nx: usize,
    /// Cells along y.
    pub ny: usize,
    /// Values, row-major with y slowest: `values[iy * nx + ix]`. Non-finite cells are left
    /// blank.
    pub values: Vec<f64>,
    /// Colour bar label and range (lo, hi); values outside are clamped.
    pub scale: Axis,
    /// Cells with value ≤ this are left white (e.g. 0 for empty histogram cells); None
    /// colours every finite cell.
    pub blank_at_or_below: Option<f64>,
    /// Contours drawn over the cells.
    pub contours: Option<Contours>,
    /// Series drawn over the cells (e.g. a theoretical boundary).
    pub overlays: Vec<Series>,
}

/// One panel of a figure.
#[derive(Clone, Debug)]
pub enum Panel {
    /// Lines, points, histograms.
    Xy(XyPlot),
    /// Colour map.
    Heat(HeatMap),
}

/// A figure: panels side by side, each `panel_width × height` pixels.
#[derive(Clone, Debug)]
pub struct Figure {
    /// Title (used in error messages; not drawn).
    pub title: String,
    /// Panels, left to right.
    pub panels: Vec<Panel>,
    /// Width of each panel in pixels.
    pub panel_width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// The colour of palette index `i` as RGB (a colour-blind-safe qualitative palette; indices
/// wrap around).
///
/// The palette is Okabe–Ito's: blue, orange, bluish green, vermillion, sky blue, reddish
/// purple, yellow, black.
pub fn palette(i: usize) -> (u8, u8, u8) {
    const OKABE_ITO: [(u8, u8, u8); 8] = [
        (0x00, 0x72, 0xB2),
        (0xE6, 0x9F, 0x00),
        (0x00, 0x9E, 0x73),
        (0xD5, 0x5E, 0x00),
        (0x56, 0xB4, 0xE9),
        (0xCC, 0x79, 0xA7),
        (0xF0, 0xE4, 0x42),
        (0x00, 0x00, 0x00),
    ];
    OKABE_ITO[i % OKABE_ITO.len()]
}

/// How many times the SVG's size the PNG is drawn at (every length and font scaled alike),
/// for slides and high-density screens.
pub const PNG_SCALE: u32 = 2;

/// Draw `fig` into `svg` and `png` (the PNG at [`PNG_SCALE`] times the SVG's size).
///
/// The SVG is `panel_width × panels` wide and `height` high, panels left to right on a
/// white background; the PNG is the same drawing at [`PNG_SCALE`] times the pixel size, fonts
/// and lines included. The figure is checked first: empty panels, mismatched lengths, bad
/// axis ranges and the like give [`PlotError::Data`] and nothing is written. Failures while
/// drawing or writing give [`PlotError::Draw`] naming the file.
///
/// Each panel has its title above the plot. Legends (entries for labelled series,
/// reference lines and contours) sit in a framed box that never covers data: inside an x–y
/// plot at the free place nearest a corner (found by testing every drawn line, marker, bar,
/// band and error bar), else — and always for heat maps, whose cells are data everywhere —
/// in a strip above the plot. Reference lines that cannot be shown (outside the range, or
/// ≤ 0 on a log axis) are left out, legend entry included.
pub fn render(fig: &Figure, svg: &Path, png: &Path) -> Result<(), PlotError> {
    check::figure(fig)?;
    let failed = |file: &Path, message: String| PlotError::Draw {
        file: file.display().to_string(),
        message,
    };
    register_font().map_err(|m| failed(svg, m))?;
    // The checks bound the size, so the width fits.
    let size = (fig.panel_width * fig.panels.len() as u32, fig.height);
    draw::figure(
        SVGBackend::new(svg, size).into_drawing_area(),
        fig,
        draw::Px(1.0),
    )
    .map_err(|m| failed(svg, m))?;
    let big = (size.0 * PNG_SCALE, size.1 * PNG_SCALE);
    draw::figure(
        BitMapBackend::new(png, big).into_drawing_area(),
        fig,
        draw::Px(f64::from(PNG_SCALE)),
    )
    .map_err(|m| failed(png, m))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::geom::{marching_squares, View};
    use super::scale::Scale;
    use super::*;

    fn axis(label: &str, lo: f64, hi: f64, log: bool) -> Axis {
        Axis::new(label, lo, hi, log)
    }

    fn series(label: &str, x: Vec<f64>, y: Vec<f64>, style: Style, color: usize) -> Series {
        Series::new(label, x, y, style, color)
    }

    /// An x–y panel with every style, a band, error bars, a gap (NaN), a log x axis and
    /// reference lines.
    fn xy_panel() -> XyPlot {
        let xs: Vec<f64> = (0..=60)
            .map(|i| 10f64.powf(-3.0 + 3.0 * i as f64 / 60.0))
            .collect();
        let curve = |x: f64| 1.0 / (1.0 + (0.05 / x).powf(1.5));
        let mut line = series(
            "simulation",
            xs.clone(),
            xs.iter().map(|&x| curve(x)).collect(),
            Style::Line,
            0,
        );
        line.y[30] = f64::NAN;
        line.band = Some((
            xs.iter().map(|&x| curve(x) - 0.06).collect(),
            xs.iter().map(|&x| curve(x) + 0.06).collect(),
        ));
        let theory = series(
            "theory",
            xs.clone(),
            xs.iter().map(|&x| curve(x * 1.3)).collect(),
            Style::Dashed,
            3,
        );
        let px: Vec<f64> = (0..8).map(|i| 10f64.powf(-2.8 + 0.35 * i as f64)).collect();
        let mut points = series(
            "measured",
            px.clone(),
            px.iter().map(|&x| curve(x) + 0.03).collect(),
            Style::Points,
            1,
        );
        points.err = Some(vec![0.05; px.len()]);
        let edges: Vec<f64> = (0..=12)
            .map(|i| 10f64.powf(-3.0 + 0.25 * i as f64))
            .collect();
        let heights: Vec<f64> = (0..12).map(|i| 0.1 + 0.04 * i as f64).collect();
        let mut bars = series("histogram", edges, heights, Style::Bars, 2);
        bars.err = Some(vec![0.02; 12]);
        XyPlot {
            title: "Escape probability".into(),
            x: axis("learning rate λ", 1e-3, 1.0, true),
            y: axis("P(escape)", 0.0, 1.2, false),
            series: vec![bars, line, theory, points],
            lines: vec![
                RefLine {
                    vertical: true,
                    value: 0.05,
                    label: "λ*".into(),
                    color: 5,
                },
                RefLine {
                    vertical: false,
                    value: 1.0,
                    label: String::new(),
                    color: 7,
                },
            ],
        }
    }

    /// A heat map with blank and non-finite cells, contours and two overlays.
    fn heat_panel() -> HeatMap {
        let f = |x: f64, y: f64| (-(x - 1.0).powi(2) - 2.0 * y * y).exp();
        let (nx, ny) = (40, 30);
        let mut values = Vec::new();
        for iy in 0..ny {
            for ix in 0..nx {
                let x = 2.0 * (ix as f64 + 0.5) / nx as f64;
                let y = -1.0 + 2.0 * (iy as f64 + 0.5) / ny as f64;
                values.push(if x < 0.2 { 0.0 } else { f(x, y) });
            }
        }
        values[5 * nx + 20] = f64::NAN;
        let (cx, cy) = (60, 45);
        let mut cvalues = Vec::new();
        for iy in 0..cy {
            for ix in 0..cx {
                let x = 2.0 * (ix as f64 + 0.5) / cx as f64;
                let y = -1.0 + 2.0 * (iy as f64 + 0.5) / cy as f64;
                cvalues.push(f(x, y));
            }
        }
        let bx: Vec<f64> = (0..=40).map(|i| 0.1 + 1.8 * i as f64 / 40.0).collect();
        let boundary = series(
            "boundary",
            bx.clone(),
            bx.iter().map(|&x| 0.6 * (3.0 * x).sin()).collect(),
            Style::Dashed,
            1,
        );
        let runs = series(
            "runs",
            vec![0.5, 1.0, 1.5],
            vec![0.2, -0.3, 0.5],
            Style::Points,
            4,
        );
        HeatMap {
            title: "Phase diagram".into(),
            x: axis("noise σ", 0.0, 2.0, false),
            y: axis("curvature h", -1.0, 1.0, false),
            nx,
            ny,
            values,
            scale: axis("escape probability", 0.0, 1.0, false),
            blank_at_or_below: Some(0.0),
            contours: Some(Contours {
                nx: cx,
                ny: cy,
                values: cvalues,
                levels: vec![0.25, 0.5, 0.75],
                label: "P = ¼, ½, ¾".into(),
            }),
            overlays: vec![boundary, runs],
        }
    }

    fn demo() -> Figure {
        Figure {
            title: "demo".into(),
            panels: vec![Panel::Xy(xy_panel()), Panel::Heat(heat_panel())],
            panel_width: 520,
            height: 400,
        }
    }

    /// Width and height from a PNG's IHDR chunk, after checking the signature.
    fn png_size(bytes: &[u8]) -> (u32, u32) {
        assert!(bytes.len() > 24, "PNG too short");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        assert_eq!(&bytes[12..16], b"IHDR", "first chunk is IHDR");
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        (be(&bytes[16..20]), be(&bytes[20..24]))
    }

    /// Whether the SVG has a text element reading exactly `s`.
    fn svg_has_text(svg: &str, s: &str) -> bool {
        svg.contains(&format!(">\n{s}\n</text>"))
    }

    #[test]
    fn palette_is_okabe_ito_and_wraps() {
        assert_eq!(palette(0), (0x00, 0x72, 0xB2));
        assert_eq!(palette(1), (0xE6, 0x9F, 0x00));
        assert_eq!(palette(7), (0, 0, 0));
        assert_eq!(palette(8), palette(0));
        assert_eq!(palette(8 * 1000 + 3), palette(3));
        let distinct: std::collections::HashSet<_> = (0..8).map(palette).collect();
        assert_eq!(distinct.len(), 8);
    }

    #[test]
    fn renders_svg_and_png_at_the_figure_size() {
        let dir = tempfile::tempdir().unwrap();
        let (svg, png) = (dir.path().join("f.svg"), dir.path().join("f.png"));
        let fig = demo();
        render(&fig, &svg, &png).unwrap();

        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(png_size(&bytes), (2 * 520 * PNG_SCALE, 400 * PNG_SCALE));

        let text = std::fs::read_to_string(&svg).unwrap();
        let body = match text.strip_prefix("<?xml") {
            Some(rest) => &rest[rest.find("?>").unwrap() + 2..],
            None => &text[..],
        };
        assert!(body.trim_start().starts_with("<svg"), "{}", &text[..80]);
        assert!(text.trim_end().ends_with("</svg>"));
        assert!(text.contains(r#"width="1040""#) && text.contains(r#"height="400""#));
        for s in [
            "Escape probability",
            "Phase diagram",
            "learning rate λ",
            "escape probability",
            "simulation",
            "theory",
            "λ*",
            "P = ¼, ½, ¾",
            "boundary",
            // Log-axis tick labels.
            "0.001",
            "0.01",
        ] {
            assert!(svg_has_text(&text, s), "SVG lacks text {s:?}");
        }
        assert!(!svg_has_text(&text, ""), "empty text element");
        // The unlabelled reference line has no legend entry, the labelled one has.
        assert_eq!(text.matches(">\nλ*\n</text>").count(), 1);
        // Markers (11, each over a white rim), the band, the bars and the heat map cells.
        assert!(text.matches("<circle").count() >= 22);
        assert!(text.contains("<polygon"));
        assert!(text.matches("<rect").count() > 12 + 40);
    }

    #[test]
    fn bad_data_is_a_data_error_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (svg, png) = (dir.path().join("f.svg"), dir.path().join("f.png"));
        type Spoil = fn(&mut Figure);
        let cases: Vec<(&str, Spoil, &str)> = vec![
            ("no panels", |f| f.panels.clear(), "no panels"),
            (
                "x vs y",
                |f| {
                    if let Panel::Xy(p) = &mut f.panels[0] {
                        p.series[1].y.pop();
                    }
                },
                "61 x values but 60 y values",
            ),
            (
                "bar edges",
                |f| {
                    if let Panel::Xy(p) = &mut f.panels[0] {
                        p.series[0].x.pop();
                    }
                },
                "n+1 edges",
            ),
            (
                "band",
                |f| {
                    if let Panel::Xy(p) = &mut f.panels[0] {
                        p.series[1].band.as_mut().unwrap().1.pop();
                    }
                },
                "band",
            ),
            (
                "err",
                |f| {
                    if let Panel::Xy(p) = &mut f.panels[0] {
                        p.series[3].err = Some(vec![0.1]);
                    }
                },
                "error bars",
            ),
            (
                "bar error bars",
                |f| {
                    if let Panel::Xy(p) = &mut f.panels[0] {
                        p.series[0].err = Some(vec![0.02; 13]);
                    }
                },
                "13 error bars for 12 bins",
            ),
            (
                "log lo <= 0",
                |f| {
                    if let Panel::Xy(p) = &mut f.panels[0] {
                        p.x.range = (0.0, 1.0);
                    }
                },
                "logarithmic",
            ),
            (
                "empty range",
                |f| {
                    if let Panel::Xy(p) = &mut f.panels[0] {
                        p.y.range = (1.0, 1.0);
                    }
                },
                "lo ≥ hi",
            ),
            (
                "NaN range",
                |f| {
                    if let Panel::Xy(p) = &mut f.panels[0] {
                        p.y.range = (0.0, f64::NAN);
                    }
                },
                "not finite",
            ),
            (
                "nx*ny",
                |f| {
                    if let Panel::Heat(h) = &mut f.panels[1] {
                        h.ny += 1;
                    }
                },
                "1200 values for 40×31 cells",
            ),
            (
                "contour grid",
                |f| {
                    if let Panel::Heat(h) = &mut f.panels[1] {
                        h.contours.as_mut().unwrap().values.pop();
                    }
                },
                "contour grid",
            ),
            (
                "log colour scale",
                |f| {
                    if let Panel::Heat(h) = &mut f.panels[1] {
                        h.scale.log = true;
                    }
                },
                "colour axis",
            ),
            (
                "overlay",
                |f| {
                    if let Panel::Heat(h) = &mut f.panels[1] {
                        h.overlays[0].x.push(1.0);
                    }
                },
                "series \"boundary\"",
            ),
            ("tiny", |f| f.height = 10, "too small"),
        ];
        for (name, spoil, needle) in cases {
            let mut fig = demo();
            spoil(&mut fig);
            match render(&fig, &svg, &png) {
                Err(PlotError::Data { figure, message }) => {
                    assert_eq!(figure, "demo", "{name}");
                    assert!(message.contains(needle), "{name}: {message}");
                }
                other => panic!("{name}: expected a data error, got {other:?}"),
            }
            assert!(!svg.exists() && !png.exists(), "{name}: wrote a file");
        }
        // The panel is named in the message.
        let mut fig = demo();
        if let Panel::Heat(h) = &mut fig.panels[1] {
            h.values.pop();
        }
        let e = render(&fig, &svg, &png).unwrap_err().to_string();
        assert!(
            e.starts_with("figure demo: panel 2 \"Phase diagram\""),
            "{e}"
        );
    }

    #[test]
    fn unwritable_file_is_a_draw_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("missing").join("f.svg");
        let png = dir.path().join("f.png");
        match render(&demo(), &svg, &png) {
            Err(PlotError::Draw { file, .. }) => assert_eq!(file, svg.display().to_string()),
            other => panic!("expected a draw error, got {other:?}"),
        }
    }

    #[test]
    fn undrawable_points_are_skipped_without_error() {
        let dir = tempfile::tempdir().unwrap();
        let (svg, png) = (dir.path().join("f.svg"), dir.path().join("f.png"));
        let mut p = xy_panel();
        p.y = axis("y", 1e-3, 10.0, true);
        // Zero, negative, infinite and NaN values on a log axis; a band and error bars
        // reaching below zero; an empty series; reference lines off the axes.
        p.series.push(series(
            "odd",
            vec![0.01, 0.02, 0.03, 0.04, 0.05],
            vec![1.0, 0.0, -1.0, f64::INFINITY, f64::NAN],
            Style::Line,
            6,
        ));
        p.series[3].err = Some(vec![5.0; 8]);
        p.series.push(series("", vec![], vec![], Style::Points, 0));
        p.series.push(series("", vec![0.5], vec![], Style::Bars, 0));
        p.lines.push(RefLine {
            vertical: true,
            value: -1.0,
            label: "hidden".into(),
            color: 0,
        });
        let mut h = heat_panel();
        h.values
            .iter_mut()
            .step_by(3)
            .for_each(|v| *v = f64::NEG_INFINITY);
        h.scale = axis("count", 1.0, 100.0, true);
        let fig = Figure {
            title: "odd".into(),
            panels: vec![Panel::Xy(p), Panel::Heat(h)],
            panel_width: 400,
            height: 300,
        };
        render(&fig, &svg, &png).unwrap();
        assert_eq!(png_size(&std::fs::read(&png).unwrap()), (1600, 600));
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(svg_has_text(&text, "odd"));
        assert!(
            !svg_has_text(&text, "hidden"),
            "off-axis reference line in the legend"
        );
    }

    /// The value of attribute `name` in an SVG tag.
    fn attr<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
        let key = format!(" {name}=\"");
        let start = tag.find(&key)? + key.len();
        Some(&tag[start..start + tag[start..].find('"')?])
    }

    /// The tags `<kind .../>` of an SVG, each with its offset in the text.
    fn tags<'t>(svg: &'t str, kind: &str) -> Vec<(usize, &'t str)> {
        let open = format!("<{kind} ");
        svg.match_indices(&open)
            .map(|(i, _)| (i, &svg[i..i + svg[i..].find("/>").unwrap()]))
            .collect()
    }

    /// The legend box of a one-panel SVG (framed in grey) as (x0, y0, x1, y1), its offset in
    /// the text, and the data drawn before it in the palette's colours: markers as
    /// (x, y, radius) and points along lines every half pixel (radius half the width).
    /// A box (x0, y0, x1, y1), and a circle (x, y, r).
    type Box4 = (f64, f64, f64, f64);
    type Circle = (f64, f64, f64);

    fn legend_and_data(svg: &str) -> (Box4, usize, Vec<Circle>) {
        let num = |t: &str, n: &str| attr(t, n).unwrap().parse::<f64>().unwrap();
        let frames: Vec<_> = tags(svg, "rect")
            .into_iter()
            .filter(|(_, t)| attr(t, "stroke") == Some("#A0A0A0"))
            .collect();
        assert_eq!(frames.len(), 1, "one legend box");
        let (at, t) = frames[0];
        let (x, y) = (num(t, "x"), num(t, "y"));
        let rect = (x, y, x + num(t, "width"), y + num(t, "height"));
        let colours: Vec<String> = (0..8)
            .map(|i| {
                let (r, g, b) = palette(i);
                format!("#{r:02X}{g:02X}{b:02X}")
            })
            .collect();
        let data_colour = |c: Option<&str>| c.is_some_and(|c| colours.iter().any(|p| p == c));
        let mut data = Vec::new();
        for (i, t) in tags(svg, "circle") {
            if i < at && data_colour(attr(t, "fill")) {
                data.push((num(t, "cx"), num(t, "cy"), num(t, "r")));
            }
        }
        for (i, t) in tags(svg, "polyline") {
            if i > at || !data_colour(attr(t, "stroke")) {
                continue;
            }
            let half = num(t, "stroke-width") / 2.0;
            let pts: Vec<(f64, f64)> = attr(t, "points")
                .unwrap()
                .split_whitespace()
                .map(|p| {
                    let (a, b) = p.split_once(',').unwrap();
                    (a.parse().unwrap(), b.parse().unwrap())
                })
                .collect();
            for w in pts.windows(2) {
                let n = ((w[1].0 - w[0].0).hypot(w[1].1 - w[0].1) * 2.0).ceil() as usize;
                for k in 0..=n {
                    let f = k as f64 / n.max(1) as f64;
                    let p = (
                        w[0].0 + f * (w[1].0 - w[0].0),
                        w[0].1 + f * (w[1].1 - w[0].1),
                    );
                    data.push((p.0, p.1, half));
                }
            }
        }
        (rect, at, data)
    }

    /// Whether a disc (x, y, r) meets the box (x0, y0, x1, y1).
    fn meets((x0, y0, x1, y1): (f64, f64, f64, f64), (x, y, r): (f64, f64, f64)) -> bool {
        let dx = (x0 - x).max(x - x1).max(0.0);
        let dy = (y0 - y).max(y - y1).max(0.0);
        dx.hypot(dy) < r
    }

    /// A one-panel figure of `series` on [0, 1]².
    fn one_panel(series: Vec<Series>) -> Figure {
        Figure {
            title: "legend".into(),
            panels: vec![Panel::Xy(XyPlot {
                title: "Legend placement".into(),
                x: axis("x", 0.0, 1.0, false),
                y: axis("y", 0.0, 1.0, false),
                series,
                lines: Vec::new(),
            })],
            panel_width: 520,
            height: 440,
        }
    }

    #[test]
    fn legend_never_covers_data() {
        let dir = tempfile::tempdir().unwrap();
        let (svg, png) = (dir.path().join("f.svg"), dir.path().join("f.png"));
        // Data in all four corners (a peak reaching the top edge, points along the bottom,
        // a line down the left side): the only free room is in the upper middle-right.
        let xs: Vec<f64> = (0..=200).map(|i| i as f64 / 200.0).collect();
        let peak = line(
            "Fokker–Planck density",
            xs.clone(),
            xs.iter()
                .map(|&x| 0.05 + 0.95 * (-((x - 0.85) / 0.06).powi(2)).exp())
                .collect(),
            2,
        );
        let side = line(
            "left",
            xs.iter().map(|&y| 0.02 + 0.1 * y).collect(),
            xs.clone(),
            0,
        );
        let bottom = points(
            "runs",
            (0..40).map(|i| i as f64 / 39.0).collect(),
            (0..40).map(|i| 0.1 + 0.05 * ((i * 7 % 5) as f64)).collect(),
            4,
        );
        let fig = one_panel(vec![peak, side, bottom]);
        render(&fig, &svg, &png).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        let (rect, _, data) = legend_and_data(&text);
        assert!(data.len() > 1000, "{} data points", data.len());
        for d in &data {
            assert!(!meets(rect, *d), "legend {rect:?} covers {d:?}");
        }
        // Inside the plot: below the title strip, above the lowest data.
        let lowest = data.iter().map(|d| d.1).fold(0.0, f64::max);
        assert!(rect.1 > 40.0 && rect.3 < lowest, "{rect:?}");

        // Points everywhere: no room inside, so the legend goes above the plot.
        let n = 60;
        let fill = points(
            "everywhere",
            (0..n * n)
                .map(|i| (i % n) as f64 / (n - 1) as f64)
                .collect(),
            (0..n * n)
                .map(|i| (i / n) as f64 / (n - 1) as f64)
                .collect(),
            1,
        );
        render(&one_panel(vec![fill]), &svg, &png).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        let (rect, _, data) = legend_and_data(&text);
        assert_eq!(data.len(), n * n);
        let top = data.iter().map(|d| d.1 - d.2).fold(f64::INFINITY, f64::min);
        assert!(rect.3 < top, "legend {rect:?} reaches the data (top {top})");
    }

    #[test]
    fn png_is_twice_the_svg_with_scaled_text() {
        let dir = tempfile::tempdir().unwrap();
        let (svg, png) = (dir.path().join("f.svg"), dir.path().join("f.png"));
        let mut fig = demo();
        fig.panels.truncate(1);
        (fig.panel_width, fig.height) = (720, 440);
        render(&fig, &svg, &png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(png_size(&bytes), (1440, 880));
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains(r#"width="720""#) && text.contains(r#"height="440""#));
        // The PNG is the same drawing at twice the size, text included: the title's dark
        // rows (above the plot) are twice as many as at the SVG's size.
        let title_rows = |k: u32| {
            let (w, h) = (720 * k, 440 * k);
            let mut buf = vec![0u8; (w * h * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
                draw::figure(root, &fig, draw::Px(f64::from(k))).unwrap();
            }
            (0..(30 * k) as usize)
                .filter(|&r| {
                    buf[r * w as usize * 3..(r + 1) * w as usize * 3]
                        .chunks(3)
                        .any(|p| p.iter().all(|&c| c < 100))
                })
                .count()
        };
        let (one, two) = (title_rows(1), title_rows(PNG_SCALE));
        assert!(one >= 10, "{one} rows of title at 1×");
        assert!(
            (two as f64 / one as f64 - 2.0).abs() < 0.25,
            "title {one} rows at 1×, {two} at 2×"
        );
    }

    fn line(label: &str, x: Vec<f64>, y: Vec<f64>, color: usize) -> Series {
        series(label, x, y, Style::Line, color)
    }

    fn points(label: &str, x: Vec<f64>, y: Vec<f64>, color: usize) -> Series {
        series(label, x, y, Style::Points, color)
    }

    #[test]
    fn marching_squares_traces_a_circle() {
        // f = x² + y² on [-2, 2]², grid spacing 0.1; level r² for r = 1.3.
        let n = 41;
        let h = 4.0 / (n - 1) as f64;
        let at = |i: usize| -2.0 + i as f64 * h;
        let values: Vec<f64> = (0..n * n)
            .map(|k| at(k % n).powi(2) + at(k / n).powi(2))
            .collect();
        let r = 1.3;
        let segs = marching_squares(n, n, &values, (-2.0, h), (-2.0, h), r * r);
        assert!(segs.len() > 40, "{} segments", segs.len());
        let mut angles = Vec::new();
        for (a, b) in &segs {
            for p in [a, b] {
                let d = p.0.hypot(p.1);
                assert!((d - r).abs() < h, "endpoint {p:?} at distance {d}");
                angles.push(p.1.atan2(p.0));
            }
        }
        // All the way round: no gap wider than a few cells.
        angles.sort_by(f64::total_cmp);
        let mut widest = angles[0] + std::f64::consts::TAU - angles[angles.len() - 1];
        for w in angles.windows(2) {
            widest = widest.max(w[1] - w[0]);
        }
        assert!(widest < 2.0 * h / r, "gap of {widest} rad");
        // A level outside the field's range gives nothing; NaN cells are skipped.
        assert!(marching_squares(n, n, &values, (-2.0, h), (-2.0, h), 100.0).is_empty());
        let nan = vec![f64::NAN; n * n];
        assert!(marching_squares(n, n, &nan, (-2.0, h), (-2.0, h), 1.0).is_empty());
    }

    #[test]
    fn marching_squares_saddle_follows_the_centre() {
        // Corners 0 and 2 above, 1 and 3 below; the centre decides which pair is joined.
        let high_centre = [1.0, 0.4, 1.0, 0.4];
        let low_centre = [1.0, -1.0, 1.0, -1.5];
        // values[iy * 2 + ix]: corner order (0,0), (1,0), (0,1), (1,1).
        let grid = |c: [f64; 4]| vec![c[0], c[1], c[3], c[2]];
        let segs = marching_squares(2, 2, &grid(high_centre), (0.0, 1.0), (0.0, 1.0), 0.5);
        assert_eq!(segs.len(), 2);
        // Centre above: the below corners (1,0) and (0,1) are cut off.
        for (a, b) in &segs {
            let mid = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
            assert!(
                mid.0 > 0.5 && mid.1 < 0.5 || mid.0 < 0.5 && mid.1 > 0.5,
                "{mid:?}"
            );
        }
        let segs = marching_squares(2, 2, &grid(low_centre), (0.0, 1.0), (0.0, 1.0), 0.5);
        assert_eq!(segs.len(), 2);
        for (a, b) in &segs {
            let mid = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
            assert!(
                mid.0 < 0.5 && mid.1 < 0.5 || mid.0 > 0.5 && mid.1 > 0.5,
                "{mid:?}"
            );
        }
    }

    #[test]
    fn clipping_keeps_the_inside() {
        let v = View {
            x0: 0.0,
            x1: 1.0,
            y0: 0.0,
            y1: 1.0,
        };
        assert_eq!(
            v.clip_segment((-1.0, 0.5), (2.0, 0.5)),
            Some(((0.0, 0.5), (1.0, 0.5)))
        );
        assert_eq!(v.clip_segment((2.0, 2.0), (3.0, 0.5)), None);
        // A polyline leaving and re-entering becomes two pieces.
        let pieces = v.clip_polyline(&[(0.1, 0.1), (0.5, 2.0), (0.9, 0.1), (0.95, 0.2)]);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0][0], (0.1, 0.1));
        assert_eq!(pieces[1].len(), 3);
        assert_eq!(*pieces[1].last().unwrap(), (0.95, 0.2));
        // A square overlapping a corner is cut to the quarter inside.
        let poly = v.clip_polygon(&[(0.5, 0.5), (1.5, 0.5), (1.5, 1.5), (0.5, 1.5)]);
        let area = poly
            .iter()
            .zip(poly.iter().cycle().skip(1))
            .map(|(a, b)| a.0 * b.1 - b.0 * a.1)
            .sum::<f64>()
            / 2.0;
        assert!((area - 0.25).abs() < 1e-12, "area {area}");
        assert!(v
            .clip_polygon(&[(2.0, 2.0), (3.0, 2.0), (3.0, 3.0)])
            .is_empty());
        assert_eq!(
            v.clip_rect((0.5, -1.0), (2.0, 0.25)),
            Some(((0.5, 0.0), (1.0, 0.25)))
        );
    }

    #[test]
    fn ticks_are_round_and_readable() {
        let labels = |s: &Scale| s.ticks.iter().map(|t| t.1.clone()).collect::<Vec<_>>();
        let lin = Scale::new(&axis("", 0.0, 1.2, false), 6);
        assert_eq!(labels(&lin), ["0.00", "0.25", "0.50", "0.75", "1.00"]);
        let lin = Scale::new(&axis("", 0.0, 1.2, false), 7);
        assert_eq!(
            labels(&lin),
            ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0", "1.2"]
        );
        let lin = Scale::new(&axis("", -1.0, 1.0, false), 5);
        assert_eq!(labels(&lin), ["-1.0", "-0.5", "0.0", "0.5", "1.0"]);
        let big = Scale::new(&axis("", 0.0, 3e6, false), 4);
        assert_eq!(labels(&big), ["0", "1×10⁶", "2×10⁶", "3×10⁶"]);

        let log = Scale::new(&axis("", 1e-3, 1.0, true), 6);
        assert_eq!(labels(&log), ["0.001", "0.01", "0.1", "1"]);
        assert!((log.ticks[0].0 + 3.0).abs() < 1e-12);
        let wide = Scale::new(&axis("", 1e-8, 1e2, true), 6);
        assert_eq!(
            labels(&wide),
            ["10⁻⁸", "10⁻⁶", "10⁻⁴", "10⁻²", "10⁰", "10²"]
        );
        let narrow = Scale::new(&axis("", 0.5, 20.0, true), 6);
        assert_eq!(labels(&narrow), ["0.5", "1", "2", "5", "10", "20"]);
        // Values that cannot be shown on a log axis.
        assert_eq!(log.to_display(0.0), None);
        assert_eq!(log.to_display(f64::NAN), None);
        assert_eq!(log.to_display(0.01), Some(-2.0));
    }
}
