//! The chart of `reports compare`: one panel per task metric, one for peak memory and one
//! for throughput; in each, a bar per configuration of current − baseline, with the
//! tolerance band drawn behind it as a grey box and failing configurations marked in red.
//! Like the report's charts, it is described as plain data first ([`DeltaChart`]), then
//! drawn to PNG and SVG.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::compare::{Comparison, ConfigComparison};
use crate::error::Error;
use crate::metric::Metric;
use crate::plots::{method_color, write_chart, Chart, DrawResult, TickedAxis, FAMILY};

const FAIL_RED: RGBColor = RGBColor(200, 0, 0);
const BAND_GREY: RGBColor = RGBColor(222, 222, 222);

/// One configuration's bar.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaBar {
    pub label: String,
    pub color: RGBColor,
    /// current − baseline in the panel's unit; `None` when one side has no value.
    pub value: Option<f64>,
    /// Half-width of the tolerance band around zero; `None` where nothing is judged.
    pub band: Option<f64>,
    pub failed: bool,
}

/// One quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaPanel {
    pub title: String,
    pub y_label: String,
    pub bars: Vec<DeltaBar>,
}

/// The whole chart: panels side by side, the same configurations in the same order.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaChart {
    pub title: String,
    pub panels: Vec<DeltaPanel>,
}

/// The chart of `comparison`; `None` when the baseline has no configuration.
pub fn delta_chart(comparison: &Comparison) -> Option<DeltaChart> {
    let configs = &comparison.configs;
    if configs.is_empty() {
        return None;
    }
    // Name the table too when the check spans several (suites, networks, presets).
    let several = configs.iter().any(|c| c.key.group != configs[0].key.group);
    let label = |c: &ConfigComparison| {
        if several {
            format!("{} {} {}", c.key.group.suite, c.key.group.network, c.key.label())
        } else {
            c.key.label()
        }
    };
    let bar = |c: &ConfigComparison, value: Option<f64>, band: Option<f64>, failed: bool| DeltaBar {
        label: label(c),
        color: method_color(&c.key.method),
        value,
        band,
        failed,
    };

    let mut panels = Vec::new();
    let metrics: Vec<Metric> =
        Metric::ALL.into_iter().filter(|m| configs.iter().any(|c| c.metrics.iter().any(|k| k.metric == *m))).collect();
    for metric in metrics {
        let bars = configs
            .iter()
            .map(|c| {
                let check = c.metrics.iter().find(|k| k.metric == metric);
                bar(c, check.map(|k| k.delta()), check.map(|k| k.band), check.is_some_and(|k| k.regressed()) || !c.problems.is_empty())
            })
            .collect();
        let unit = if metric.unit() == "%" { "points".to_string() } else { metric.unit().to_string() };
        let y_label = if unit.is_empty() { format!("Δ {}", metric.name()) } else { format!("Δ {} ({unit})", metric.name()) };
        panels.push(DeltaPanel { title: metric.name().to_string(), y_label, bars });
    }
    if configs.iter().any(|c| c.memory.is_some()) {
        let bars = configs
            .iter()
            .map(|c| {
                let memory = c.memory.as_ref();
                bar(
                    c,
                    memory.map(|m| 100.0 * (m.ratio() - 1.0)),
                    memory.map(|m| 100.0 * m.tolerance),
                    memory.is_some_and(|m| m.outside()) || !c.problems.is_empty(),
                )
            })
            .collect();
        panels.push(DeltaPanel { title: "Peak memory per step".into(), y_label: "Change (%)".into(), bars });
    }
    if configs.iter().any(|c| c.speed_ratio.is_some()) {
        let bars = configs.iter().map(|c| bar(c, c.speed_ratio.map(|r| 100.0 * (r - 1.0)), None, false)).collect();
        panels.push(DeltaPanel { title: "Throughput (not judged)".into(), y_label: "Change (%)".into(), bars });
    }
    let verdict = if comparison.passed() { "passed" } else { "FAILED" };
    Some(DeltaChart { title: format!("Regression check {verdict}: current − baseline per configuration (grey: tolerance band)"), panels })
}

/// Draws `chart` to `<stem>.png` and `<stem>.svg` and returns both paths.
pub fn write_delta_chart(chart: &DeltaChart, stem: &Path) -> Result<Vec<PathBuf>, Error> {
    write_chart(chart, stem)
}

impl DeltaChart {
    fn panel_width(&self) -> u32 {
        let bars = self.panels.first().map_or(1, |p| p.bars.len()) as u32;
        (150 + 110 * bars).max(440)
    }
}

impl Chart for DeltaChart {
    fn size(&self) -> (u32, u32) {
        (self.panels.len().max(1) as u32 * self.panel_width(), 540)
    }

    fn draw_on<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String> {
        let text = |e: &dyn std::fmt::Display| e.to_string();
        root.fill(&WHITE).map_err(|e| text(&e))?;
        let fit = (f64::from(root.dim_in_pixel().0) - 24.0) / (0.6 * self.title.chars().count().max(1) as f64);
        let titled = root.titled(&self.title, (FAMILY, fit.clamp(12.0, 22.0)).into_font()).map_err(|e| text(&e))?;
        for (panel, area) in self.panels.iter().zip(titled.split_evenly((1, self.panels.len().max(1)))) {
            draw_panel(&area, panel).map_err(|e| text(&e))?;
        }
        root.present().map_err(|e| text(&e))
    }
}

