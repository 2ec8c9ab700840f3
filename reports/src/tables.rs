//! Markdown tables derived from the result rows of one group, in the shapes of InfoPro's
//! tables: the task metric per method × K (Table 2), peak memory with the saving against
//! E2E (Table 3), and throughput with the overhead against E2E.
//!
//! Every table is preceded by a source line naming the command, preset, commit(s) and
//! machine that produced its runs, and followed by notes saying what the numbers are and
//! which runs failed (those are never averaged in).

use std::collections::BTreeSet;

use crate::group::{by_setting, cells, methods_key, methods_of, Group, Setting};
use crate::methods;
use crate::metric::Metric;
use crate::published::published_for;
use crate::summary::Summary;
use glcan_store::ResultRow;

/// What the rows cannot say about themselves: how they were produced, and on what machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportContext {
    /// The command that produced the results CSV, e.g. `make reproduce`.
    pub command: String,
    /// The machine in words, e.g. `2-core x86_64 VM, no GPU`.
    pub machine: String,
}

/// Placeholder for a cell without runs.
const EMPTY: &str = "–";

/// Saving of `value` against the E2E `reference`, in %: `(1 − value / reference) × 100`.
/// Positive when the method needs less than E2E.
pub fn saving_percent(reference: f64, value: f64) -> f64 {
    (1.0 - value / reference) * 100.0
}

/// Time overhead against E2E from throughputs, in %: time per image grows by
/// `(reference / value − 1) × 100`. Positive when the method is slower than E2E.
pub fn overhead_percent(reference_images_per_s: f64, images_per_s: f64) -> f64 {
    (reference_images_per_s / images_per_s - 1.0) * 100.0
}

/// `*Source:* `make reproduce` · preset `quick` · commit `abc1234` · machine: ... · 12 runs`
pub fn source_line(rows: &[&ResultRow], context: &ReportContext) -> String {
    let command =
        if context.command.trim().is_empty() { "command not stated".to_string() } else { format!("`{}`", context.command.trim()) };
    let distinct = |f: fn(&ResultRow) -> String| rows.iter().map(|r| f(r)).collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>();
    let presets = distinct(|r| r.preset.clone());
    let commits = distinct(|r| if r.git_commit.is_empty() { "unknown".into() } else { r.git_commit.clone() });
    let stations = distinct(|r| format!("device {}, {} threads", r.device, r.threads));
    let quoted = |items: &[String]| items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ");
    let mut machine = String::new();
    if !context.machine.trim().is_empty() {
        machine.push_str(context.machine.trim());
        machine.push_str(", ");
    }
    machine.push_str(&stations.join("; "));
    format!(
        "*Source:* {command} · preset {} · {} {} · machine: {} · {} run{}",
        quoted(&presets),
        if commits.len() == 1 { "commit" } else { "commits" },
        quoted(&commits),
        escape(&machine),
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    )
}

