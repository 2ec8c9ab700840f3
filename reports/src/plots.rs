//! Charts of one group, each written as PNG and SVG: the task metric vs K (a line per local
//! method, E2E as a dashed horizontal reference), peak memory vs K, and the per-epoch test
//! curve (one panel per K, a line per method, E2E dashed in every panel).
//!
//! Text is drawn with DejaVu Sans compiled into the binary (`assets/`) through plotters'
//! ab_glyph support, so nothing depends on system font libraries. A chart is first
//! described as a [`Figure`] (plain data, testable), then drawn on both backends.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::curves::EpochCurve;
use crate::error::Error;
use crate::group::{cells, methods_key, methods_of, Group, Setting};
use crate::methods;
use crate::metric::Metric;
use crate::summary::Summary;
use crate::tables::MIB;
use glcan_store::write_atomic;
use glcan_store::ResultRow;

/// DejaVu Sans 2.37 (Bitstream Vera licence, see `assets/DejaVuSans-LICENSE.txt`).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
pub(crate) const FAMILY: &str = "sans-serif";
/// Room on the right for the legend, so it never hides a line.
const LEGEND_WIDTH: u32 = 230;

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// Solid, with markers where points are few.
    Solid,
    /// Dashed through its points (E2E's per-epoch curve).
    Dashed,
    /// A dashed horizontal line across the whole panel at the first point's y (E2E vs K).
    Horizontal,
    /// Markers only, each with its annotation beside it (the accuracy-memory plane).
    Markers,
}

/// One line of a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub label: String,
    pub color: RGBColor,
    pub kind: LineKind,
    /// (x, y) in chart coordinates (x is log2 K on the K axis).
    pub points: Vec<(f64, f64)>,
    /// ± spread per point (sample std over seeds), when there is one.
    pub spread: Vec<Option<f64>>,
    /// Draw the spread as a shaded band around the line (per-epoch curves, many points)
    /// rather than as whiskers (one point per K).
    pub band: bool,
    /// Text beside each point (markers only: `K = 4`), or empty.
    pub annotations: Vec<String>,
}

/// One chart area.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub title: String,
    pub lines: Vec<Line>,
}

/// What the x axis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// K on a log2 scale, ticks at the K values run.
    Log2K,
    /// Epochs, integer ticks.
    Epoch,
    /// A plain linear axis with round ticks (peak memory, MiB).
    Linear,
}

/// A whole chart: panels side by side (small multiples share the y range), one legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_axis: XAxis,
    /// Start the y axis at zero (memory), instead of fitting the data.
    pub y_from_zero: bool,
    /// Give each panel its own y range (quantities of different scales, e.g. each
    /// method's local losses), instead of one shared range.
    pub own_y: bool,
    pub panels: Vec<Panel>,
}

/// The K axis: spaced by log2 K, ticked at the K values run.
const K_AXIS: &str = "K (local modules)";

/// A fixed colour per known method (Okabe-Ito palette, readable with colour blindness; its
/// yellow is too faint for lines on white, so PredSim takes a darkened one).
pub fn method_color(method: &str) -> RGBColor {
    const OTHERS: [RGBColor; 2] = [RGBColor(120, 120, 120), RGBColor(60, 60, 60)];
    match methods_key(method).as_str() {
        "e2e" => RGBColor(0, 0, 0),
        "greedy-sl" => RGBColor(230, 159, 0),
        "dgl" => RGBColor(0, 114, 178),
        "infopro-softmax" => RGBColor(0, 158, 115),
        "infopro-contrast" => RGBColor(204, 121, 167),
        "glcan" => RGBColor(213, 94, 0),
        "predsim" => RGBColor(170, 150, 0),
        "auglocal" => RGBColor(86, 180, 233),
        other => OTHERS[other.bytes().map(usize::from).sum::<usize>() % OTHERS.len()],
    }
}

/// `metric` (mean ± std over seeds) vs K for every local method, E2E as a reference line.
/// `None` when no local method measured it.
pub fn metric_vs_k_figure(group: &Group, metric: Metric) -> Option<Figure> {
    let rows: Vec<&ResultRow> = group.ok.iter().filter(|r| metric.value(r).is_some()).collect();
    let panel = vs_k_panel(&rows, |r| metric.value(r), true)?;
    Some(Figure {
        title: format!("{}: {} vs K", group.key.title(), metric.name()),
        x_label: K_AXIS.into(),
        y_label: metric.heading(),
        x_axis: XAxis::Log2K,
        y_from_zero: false,
        own_y: false,
        panels: vec![panel],
    })
}

