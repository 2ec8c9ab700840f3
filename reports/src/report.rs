//! `reports build`: one results CSV in, one folder out holding `README.md` (every table,
//! the charts embedded by relative path, the command that made it) and the charts as PNG
//! and SVG. Every file is written atomically.

use std::path::{Path, PathBuf};

use crate::crops::crop_grid;
use crate::curves::group_curves;
use crate::error::Error;
use crate::group::{by_setting, group_rows, Group};
use crate::metric::Metric;
use crate::plots::{epoch_figure, memory_vs_k_figure, metric_vs_k_figure, write_figure, Figure};
use crate::tables::{escape, failed_list, memory_tables, metric_table, throughput_tables, ReportContext};
use crate::validate::read_results;
use glcan_store::write_atomic;
use glcan_store::{ResultRow, RunStatus};

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

/// Reads the results CSV at `results` and writes the report into `out` (created if
/// needed). `invocation` is the command line that asked for it, quoted in the README so the
/// report can be rebuilt. Run folders in the rows are relative to the CSV's folder. A
/// file with a row that cannot be used is an error naming every such row, and nothing is
/// written (see [`crate::validate`]).
pub fn build(results: &Path, out: &Path, context: &ReportContext, invocation: &str) -> Result<Built, Error> {
    let rows = read_results(results)?;
    std::fs::create_dir_all(out).map_err(|source| Error::Io { path: out.to_path_buf(), source })?;
    // The run folders the rows name are relative to the grid's out folder.
    let results_dir =
        if results.is_dir() { results } else { results.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")) };
    let failed = rows.iter().filter(|r| r.status == RunStatus::Failed).count();
    let groups = group_rows(&rows);
    let mut built = Built { readme: out.join("README.md"), runs: rows.len(), failed, ..Built::default() };

    let mut readme = header(results, context, invocation, &rows, groups.len());
    for group in &groups {
        readme.push_str(&group_section(group, results_dir, out, context, &mut built)?);
    }
    write_atomic(&built.readme, readme.as_bytes())?;
    Ok(built)
}

fn header(results: &Path, context: &ReportContext, invocation: &str, rows: &[ResultRow], groups: usize) -> String {
    let mut text = String::from("# Results report\n\n");
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let failed = rows.iter().filter(|r| r.status == RunStatus::Failed).count();
    text.push_str(&format!(
        "Built by `{}` from `{}`: {} ({} finished, {} failed) in {}.\n\n",
        invocation.trim(),
        results.display(),
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

fn group_section(group: &Group, results_dir: &Path, out: &Path, context: &ReportContext, built: &mut Built) -> Result<String, Error> {
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
    }
    if let Some(tables) = throughput_tables(group, context) {
        text.push_str(&format!("### Training throughput\n\n{tables}"));
    }
    let mut warnings = Vec::new();
    if let Some(&primary) = metrics.first() {
        let (column, label, stem) = primary.epoch_column();
        let curves = group_curves(group, results_dir, column);
        if let Some(figure) = epoch_figure(group, &curves.curves, label) {
            text.push_str(&format!("### {label} per epoch\n\nOn the held-out test set after each epoch, mean over seeds; E2E dashed.\n\n"));
            text.push_str(&figure_markdown(&figure, &out.join(format!("{slug}-{stem}-vs-epoch")), built)?);
        }
        warnings = curves.warnings;
    }
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