/// The task-metric table of `group` (InfoPro Table 2 shape): rows are methods, E2E first;
/// columns are K; cells are mean ± sample std over seeds; the best local method per K in
/// bold. `None` when no finished run measured `metric`.
pub fn metric_table(group: &Group, metric: Metric, context: &ReportContext) -> Option<String> {
    let rows: Vec<&ResultRow> = group.ok.iter().filter(|r| metric.value(r).is_some()).collect();
    if rows.is_empty() {
        return None;
    }
    let ks: Vec<usize> = rows.iter().map(|r| r.k).collect::<BTreeSet<_>>().into_iter().collect();
    let methods = methods_of(rows.iter().copied());
    let cells = cells(rows.iter().copied(), |r| metric.value(r));
    let summary = |method: &str, k: usize| cells.get(&(methods_key(method), k)).and_then(|v| Summary::of(v));
    let rounded = |s: &Summary| format!("{:.*}", metric.decimals(), s.mean).parse::<f64>().unwrap_or(s.mean);

    // The best local method per K, compared as printed so that ties print as ties.
    let best: Vec<Option<f64>> = ks
        .iter()
        .map(|&k| {
            let local: Vec<f64> = methods
                .iter()
                .filter(|m| !methods::is_reference(m) && !methods::is_untrained(m))
                .filter_map(|m| summary(m, k))
                .map(|s| rounded(&s))
                .collect();
            if local.len() < 2 {
                return None; // a lone method is not "best" of anything
            }
            local.into_iter().reduce(|a, b| if metric.better(b, a) { b } else { a })
        })
        .collect();

    let mut body = Vec::new();
    for method in &methods {
        let mut line = vec![escape(&methods::label(method))];
        for (&k, best) in ks.iter().zip(&best) {
            line.push(match summary(method, k) {
                None => EMPTY.to_string(),
                Some(s) if !methods::is_reference(method) && !methods::is_untrained(method) && *best == Some(rounded(&s)) => {
                    format!("**{}**", s.format(metric.decimals()))
                }
                Some(s) => s.format(metric.decimals()),
            });
        }
        body.push(line);
    }
    let published = published_for(&group.key, metric).filter(|p| p.rows.iter().any(|(m, _)| ks.iter().any(|&k| p.value(m, k).is_some())));
    if let Some(published) = published {
        for (method, _) in published.rows {
            let values: Vec<Option<f64>> = ks.iter().map(|&k| published.value(method, k)).collect();
            if values.iter().all(Option::is_none) {
                continue;
            }
            let mut line = vec![format!("*{} — {}*", methods::label(method), published.label)];
            line.extend(values.iter().map(|v| v.map_or(EMPTY.to_string(), |v| format!("*{:.*}*", metric.decimals(), v))));
            body.push(line);
        }
    }

    let mut header = vec!["Method".to_string()];
    header.extend(ks.iter().map(|k| format!("K = {k}")));
    let counts: Vec<usize> = cells.values().map(Vec::len).collect();
    let (low, high) = (counts.iter().min().copied().unwrap_or(0), counts.iter().max().copied().unwrap_or(0));
    let seeds = if low == high { format!("n = {low} per cell") } else { format!("n = {low}–{high} per cell") };
    let better = match metric.direction() {
        crate::metric::Direction::LowerIsBetter => "lower is better",
        crate::metric::Direction::HigherIsBetter => "higher is better",
    };
    let mut notes = vec![format!(
        "{}; mean ± sample std over seeds ({seeds}; `(n=1)` marks a single run); {better}; **bold**: best local method per K (E2E is the reference, not ranked).",
        metric.definition()
    )];
    if group.key.suite == "sr" && methods.iter().any(|m| methods_key(m) == "dgl") {
        notes.push("DGL, in super-resolution: the plain local baseline, whose aux nets are conv3x3 + ReLU layers and an up-sampler head (no pooling, no classifier).".to_string());
    }
    if methods.iter().any(|m| methods::is_untrained(m)) {
        notes.push(
            "Bicubic: MATLAB-exact bicubic up-scaling of the same LR test inputs, nothing trained (listed at K = 1, not ranked)."
                .to_string(),
        );
    }
    if let Some(published) = published {
        notes.push(format!("Rows in italics are published means, not our runs: {}.", published.source));
    }
    notes.extend(failed_note(group));
    Some(assemble(&source_line(&rows, context), &header, &body, &notes))
}

/// Bytes per MiB, the one memory unit of tables, charts and README.
pub const MIB: f64 = 1024.0 * 1024.0;