/// Peak memory per training step (MiB) vs K for the runs of one setting (batch size,
/// device, dtype, threads). `None` when no local method measured it.
pub fn memory_vs_k_figure(group: &Group, setting: &Setting, rows: &[&ResultRow]) -> Option<Figure> {
    let rows: Vec<&ResultRow> = rows.iter().copied().filter(|r| r.step_peak_bytes > 0).collect();
    let panel = vs_k_panel(&rows, |r| Some(r.step_peak_bytes as f64 / MIB), false)?;
    Some(Figure {
        title: format!("{}: peak memory vs K", group.key.title()),
        x_label: K_AXIS.into(),
        y_label: "Peak memory per step (MiB)".into(),
        x_axis: XAxis::Log2K,
        y_from_zero: true,
        own_y: false,
        panels: vec![Panel { title: setting.describe(), ..panel }],
    })
}

/// Throughput (images/s of one training step, from a speed pass) vs K; `None` when no
/// local method was timed.
pub fn throughput_vs_k_figure(group: &Group, rows: &[&ResultRow], setting: &Setting) -> Option<Figure> {
    let panel = vs_k_panel(rows, |r| Some(r.images_per_s), false)?;
    Some(Figure {
        title: format!("{}: training throughput vs K", group.key.title()),
        x_label: K_AXIS.into(),
        y_label: "Images per second (speed pass)".into(),
        x_axis: XAxis::Log2K,
        y_from_zero: true,
        own_y: false,
        panels: vec![Panel { title: setting.describe(), ..panel }],
    })
}

/// The central figure of local learning: `metric` (mean ± std over seeds) against peak
/// memory per training step (mean, MiB), one marker per method and K, E2E included, and the
/// Pareto front (no other point is both lighter and better) dashed in grey. `None` without a
/// local method that measured both.
pub fn tradeoff_figure(group: &Group, metric: Metric, setting: &Setting, rows: &[&ResultRow]) -> Option<Figure> {
    let rows: Vec<&ResultRow> = rows.iter().copied().filter(|r| r.step_peak_bytes > 0 && metric.value(r).is_some()).collect();
    let values = cells(rows.iter().copied(), |r| metric.value(r));
    let memory = cells(rows.iter().copied(), |r| Some(r.step_peak_bytes as f64 / MIB));
    let mut lines = Vec::new();
    let mut all = Vec::new();
    for method in methods_of(rows.iter().copied()) {
        let key = methods_key(&method);
        let mut points = Vec::new();
        let mut spread = Vec::new();
        let mut annotations = Vec::new();
        for ((m, k), vs) in values.iter().filter(|((m, _), _)| *m == key) {
            let (Some(value), Some(mib)) = (Summary::of(vs), memory.get(&(m.clone(), *k)).and_then(|v| Summary::of(v))) else { continue };
            points.push((mib.mean, value.mean));
            spread.push(value.std);
            annotations.push(if methods::is_reference(&method) { "E2E".to_string() } else { format!("K = {k}") });
        }
        all.extend(points.iter().copied());
        lines.push(Line {
            label: methods::label(&method),
            color: method_color(&method),
            kind: LineKind::Markers,
            points,
            spread,
            annotations,
            band: false,
        });
    }
    if !rows.iter().any(|r| !methods::is_reference(&r.method)) {
        return None;
    }
    let front = pareto_front(&all, metric);
    if front.len() > 1 {
        lines.push(Line {
            label: "Pareto front".into(),
            color: RGBColor(150, 150, 150),
            kind: LineKind::Dashed,
            spread: vec![None; front.len()],
            annotations: Vec::new(),
            band: false,
            points: front,
        });
    }
    Some(Figure {
        title: format!("{}: {} vs peak memory", group.key.title(), metric.name()),
        x_label: "Peak memory per training step (MiB)".into(),
        y_label: metric.heading(),
        x_axis: XAxis::Linear,
        y_from_zero: false,
        own_y: false,
        panels: vec![Panel { title: setting.describe(), lines }],
    })
}