/// The y range: every bar and band, and zero, with a margin for the FAIL labels.
fn y_range(panel: &DeltaPanel) -> (f64, f64) {
    let mut low: f64 = 0.0;
    let mut high: f64 = 0.0;
    for bar in &panel.bars {
        for y in bar.value.into_iter().chain(bar.band).chain(bar.band.map(|b| -b)) {
            low = low.min(y);
            high = high.max(y);
        }
    }
    if high - low < 1e-9 {
        (low, high) = (-1.0, 1.0);
    }
    let pad = (high - low) * 0.12;
    (low - pad, high + pad)
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &DeltaPanel) -> DrawResult<DB> {
    let n = panel.bars.len();
    let (y0, y1) = y_range(panel);
    let mut builder = ChartBuilder::on(area);
    builder.margin(14).x_label_area_size(40).y_label_area_size(70).caption(&panel.title, (FAMILY, 18));
    let ticks: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let mut chart = builder.build_cartesian_2d(TickedAxis { start: -0.6, end: n as f64 - 0.4, ticks }, y0..y1)?;
    let labels: Vec<String> = panel.bars.iter().map(|b| b.label.clone()).collect();
    let x_format = move |x: &f64| labels.get(x.round().max(0.0) as usize).cloned().unwrap_or_default();
    let decimals = (-((y1 - y0) / 8.0).log10().floor()).clamp(0.0, 4.0) as usize;
    let y_format = move |y: &f64| format!("{y:.decimals$}");
    chart
        .configure_mesh()
        .y_desc(panel.y_label.as_str())
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .y_labels(8)
        .label_style((FAMILY, if n > 4 { 12 } else { 14 }))
        .axis_desc_style((FAMILY, 16))
        .bold_line_style(RGBColor(235, 235, 235))
        .light_line_style(TRANSPARENT)
        .draw()?;

    let x = |i: usize, offset: f64| i as f64 + offset;
    for (i, bar) in panel.bars.iter().enumerate() {
        if let Some(band) = bar.band {
            chart.draw_series([Rectangle::new([(x(i, -0.42), -band), (x(i, 0.42), band)], BAND_GREY.filled())])?;
        }
    }
    chart.draw_series([PathElement::new(vec![(-0.6, 0.0), (n as f64 - 0.4, 0.0)], BLACK.stroke_width(1))])?;
    let font = (FAMILY, 14).into_font();
    for (i, bar) in panel.bars.iter().enumerate() {
        match bar.value {
            Some(value) => {
                chart.draw_series([Rectangle::new([(x(i, -0.28), 0.0), (x(i, 0.28), value)], bar.color.filled())])?;
                // A zero change still shows: a thick stroke at the bar's end.
                chart.draw_series([PathElement::new(vec![(x(i, -0.28), value), (x(i, 0.28), value)], bar.color.stroke_width(3))])?;
                if bar.failed {
                    chart.draw_series([Rectangle::new([(x(i, -0.3), 0.0), (x(i, 0.3), value)], FAIL_RED.stroke_width(3))])?;
                }
            }
            None => {
                let color = if bar.failed { FAIL_RED } else { RGBColor(120, 120, 120) };
                chart.draw_series([Text::new("no value", (x(i, -0.22), (y1 - y0) * 0.04), font.clone().color(&color))])?;
            }
        }
        if bar.failed {
            let top = y1 - (y1 - y0) * 0.02;
            chart.draw_series([Text::new("FAIL", (x(i, -0.12), top), font.clone().color(&FAIL_RED))])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{compare, Tolerances};
    use crate::test_rows::row;
    use glcan_store::ResultRow;

    fn rows(glcan_accuracy: f64) -> Vec<ResultRow> {
        let mut rows = Vec::new();
        for seed in 0..2 {
            rows.push(row("e2e", 1, seed, 80.0 + seed as f64));
            rows.push(row("glcan", 2, seed, glcan_accuracy + seed as f64));
        }
        rows
    }

    #[test]
    fn bars_carry_deltas_bands_and_failures() {
        let comparison = compare(&rows(78.0), &rows(75.0), &Tolerances::default());
        let chart = delta_chart(&comparison).unwrap();
        let titles: Vec<&str> = chart.panels.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["Test error", "Peak memory per step", "Throughput (not judged)"]);
        let error = &chart.panels[0];
        assert_eq!(error.bars.iter().map(|b| b.label.as_str()).collect::<Vec<_>>(), ["E2E K = 1", "GLCAN K = 2"]);
        assert_eq!(error.bars[1].value, Some(3.0));
        // Seeds 1 point apart: pooled std 0.71, band max(2 × 0.71, 0.5).
        assert!((error.bars[1].band.unwrap() - 2f64.sqrt()).abs() < 1e-9);
        assert_eq!(error.bars.iter().map(|b| b.failed).collect::<Vec<_>>(), [false, true]);
        assert_eq!(chart.panels[1].bars[1].band, Some(1.0));
        assert!(chart.panels[2].bars.iter().all(|b| b.band.is_none() && !b.failed));
        assert!(chart.title.contains("FAILED"));
    }

    #[test]
    fn png_and_svg_are_drawn() {
        let comparison = compare(&rows(78.0), &rows(75.0), &Tolerances::default());
        let chart = delta_chart(&comparison).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files = write_delta_chart(&chart, &dir.path().join("deltas")).unwrap();
        let image = image::open(&files[0]).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), chart.size());
        assert!(image.pixels().any(|p| p.0 == [FAIL_RED.0, FAIL_RED.1, FAIL_RED.2]), "the failing bar is marked");
        assert!(image.pixels().any(|p| p.0 == [BAND_GREY.0, BAND_GREY.1, BAND_GREY.2]), "the band is drawn");
        let svg = std::fs::read_to_string(&files[1]).unwrap();
        for text in ["GLCAN K = 2", "E2E K = 1", "FAIL", "Peak memory per step", "Δ Test error (points)"] {
            assert!(svg.contains(text), "{text} missing from the SVG");
        }
        assert!(delta_chart(&compare(&[], &[], &Tolerances::default())).is_none());
    }
}