/// Peak memory per training step in MiB (`step_peak_bytes / 2^20`, mean over seeds) per
/// method × K, with the saving against E2E of the same batch size, device, dtype and
/// threads (InfoPro Table 3 shape). One table per such setting; `None` when no run
/// measured memory.
pub fn memory_tables(group: &Group, context: &ReportContext) -> Option<String> {
    let measured: Vec<ResultRow> = group.ok.iter().filter(|r| r.step_peak_bytes > 0).cloned().collect();
    if measured.is_empty() {
        return None;
    }
    let tables = by_setting(&measured)
        .into_iter()
        .map(|(setting, rows)| {
            let note = format!(
                "Peak bytes held by tensors during one training step, MiB (2²⁰ bytes), mean over seeds, {}; in brackets the change against E2E of the same setting, (peak / peak of E2E − 1) × 100, so −40.0% is a 40.0% saving.",
                setting.describe()
            );
            let change: fn(f64, f64) -> f64 = |reference, value| -saving_percent(reference, value);
            against_reference(group, &setting, &rows, context, |r| r.step_peak_bytes as f64 / MIB, 1, note, Some(change))
        })
        .collect::<Vec<_>>();
    Some(tables.join("\n"))
}

/// Training throughput in images/s as the runs recorded it while training, mean over seeds,
/// per method × K, without any comparison: runs may have shared the CPU with each other or
/// anything else, so their speeds measure the machine's load as much as the method (a
/// speed pass gives the figures that are compared, see [`crate::speed`]). `None` when no
/// run recorded it.
pub fn training_throughput_tables(group: &Group, context: &ReportContext) -> Option<String> {
    let measured: Vec<ResultRow> = group.ok.iter().filter(|r| r.images_per_s.is_finite() && r.images_per_s > 0.0).cloned().collect();
    if measured.is_empty() {
        return None;
    }
    let tables = by_setting(&measured)
        .into_iter()
        .map(|(setting, rows)| {
            let note = format!(
                "Training images per second after warm-up as each run recorded it, mean over seeds, {}. **Not a comparison**: these runs were not timed in one controlled pass and may have shared the CPU, so no overhead against E2E is given; run `grid --speed-pass` for comparable figures.",
                setting.describe()
            );
            against_reference(group, &setting, &rows, context, |r| r.images_per_s, throughput_decimals(&rows), note, None)
        })
        .collect::<Vec<_>>();
    Some(tables.join("\n"))
}

/// Whole images/s, or one decimal when some configuration is slower than 10 images/s.
pub fn throughput_decimals(rows: &[&ResultRow]) -> usize {
    let slowest = rows.iter().map(|r| r.images_per_s).fold(f64::INFINITY, f64::min);
    if slowest >= 10.0 {
        0
    } else {
        1
    }
}

/// A method × K table of `value` with, for local methods, `relative(reference, value)`
/// in brackets, where the reference is E2E's mean in the same setting.
pub fn against_reference(
    group: &Group,
    setting: &Setting,
    rows: &[&ResultRow],
    context: &ReportContext,
    value: impl Fn(&ResultRow) -> f64,
    decimals: usize,
    note: String,
    relative: Option<fn(f64, f64) -> f64>,
) -> String {
    let ks: Vec<usize> = rows.iter().map(|r| r.k).collect::<BTreeSet<_>>().into_iter().collect();
    let methods = methods_of(rows.iter().copied());
    let cells = cells(rows.iter().copied(), |r| Some(value(r)));
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
    // E2E is one module whatever K says; pool all its runs of this setting.
    let reference: Vec<f64> = rows.iter().filter(|r| methods::is_reference(&r.method)).map(|r| value(r)).collect();
    let reference = (!reference.is_empty()).then(|| mean(&reference));

    let mut body = Vec::new();
    for method in &methods {
        let mut line = vec![escape(&methods::label(method))];
        for &k in &ks {
            line.push(match cells.get(&(methods_key(method), k)) {
                None => EMPTY.to_string(),
                Some(values) => {
                    let v = mean(values);
                    match (reference, relative) {
                        (Some(r), Some(relative)) if !methods::is_reference(method) => {
                            format!("{v:.decimals$} ({})", signed_percent(relative(r, v)))
                        }
                        _ => format!("{v:.decimals$}"),
                    }
                }
            });
        }
        body.push(line);
    }
    let mut header = vec!["Method".to_string()];
    header.extend(ks.iter().map(|k| format!("K = {k}")));
    let mut notes = vec![note];
    if reference.is_none() && relative.is_some() {
        notes.push(format!("No E2E run in this setting ({}), so nothing to compare against.", setting.describe()));
    }
    notes.extend(failed_note(group));
    assemble(&source_line(rows, context), &header, &body, &notes)
}