/// The points no other point beats on both memory (less) and `metric`, by memory.
fn pareto_front(points: &[(f64, f64)], metric: Metric) -> Vec<(f64, f64)> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| {
        a.0.total_cmp(&b.0).then(if metric.better(a.1, b.1) { std::cmp::Ordering::Less } else { std::cmp::Ordering::Greater })
    });
    let mut front: Vec<(f64, f64)> = Vec::new();
    for point in sorted {
        if front.last().is_none_or(|best| metric.better(point.1, best.1)) {
            front.push(point);
        }
    }
    front
}

fn vs_k_panel(rows: &[&ResultRow], value: impl Fn(&ResultRow) -> Option<f64>, whiskers: bool) -> Option<Panel> {
    let cells = cells(rows.iter().copied(), &value);
    let mut lines = Vec::new();
    for method in methods_of(rows.iter().copied()) {
        let key = methods_key(&method);
        let summaries: Vec<(usize, Summary)> =
            cells.iter().filter(|((m, _), _)| *m == key).filter_map(|((_, k), v)| Some((*k, Summary::of(v)?))).collect();
        if methods::is_reference(&method) {
            // E2E has no K to speak of: one level, pooled over its runs.
            let all: Vec<f64> = rows.iter().filter(|r| methods::is_reference(&r.method)).filter_map(|r| value(r)).collect();
            if let Some(s) = Summary::of(&all) {
                lines.push(Line {
                    label: format!("{} (K = 1)", methods::label(&method)),
                    color: method_color(&method),
                    kind: LineKind::Horizontal,
                    points: vec![(0.0, s.mean)],
                    spread: vec![None],
                    annotations: Vec::new(),
                    band: false,
                });
            }
            continue;
        }
        lines.push(Line {
            label: methods::label(&method),
            color: method_color(&method),
            kind: LineKind::Solid,
            points: summaries.iter().map(|(k, s)| ((*k as f64).log2(), s.mean)).collect(),
            spread: summaries.iter().map(|(_, s)| if whiskers { s.std } else { None }).collect(),
            annotations: Vec::new(),
            band: false,
        });
    }
    lines.iter().any(|l| l.kind != LineKind::Horizontal).then(|| Panel { title: String::new(), lines })
}

/// Per-epoch curves, one panel per K of the local methods, E2E dashed in each panel.
/// `None` without curves.
pub fn epoch_figure(group: &Group, curves: &[EpochCurve], y_label: &str) -> Option<Figure> {
    let line = |c: &EpochCurve, kind| Line {
        label: methods::label(&c.method),
        color: method_color(&c.method),
        kind,
        points: c.points.iter().map(|&(e, v)| (e as f64, v)).collect(),
        spread: c.spread.clone(),
        annotations: Vec::new(),
        band: true,
    };
    let reference: Vec<Line> = curves.iter().filter(|c| methods::is_reference(&c.method)).map(|c| line(c, LineKind::Dashed)).collect();
    let mut ks: Vec<usize> = curves.iter().filter(|c| !methods::is_reference(&c.method)).map(|c| c.k).collect();
    ks.sort_unstable();
    ks.dedup();
    let mut panels: Vec<Panel> = ks
        .iter()
        .map(|&k| {
            let mut lines: Vec<Line> =
                curves.iter().filter(|c| c.k == k && !methods::is_reference(&c.method)).map(|c| line(c, LineKind::Solid)).collect();
            lines.extend(reference.iter().cloned());
            Panel { title: format!("K = {k}"), lines }
        })
        .collect();
    if panels.is_empty() && !reference.is_empty() {
        panels.push(Panel { title: "E2E".into(), lines: reference });
    }
    (!panels.is_empty()).then(|| Figure {
        title: format!("{}: {} per epoch", group.key.title(), y_label),
        x_label: "Epoch".into(),
        y_label: y_label.into(),
        x_axis: XAxis::Epoch,
        y_from_zero: false,
        own_y: false,
        panels,
    })
}

/// Draws `figure` to `<stem>.png` and `<stem>.svg` (atomically) and returns both paths.
pub fn write_figure(figure: &Figure, stem: &Path) -> Result<Vec<PathBuf>, Error> {
    write_chart(figure, stem)
}

/// Anything drawn once per backend: a [`Figure`], or the comparison's delta chart.
pub(crate) trait Chart {
    /// Canvas size in pixels.
    fn size(&self) -> (u32, u32);
    fn draw_on<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String>;
}

