//! `reports build`: one results CSV in, one folder out holding `README.md` (every table,
//! the charts embedded by relative path, the command that made it), the charts as PNG
//! and SVG, and `source/`, the results and run files it was rendered from. Every file is
//! written atomically.

use std::path::{Path, PathBuf};

use crate::crops::crop_grid;
use crate::curves::group_curves;
use crate::error::Error;
use crate::group::{by_setting, group_rows, Group, Setting};
use crate::metric::Metric;
use crate::plots::{epoch_figure, memory_vs_k_figure, metric_vs_k_figure, throughput_vs_k_figure, tradeoff_figure, write_figure, Figure};
use crate::sources::{self, Manifest, SOURCE_DIR};
use crate::tables::{escape, failed_list, memory_tables, metric_table, training_throughput_tables, ReportContext};
use crate::validate::read_results;
use glcan_store::write_atomic;
use glcan_store::{ResultRow, RunStatus, SpeedRow};

/// What a build wrote, and what it had to leave out.
#[derive(Debug, Clone, Default)]
pub struct Built {
    pub readme: PathBuf,
    /// PNG and SVG files, in the order the README shows them.
    pub images: Vec<PathBuf>,
    /// Lines also printed in the README's warning sections (e.g. a missing metrics.csv).
    pub warnings: Vec<String>,
    pub runs: usize,
    pub failed: usize,
}

/// Reads the results at `results` and writes the report into `out` (created if needed).
/// `results` is either fresh results (a CSV, or a grid's folder with its shards), which are
/// first copied with the run files the report reads into `<out>/source/`
/// ([`crate::sources::snapshot`]), or such a sources folder itself, the committed copy a
/// report is rebuilt from. Either way the README is rendered from the sources folder
/// alone, so rebuilding gives the same bytes. A file with a row that cannot be used is an
/// error naming every such row, and nothing is written (see [`crate::validate`]).
pub fn build(results: &Path, out: &Path, context: &ReportContext) -> Result<Built, Error> {
    std::fs::create_dir_all(out).map_err(|source| Error::Io { path: out.to_path_buf(), source })?;
    let sources = if sources::is_sources(results) { sources::open(results, context)? } else { sources::snapshot(results, out, context)? };
    let rows = read_results(&sources.results())?;
    let speed = crate::speed::read_beside(&sources.dir)?;
    let context = sources.manifest.context();
    let failed = rows.iter().filter(|r| r.status == RunStatus::Failed).count();
    let groups = group_rows(&rows);
    let mut built = Built { readme: out.join("README.md"), runs: rows.len(), failed, ..Built::default() };

    let mut readme = header(&sources.manifest, &context, &rows, groups.len());
    for group in &groups {
        readme.push_str(&group_section(group, &speed, &sources.dir, out, &context, &mut built)?);
    }
    write_atomic(&built.readme, readme.as_bytes())?;
    Ok(built)
}

fn header(manifest: &Manifest, context: &ReportContext, rows: &[ResultRow], groups: usize) -> String {
    let mut text = String::from("# Results report\n\n");
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let failed = rows.iter().filter(|r| r.status == RunStatus::Failed).count();
    text.push_str(&format!(
        "Built by `{}` from `{SOURCE_DIR}/results.csv`, {}, with the files of each run that the report reads: {} ({} finished, {} failed) in {}.\n\n",
        manifest.rebuild_command(),
        manifest.origin_in_words(),
        plural(rows.len(), "run"),
        rows.len() - failed,
        failed,
        plural(groups, "group")
    ));
    let command =
        if context.command.trim().is_empty() { "a command not stated".to_string() } else { format!("`{}`", context.command.trim()) };
    let machine = if context.machine.trim().is_empty() { String::new() } else { format!(" on {}", escape(context.machine.trim())) };
    text.push_str(&format!("The results were produced by {command}{machine}. "));
    text.push_str(
        "Every number below is derived from that CSV, the source of truth; each table starts with the command, preset, \
         commit(s) and machine of its runs. Failed runs are never averaged in; each table counts them.\n\n",
    );
    if rows.is_empty() {
        text.push_str("The results file holds no runs yet.\n");
    }
    text
}