/// `+25.0%`, `−42.8%` (a true minus sign), and `±0.0%` where the change rounds away.
fn signed_percent(value: f64) -> String {
    let text = format!("{value:.1}");
    if text.trim_start_matches('-') == "0.0" {
        "±0.0%".to_string()
    } else if value > 0.0 {
        format!("+{text}%")
    } else {
        format!("−{}%", text.trim_start_matches('-'))
    }
}

/// `Not counted: 2 failed runs (GLCAN K = 4 seed 1; DGL K = 2 seed 0).`
pub fn failed_note(group: &Group) -> Option<String> {
    if group.failed.is_empty() {
        return None;
    }
    let runs: Vec<String> =
        group.failed.iter().map(|r| format!("{} K = {} seed {}", escape(&methods::label(&r.method)), r.k, r.seed)).collect();
    let n = runs.len();
    Some(format!(
        "Not counted: {n} failed run{} ({}); the errors are listed under *Failed runs*.",
        if n == 1 { "" } else { "s" },
        runs.join("; ")
    ))
}

/// A bullet list of the group's failed runs with the first line of each error.
pub fn failed_list(group: &Group) -> Option<String> {
    if group.failed.is_empty() {
        return None;
    }
    let lines: Vec<String> = group
        .failed
        .iter()
        .map(|r| {
            let error = r.error.lines().find(|l| !l.trim().is_empty()).unwrap_or("no error recorded");
            format!("- {}, K = {}, seed {}: {}", escape(&methods::label(&r.method)), r.k, r.seed, escape(error.trim()))
        })
        .collect();
    Some(lines.join("\n") + "\n")
}

/// Source line, table, notes.
fn assemble(source: &str, header: &[String], body: &[Vec<String>], notes: &[String]) -> String {
    let mut out = format!("{source}\n\n");
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    let align: Vec<&str> = (0..header.len()).map(|i| if i == 0 { ":---" } else { "---:" }).collect();
    out.push_str(&format!("|{}|\n", align.join("|")));
    for line in body {
        out.push_str(&format!("| {} |\n", line.join(" | ")));
    }
    out.push('\n');
    for note in notes {
        out.push_str(note);
        out.push_str("\n\n");
    }
    out
}