impl Chart for Figure {
    fn size(&self) -> (u32, u32) {
        figure_size(self)
    }

    fn draw_on<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String> {
        draw(root, self)
    }
}

/// Draws `chart` to `<stem>.png` and `<stem>.svg` (atomically) and returns both paths.
pub(crate) fn write_chart(chart: &impl Chart, stem: &Path) -> Result<Vec<PathBuf>, Error> {
    register_font()?;
    let (width, height) = chart.size();
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    let plot_error = |path: &Path| {
        let path = path.to_path_buf();
        move |message: String| Error::Plot { path, message }
    };

    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    chart.draw_on(BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area()).map_err(plot_error(&png))?;
    let mut encoded = Vec::new();
    image::RgbImage::from_raw(width, height, pixels)
        .expect("the buffer has width × height RGB pixels")
        .write_to(&mut std::io::Cursor::new(&mut encoded), image::ImageFormat::Png)
        .map_err(|source| Error::Png { path: png.clone(), source })?;
    write_atomic(&png, &encoded)?;

    let mut text = String::new();
    chart.draw_on(SVGBackend::with_string(&mut text, (width, height)).into_drawing_area()).map_err(plot_error(&svg))?;
    write_atomic(&svg, text.as_bytes())?;
    Ok(vec![png, svg])
}

pub(crate) fn register_font() -> Result<(), Error> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    ok.then_some(()).ok_or_else(|| Error::Plot { path: "assets/DejaVuSans.ttf".into(), message: "the embedded font does not parse".into() })
}

/// Panels in a grid of at most two columns (three beyond four panels).
fn grid(figure: &Figure) -> (usize, usize) {
    let n = figure.panels.len().max(1);
    let columns = if n == 1 {
        1
    } else if n <= 4 {
        2
    } else {
        3
    };
    (n.div_ceil(columns), columns)
}

fn figure_size(figure: &Figure) -> (u32, u32) {
    match grid(figure) {
        (1, 1) => (960, 560),
        (rows, columns) => (columns as u32 * 540 + LEGEND_WIDTH, 60 + rows as u32 * 380),
    }
}

/// Data range of all panels (shared, so small multiples compare at a glance).
fn ranges(figure: &Figure) -> ((f64, f64), (f64, f64)) {
    let lines = figure.panels.iter().flat_map(|p| &p.lines);
    let xs: Vec<f64> = lines.clone().filter(|l| l.kind != LineKind::Horizontal).flat_map(|l| l.points.iter().map(|p| p.0)).collect();
    let mut ys: Vec<f64> = Vec::new();
    for line in lines {
        for (point, spread) in line.points.iter().zip(line.spread.iter().chain(std::iter::repeat(&None))) {
            ys.push(point.1 - spread.unwrap_or(0.0));
            ys.push(point.1 + spread.unwrap_or(0.0));
        }
    }
    let span = |values: &[f64]| values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let (mut x0, mut x1) = span(&xs);
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    let x_pad = match figure.x_axis {
        XAxis::Log2K => 0.3,
        XAxis::Epoch => 0.0,
        // Room for the annotations right of the points.
        XAxis::Linear => (x1 - x0).max(x1.abs() * 0.05) * 0.12,
    };
    if x1 - x0 < 1e-9 {
        (x0, x1) = (x0 - 0.5, x1 + 0.5);
    }
    let (mut y0, mut y1) = span(&ys);
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    if figure.y_from_zero {
        y0 = 0.0;
    }
    let pad = if y1 - y0 < 1e-12 { y1.abs().max(1.0) * 0.05 } else { (y1 - y0) * 0.08 };
    ((x0 - x_pad, x1 + x_pad), (if figure.y_from_zero { 0.0 } else { y0 - pad }, y1 + pad))
}

/// Tick positions on the x axis: the K values run, or whole epochs.
fn x_ticks(figure: &Figure, (x0, x1): (f64, f64)) -> Vec<f64> {
    match figure.x_axis {
        XAxis::Log2K => {
            let mut ticks: Vec<f64> = figure
                .panels
                .iter()
                .flat_map(|p| &p.lines)
                .filter(|l| l.kind != LineKind::Horizontal)
                .flat_map(|l| l.points.iter().map(|p| p.0))
                .collect();
            ticks.sort_by(f64::total_cmp);
            ticks.dedup();
            ticks
        }
        XAxis::Epoch => {
            let (first, last) = (x0.ceil().max(0.0) as usize, x1.floor().max(0.0) as usize);
            let step = (last.saturating_sub(first) / 10).max(1);
            (first..=last).step_by(step).map(|e| e as f64).collect()
        }
        XAxis::Linear => round_ticks(x0, x1),
    }
}