fn group_section(
    group: &Group,
    speed: &[SpeedRow],
    results_dir: &Path,
    out: &Path,
    context: &ReportContext,
    built: &mut Built,
) -> Result<String, Error> {
    let slug = group.key.slug();
    let mut text = format!("## {}\n\n", group.key.title());
    let metrics = Metric::present_in(&group.ok);
    for &metric in &metrics {
        if let Some(table) = metric_table(group, metric, context) {
            text.push_str(&format!("### {}\n\n{table}", metric.heading()));
            if let Some(figure) = metric_vs_k_figure(group, metric) {
                text.push_str(&figure_markdown(&figure, &out.join(format!("{slug}-{}-vs-k", metric.slug())), built)?);
            }
        }
    }
    if group.key.suite == "sr" {
        if let Some((path, grid)) = crop_grid(group, results_dir, &out.join(format!("{slug}-crops")))? {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let stems: Vec<String> = grid.images.iter().map(|n| escape(n.trim_end_matches(".png"))).collect();
            text.push_str(&format!(
                "### Crops

![crops]({name})

Left to right: {}. One test image per row ({}): the most detailed window of its HR image, the same for every column, enlarged {}x (nearest neighbour); the trained columns are the lowest seed.

",
                grid.columns.iter().map(|c| escape(c)).collect::<Vec<_>>().join(" · "),
                stems.join(", "),
                grid.zoom
            ));
            built.images.push(path);
        }
    }
    if let Some(tables) = memory_tables(group, context) {
        text.push_str(&format!("### Peak memory per training step\n\n{tables}"));
        let measured: Vec<ResultRow> = group.ok.iter().filter(|r| r.step_peak_bytes > 0).cloned().collect();
        let settings = by_setting(&measured);
        for (setting, rows) in &settings {
            let stem = if settings.len() == 1 { format!("{slug}-memory-vs-k") } else { format!("{slug}-memory-vs-k-{}", setting.slug()) };
            if let Some(figure) = memory_vs_k_figure(group, setting, rows) {
                text.push_str(&figure_markdown(&figure, &out.join(stem), built)?);
            }
        }
        if let Some(&primary) = metrics.first() {
            for (setting, rows) in &settings {
                let stem = match settings.len() {
                    1 => format!("{slug}-{}-vs-memory", primary.slug()),
                    _ => format!("{slug}-{}-vs-memory-{}", primary.slug(), setting.slug()),
                };
                if let Some(figure) = tradeoff_figure(group, primary, setting, rows) {
                    text.push_str(&format!(
                        "### {} against peak memory\n\nEach method at each K: mean over seeds (bars: ± sample std of the metric), peak memory per training step on the x axis; the grey dashed line joins the configurations no other beats on both.\n\n",
                        primary.name()
                    ));
                    text.push_str(&figure_markdown(&figure, &out.join(stem), built)?);
                }
            }
        }
    }
    if let Some(table) = crate::speed::speed_table(group, speed, context) {
        text.push_str(&format!("### Training throughput\n\n{table}"));
        let timed = crate::speed::timed_rows(group, speed);
        let rows: Vec<&ResultRow> = timed.iter().collect();
        if let Some(figure) = throughput_vs_k_figure(group, &rows, &Setting::of(&timed[0])) {
            text.push_str(&figure_markdown(&figure, &out.join(format!("{slug}-throughput-vs-k")), built)?);
        }
    } else if let Some(tables) = training_throughput_tables(group, context) {
        text.push_str(&format!("### Training throughput (recorded while training, not compared)\n\n{tables}"));
    }
    let mut warnings = Vec::new();
    if let Some(&primary) = metrics.first() {
        let (column, label, stem, scale) = primary.epoch_column();
        let mut curves = group_curves(group, results_dir, column);
        for curve in &mut curves.curves {
            curve.points.iter_mut().for_each(|(_, value)| *value *= scale);
            curve.spread.iter_mut().flatten().for_each(|std| *std *= scale);
        }
        if let Some(figure) = epoch_figure(group, &curves.curves, label) {
            let band = if curves.curves.iter().any(|c| c.spread.iter().any(Option::is_some)) {
                ", shaded ± one sample standard deviation"
            } else {
                ""
            };
            text.push_str(&format!(
                "### {label} per epoch\n\nOn the held-out test set after each epoch, mean over seeds{band}; E2E dashed.\n\n"
            ));
            text.push_str(&figure_markdown(&figure, &out.join(format!("{slug}-{stem}-vs-epoch")), built)?);
        }
        warnings = curves.warnings;
    }
    let (losses, loss_warnings) = crate::module_losses::module_loss_figure(group, results_dir);
    if let Some(figure) = losses {
        text.push_str("### Training loss of each local module\n\nEach module's local loss (its aux net's, or the real head's for the last), the mean over each epoch's steps and over seeds; one panel per method and K, each with its own scale (the methods' losses are different quantities).\n\n");
        text.push_str(&figure_markdown(&figure, &out.join(format!("{slug}-module-losses")), built)?);
    }
    warnings.extend(loss_warnings);
    if let Some(section) = crate::pictures::predictions_section(group, results_dir, out, built)? {
        text.push_str(&section);
    }
    if let Some(list) = failed_list(group) {
        text.push_str(&format!("### Failed runs\n\n{list}\n"));
    }
    if !warnings.is_empty() {
        text.push_str("### Warnings\n\n");
        for warning in &warnings {
            text.push_str(&format!("- {}\n", escape(warning)));
        }
        text.push('\n');
        built.warnings.extend(warnings.iter().map(|w| format!("{}: {w}", group.key.title())));
    }
    Ok(text)
}

/// Writes the figure and returns its Markdown: the PNG inline, the SVG linked.
fn figure_markdown(figure: &Figure, stem: &Path, built: &mut Built) -> Result<String, Error> {
    let files = write_figure(figure, stem)?;
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let markdown = format!(
        "![{}]({}) ([SVG]({}))\n\n",
        escape(&figure.title).replace('[', "\\[").replace(']', "\\]"),
        name(&files[0]),
        name(&files[1])
    );
    built.images.extend(files);
    Ok(markdown)
}