/// Text from a CSV made safe for a Markdown table cell or a single line.
pub fn escape(text: &str) -> String {
    text.replace('\r', "").replace('\n', " ").replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::group_rows;
    use crate::test_rows::row;
    use glcan_store::RunStatus;

    fn context() -> ReportContext {
        ReportContext { command: "make reproduce".into(), machine: "test box".into() }
    }

    #[test]
    fn mean_std_and_bold_best() {
        let rows = vec![
            row("e2e", 1, 0, 92.0),
            row("e2e", 1, 1, 93.0),
            row("dgl", 2, 0, 90.0),
            row("dgl", 2, 1, 91.0),
            row("glcan", 2, 0, 91.5),
            row("glcan", 2, 1, 92.5),
            row("dgl", 4, 0, 88.0),
            row("glcan", 4, 0, 87.0),
        ];
        let group = &group_rows(&rows)[0];
        let table = metric_table(group, Metric::TestError, &context()).unwrap();
        assert!(table.contains("| Method | K = 1 | K = 2 | K = 4 |"), "{table}");
        // E2E errors 8 and 7: mean 7.5, sample std sqrt(0.5) = 0.707.
        assert!(table.contains("| E2E | 7.50 ± 0.71 | – | – |"), "{table}");
        assert!(table.contains("| DGL | – | 9.50 ± 0.71 | **12.00 (n=1)** |"), "{table}");
        assert!(table.contains("| GLCAN | – | **8.00 ± 0.71** | 13.00 (n=1) |"), "{table}");
        let lines: Vec<&str> = table.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(lines.len(), 4, "header, E2E, DGL, GLCAN in that order: {table}");
        assert!(lines[1].starts_with("| E2E") && lines[3].starts_with("| GLCAN"));
        assert!(
            table.starts_with(
                "*Source:* `make reproduce` · preset `test` · commit `abc1234` · machine: test box, device cpu, 2 threads · 8 runs"
            ),
            "{table}"
        );
        assert!(!table.contains("published"), "published numbers only for CIFAR-10 ResNet-32 paper: {table}");
    }

    #[test]
    fn higher_is_better_metrics_bold_the_highest() {
        let mut rows = Vec::new();
        for (method, psnr) in [("e2e", 31.0), ("dgl", 29.0), ("glcan", 30.0)] {
            let mut r = row(method, if method == "e2e" { 1 } else { 2 }, 0, 0.0);
            r.suite = "sr".into();
            r.test_accuracy = None;
            r.psnr_y = Some(psnr);
            rows.push(r);
        }
        let group = &group_rows(&rows)[0];
        assert!(metric_table(group, Metric::TestError, &context()).is_none());
        let table = metric_table(group, Metric::PsnrY, &context()).unwrap();
        assert!(table.contains("| GLCAN | – | **30.00 (n=1)** |"), "{table}");
        assert!(table.contains("| DGL | – | 29.00 (n=1) |"), "{table}");
        assert!(table.contains("higher is better"));
        assert!(table.contains("the plain local baseline"), "{table}");
        assert!(!table.contains("Bicubic"), "{table}");
    }

    #[test]
    fn the_bicubic_row_comes_first_and_is_not_ranked() {
        let mut rows = Vec::new();
        for (method, k, psnr) in [("glcan", 1, 0.0), ("e2e", 1, 31.0), ("bicubic", 1, 32.5), ("dgl", 2, 29.0), ("glcan", 2, 30.0)] {
            if k == 1 && method == "glcan" {
                continue;
            }
            let mut r = row(method, k, 0, 0.0);
            (r.suite, r.test_accuracy, r.psnr_y) = ("sr".into(), None, Some(psnr));
            if method == "bicubic" {
                (r.step_peak_bytes, r.images_per_s) = (0, 0.0);
            }
            rows.push(r);
        }
        let group = &group_rows(&rows)[0];
        let table = metric_table(group, Metric::PsnrY, &context()).unwrap();
        let lines: Vec<&str> = table.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(lines[1], "| Bicubic | 32.50 (n=1) | – |", "{table}");
        assert!(lines[2].starts_with("| E2E") && table.contains("nothing trained"), "{table}");
        // Memory and speed leave the untrained baseline out.
        let memory = memory_tables(group, &context()).unwrap();
        assert!(!memory.contains("Bicubic") && memory.contains("| DGL |"), "{memory}");
    }

    #[test]
    fn failed_runs_are_excluded_and_noted() {
        let mut failed = row("glcan", 2, 1, 10.0);
        failed.status = RunStatus::Failed;
        failed.error = "loss of module 1 is NaN | at epoch 2\ncaused by: ...".into();
        let rows = vec![row("e2e", 1, 0, 92.0), row("glcan", 2, 0, 91.0), failed];
        let group = &group_rows(&rows)[0];
        let table = metric_table(group, Metric::TestError, &context()).unwrap();
        assert!(table.contains("| GLCAN | – | 9.00 (n=1) |"), "the failed run's 10% accuracy is not averaged in: {table}");
        assert!(table.contains("Not counted: 1 failed run (GLCAN K = 2 seed 1)"), "{table}");
        assert!(table.contains("· 2 runs"), "{table}");
        let list = failed_list(group).unwrap();
        assert_eq!(list, "- GLCAN, K = 2, seed 1: loss of module 1 is NaN \\| at epoch 2\n");
    }

    #[test]
    fn memory_saving_and_throughput_overhead_against_e2e() {
        assert!((saving_percent(9.40, 5.38) - 42.765957).abs() < 1e-4);
        assert!((overhead_percent(100.0, 80.0) - 25.0).abs() < 1e-12);
        assert_eq!([signed_percent(25.04), signed_percent(-42.77), signed_percent(-0.01)], ["+25.0%", "−42.8%", "±0.0%"]);
        let mut rows = vec![row("e2e", 1, 0, 90.0), row("e2e", 1, 1, 90.0), row("dgl", 2, 0, 90.0), row("glcan", 2, 0, 90.0)];
        for (r, bytes, speed) in rows
            .iter_mut()
            .zip([9400.0, 9400.0, 5380.0, 4700.0].map(|mib: f64| (mib * MIB) as u64))
            .zip([100.0, 100.0, 80.0, 125.0])
            .map(|((r, b), s)| (r, b, s))
        {
            r.step_peak_bytes = bytes;
            r.images_per_s = speed;
            r.batch_size = 1024;
        }
        // Another batch size is a different setting with no E2E: its own table, no saving.
        let mut other = row("dgl", 2, 0, 90.0);
        other.step_peak_bytes = (1000.0 * MIB) as u64;
        other.batch_size = 128;
        rows.push(other);
        let group = &group_rows(&rows)[0];
        let memory = memory_tables(group, &context()).unwrap();
        assert!(memory.contains("| E2E | 9400.0 | – |"), "{memory}");
        assert!(memory.contains("| DGL | – | 5380.0 (−42.8%) |"), "{memory}");
        assert!(memory.contains("| GLCAN | – | 4700.0 (−50.0%) |"), "{memory}");
        assert!(memory.contains("batch 1024, cpu") && memory.contains("batch 128, cpu"), "{memory}");
        assert!(memory.contains("| DGL | 1000.0 |"), "{memory}");
        assert!(memory.contains("No E2E run in this setting (batch 128"), "{memory}");
        // Speeds recorded while training are shown, never compared.
        let speed = training_throughput_tables(group, &context()).unwrap();
        assert!(speed.contains("| DGL | – | 80 |") && speed.contains("| GLCAN | – | 125 |"), "{speed}");
        assert!(speed.contains("Not a comparison") && !speed.contains("+25.0%"), "{speed}");
    }

    #[test]
    fn unmeasured_memory_gives_no_table() {
        let mut r = row("e2e", 1, 0, 90.0);
        r.step_peak_bytes = 0;
        assert!(memory_tables(&group_rows(&[r])[0], &context()).is_none());
    }

    #[test]
    fn published_numbers_beside_ours_only_for_their_setting() {
        let rows: Vec<ResultRow> = [("e2e", 1, 92.5), ("dgl", 2, 91.0), ("infopro-contrast", 2, 92.0), ("glcan", 2, 92.2)]
            .into_iter()
            .map(|(m, k, acc)| {
                let mut r = row(m, k, 0, acc);
                r.dataset = "cifar10".into();
                r.network = "resnet32".into();
                r.preset = "paper".into();
                r
            })
            .collect();
        let group = &group_rows(&rows)[0];
        let table = metric_table(group, Metric::TestError, &context()).unwrap();
        assert!(table.contains("| *E2E — published (InfoPro, Table 2)* | *7.37* | – |"), "{table}");
        assert!(table.contains("| *DGL — published (InfoPro, Table 2)* | – | *8.69* |"), "{table}");
        assert!(table.contains("| *InfoPro (Contrast) — published (InfoPro, Table 2)* | – | *7.76* |"), "{table}");
        // Published K = 4..16 are left out: we have no such columns. Bold stays ours.
        assert!(!table.contains("16.07") && table.contains("**7.80 (n=1)**"), "{table}");
        assert!(table.contains("Rows in italics are published means, not our runs: InfoPro (Wang et al., ICLR 2021"), "{table}");
    }
}