/// About six ticks at multiples of 1, 2 or 5 times a power of ten.
fn round_ticks(low: f64, high: f64) -> Vec<f64> {
    let rough = (high - low) / 6.0;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|s| *s >= rough).unwrap_or(10.0 * power);
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, figure: &Figure) -> Result<(), String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| text(&e))?;
    // Shrink a long title until it fits (DejaVu Sans averages about 0.6 em per character).
    let fit = (f64::from(root.dim_in_pixel().0) - 24.0) / (0.6 * figure.title.chars().count().max(1) as f64);
    let titled = root.titled(&figure.title, (FAMILY, fit.clamp(12.0, 22.0)).into_font()).map_err(|e| text(&e))?;
    let width = titled.dim_in_pixel().0;
    let (plots, legend) = titled.split_horizontally(width.saturating_sub(LEGEND_WIDTH));
    let ((x0, x1), (y0, y1)) = ranges(figure);
    let ticks = x_ticks(figure, (x0, x1));
    let (rows, columns) = grid(figure);
    for (panel, area) in figure.panels.iter().zip(plots.split_evenly((rows, columns))) {
        let y_range = match figure.own_y {
            true => ranges(&Figure { panels: vec![panel.clone()], ..figure.clone() }).1,
            false => (y0, y1),
        };
        draw_panel(&area, figure, panel, (x0, x1), y_range, &ticks).map_err(|e| text(&e))?;
    }
    draw_legend(&legend, figure).map_err(|e| text(&e))?;
    root.present().map_err(|e| text(&e))
}

/// A linear f64 axis whose ticks sit exactly where we say (the K values run, whole
/// epochs), rather than at plotters' round numbers.
pub(crate) struct TickedAxis {
    pub start: f64,
    pub end: f64,
    pub ticks: Vec<f64>,
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, (low, high): (i32, i32)) -> i32 {
        let fraction = (value - self.start) / (self.end - self.start);
        low + (fraction * f64::from(high - low)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Bold points only: no light grid between the ticks.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.start..self.end
    }
}

pub(crate) type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    figure: &Figure,
    panel: &Panel,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    ticks: &[f64],
) -> DrawResult<DB> {
    let mut builder = ChartBuilder::on(area);
    builder.margin(14).x_label_area_size(50).y_label_area_size(70);
    if !panel.title.is_empty() {
        builder.caption(&panel.title, (FAMILY, 18));
    }
    let mut chart = builder.build_cartesian_2d(TickedAxis { start: x0, end: x1, ticks: ticks.to_vec() }, y0..y1)?;
    let x_axis = figure.x_axis;
    let x_step = ticks.windows(2).map(|w| w[1] - w[0]).next().unwrap_or(1.0);
    let x_decimals = (-x_step.log10().floor()).clamp(0.0, 4.0) as usize;
    let x_format = move |x: &f64| match x_axis {
        XAxis::Log2K => format!("{}", 2f64.powf(*x).round()),
        XAxis::Epoch => format!("{x:.0}"),
        XAxis::Linear => format!("{x:.x_decimals$}"),
    };
    // Enough decimals to tell the ticks apart, and no more.
    let decimals = (-((y1 - y0) / 8.0).log10().floor()).clamp(0.0, 4.0) as usize;
    let y_format = move |y: &f64| format!("{y:.decimals$}");
    chart
        .configure_mesh()
        .x_desc(figure.x_label.as_str())
        .y_desc(figure.y_label.as_str())
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .y_labels(8)
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 16))
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(TRANSPARENT)
        .draw()?;

    let cap = (x1 - x0) * 0.012;
    // Bands first, so that every line is drawn over them.
    for line in panel.lines.iter().filter(|l| l.band) {
        if let Some(band) = band_polygon(line) {
            chart.draw_series([Polygon::new(band, line.color.mix(0.15).filled())])?;
        }
    }
    for line in &panel.lines {
        let style = line.color.stroke_width(if methods_key(&line.label) == "glcan" { 3 } else { 2 });
        match line.kind {
            LineKind::Horizontal => {
                let y = line.points[0].1;
                chart.draw_series(DashedLineSeries::new([(x0, y), (x1, y)], 10, 6, style))?;
            }
            LineKind::Dashed => {
                chart.draw_series(DashedLineSeries::new(line.points.clone(), 10, 6, style))?;
            }
            LineKind::Markers => {
                let font = (FAMILY, 14).into_font().color(&line.color);
                for (i, &(x, y)) in line.points.iter().enumerate() {
                    chart.draw_series([Circle::new((x, y), 6, line.color.filled())])?;
                    if let Some(s) = line.spread.get(i).copied().flatten().filter(|s| *s > 0.0) {
                        chart.draw_series([PathElement::new(vec![(x, y - s), (x, y + s)], line.color.stroke_width(1))])?;
                    }
                    if let Some(text) = line.annotations.get(i) {
                        chart.draw_series([Text::new(text.clone(), (x + cap * 2.5, y), font.clone())])?;
                    }
                }
            }
            LineKind::Solid => {
                chart.draw_series(LineSeries::new(line.points.clone(), style))?;
                if line.points.len() <= 16 {
                    chart.draw_series(line.points.iter().map(|&p| Circle::new(p, 4, line.color.filled())))?;
                }
                for (&(x, y), spread) in line.points.iter().zip(&line.spread).filter(|_| !line.band) {
                    if let Some(s) = spread.filter(|s| *s > 0.0) {
                        let thin = line.color.stroke_width(1);
                        chart.draw_series([
                            PathElement::new(vec![(x, y - s), (x, y + s)], thin),
                            PathElement::new(vec![(x - cap, y - s), (x + cap, y - s)], thin),
                            PathElement::new(vec![(x - cap, y + s), (x + cap, y + s)], thin),
                        ])?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// The outline of `line`'s ± spread band: the upper edge left to right, the lower edge back.
/// `None` when fewer than two points have a spread (one seed: no band to draw).
fn band_polygon(line: &Line) -> Option<Vec<(f64, f64)>> {
    let with_spread: Vec<(f64, f64, f64)> =
        line.points.iter().zip(&line.spread).filter_map(|(&(x, y), s)| s.filter(|s| s.is_finite()).map(|s| (x, y, s))).collect();
    (with_spread.len() >= 2).then(|| {
        let upper = with_spread.iter().map(|&(x, y, s)| (x, y + s));
        let lower = with_spread.iter().rev().map(|&(x, y, s)| (x, y - s));
        upper.chain(lower).collect()
    })
}

/// Legend in its own column: one entry per distinct label, in panel order.
fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, figure: &Figure) -> DrawResult<DB> {
    let mut seen: Vec<&Line> = Vec::new();
    for line in figure.panels.iter().flat_map(|p| &p.lines) {
        if !seen.iter().any(|l| l.label == line.label) {
            seen.push(line);
        }
    }
    // Solid lines and markers first (the local methods), the dashed reference last.
    seen.sort_by_key(|l| !matches!(l.kind, LineKind::Solid | LineKind::Markers));
    let font = (FAMILY, 16).into_font().color(&BLACK);
    for (i, line) in seen.iter().enumerate() {
        let y = 60 + 30 * i as i32;
        let style = line.color.stroke_width(3);
        if line.kind == LineKind::Markers {
            area.draw(&Circle::new((28, y), 6, line.color.filled()))?;
        } else if line.kind == LineKind::Solid {
            area.draw(&PathElement::new(vec![(8, y), (48, y)], style))?;
            area.draw(&Circle::new((28, y), 4, line.color.filled()))?;
        } else {
            area.draw(&PathElement::new(vec![(8, y), (22, y)], style))?;
            area.draw(&PathElement::new(vec![(32, y), (48, y)], style))?;
        }
        area.draw(&Text::new(line.label.clone(), (56, y - 9), font.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::group_rows;
    use crate::test_rows::row;

    fn rows() -> Vec<ResultRow> {
        let mut rows = Vec::new();
        for seed in 0..2 {
            rows.push(row("e2e", 1, seed, 92.0 + seed as f64));
            for (method, base) in [("greedy-sl", 85.0), ("dgl", 88.0), ("infopro-contrast", 89.5), ("glcan", 91.0)] {
                for (i, k) in [2usize, 4, 8].into_iter().enumerate() {
                    rows.push(row(method, k, seed, base - 1.5 * i as f64 + 0.4 * seed as f64));
                }
            }
        }
        rows
    }

    #[test]
    fn figures_describe_methods_and_reference() {
        let group = &group_rows(&rows())[0];
        let figure = metric_vs_k_figure(group, Metric::TestError).unwrap();
        let labels: Vec<&str> = figure.panels[0].lines.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["E2E (K = 1)", "Greedy SL", "DGL", "InfoPro (Contrast)", "GLCAN"]);
        let glcan = &figure.panels[0].lines[4];
        assert_eq!(glcan.points[0], (1.0, 100.0 - 91.2));
        assert!((glcan.spread[0].unwrap() - (0.08f64).sqrt()).abs() < 1e-9);
        assert_eq!(x_ticks(&figure, ranges(&figure).0), vec![1.0, 2.0, 3.0]);
        assert!(metric_vs_k_figure(group, Metric::PsnrY).is_none());
    }

    #[test]
    fn png_has_content_and_svg_names_methods() {
        let dir = tempfile::tempdir().unwrap();
        let group = &group_rows(&rows())[0];
        let figure = metric_vs_k_figure(group, Metric::TestError).unwrap();
        let files = write_figure(&figure, &dir.path().join("error-vs-k")).unwrap();
        assert_eq!(files, vec![dir.path().join("error-vs-k.png"), dir.path().join("error-vs-k.svg")]);
        let image = image::open(&files[0]).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), (960, 560));
        let first = image.get_pixel(0, 0);
        assert!(image.pixels().any(|p| p != first), "the PNG is one colour");
        // Some of GLCAN's vermillion made it onto the canvas.
        assert!(image.pixels().any(|p| p.0 == [213, 94, 0]));
        let svg = std::fs::read_to_string(&files[1]).unwrap();
        for name in ["E2E (K = 1)", "Greedy SL", "DGL", "InfoPro (Contrast)", "GLCAN", "Test error (%)"] {
            assert!(svg.contains(name), "{name} missing from the SVG");
        }
    }

    #[test]
    fn epoch_panels_per_k_with_e2e_in_each() {
        let group = &group_rows(&rows())[0];
        let curve = |method: &str, k: usize, shift: f64| EpochCurve {
            method: method.into(),
            k,
            runs: 2,
            points: (1..=5).map(|e| (e, 60.0 + 6.0 * e as f64 - shift)).collect(),
            spread: vec![Some(1.5); 5],
        };
        let curves = vec![curve("e2e", 1, 0.0), curve("dgl", 2, 3.0), curve("glcan", 2, 1.0), curve("dgl", 4, 5.0), curve("glcan", 4, 2.0)];
        let figure = epoch_figure(group, &curves, "Test accuracy (%)").unwrap();
        assert_eq!(figure.panels.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), ["K = 2", "K = 4"]);
        assert!(figure.panels.iter().all(|p| p.lines.iter().any(|l| l.label == "E2E" && l.kind == LineKind::Dashed)));
        let dir = tempfile::tempdir().unwrap();
        let files = write_figure(&figure, &dir.path().join("curves")).unwrap();
        let image = image::open(&files[0]).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), (2 * 540 + LEGEND_WIDTH, 60 + 380));
        let glcan = figure.panels[0].lines.iter().find(|l| l.label == "GLCAN").unwrap();
        assert!(glcan.band && glcan.spread == vec![Some(1.5); 5], "per-epoch curves carry a ± std band");
    }

    #[test]
    fn a_band_runs_along_the_upper_edge_and_back_along_the_lower() {
        let line = |spread: Vec<Option<f64>>| Line {
            label: "GLCAN".into(),
            color: BLACK,
            kind: LineKind::Solid,
            points: vec![(1.0, 10.0), (2.0, 20.0), (3.0, 30.0)],
            spread,
            annotations: Vec::new(),
            band: true,
        };
        // The middle point has one seed: the band skips it.
        let band = band_polygon(&line(vec![Some(1.0), None, Some(2.0)])).unwrap();
        assert_eq!(band, vec![(1.0, 11.0), (3.0, 32.0), (3.0, 28.0), (1.0, 9.0)]);
        assert_eq!(band_polygon(&line(vec![Some(1.0), None, None])), None, "one point is no band");
        assert_eq!(band_polygon(&line(vec![None; 3])), None, "one seed: no band");
    }
}
