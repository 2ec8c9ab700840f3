//! `reports compare` end to end: reads the baseline and the current results CSV, judges them
//! ([`crate::compare`]), and writes `<out>/README.md` (verdict, failures, one table row per
//! configuration, the rule) and the delta chart (`deltas.png`, `deltas.svg`), every file
//! atomically. The console lines are built here too, so the binary only prints them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::compare::{band_floor, compare, join_seeds, signed, with_unit, Comparison, ConfigComparison, Tolerances};
use crate::compare_plot::{delta_chart, write_delta_chart};
use crate::error::Error;
use crate::metric::Metric;
use crate::tables::escape;
use crate::validate::read_results;
use glcan_store::write_atomic;
use glcan_store::{ResultRow, RunStatus};

/// What a comparison wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub comparison: Comparison,
    pub summary: PathBuf,
    pub images: Vec<PathBuf>,
}

/// Reads both files, compares them and writes the summary and chart into `out` (created if
/// needed). A missing, malformed or run-less baseline is an error naming the file, and so
/// is a row of either file that cannot be used (see [`crate::validate`]); a current results
/// file without the baseline's runs is a regression, not an error.
pub fn run(baseline: &Path, current: &Path, out: &Path, tolerances: &Tolerances, invocation: &str) -> Result<Written, Error> {
    let baseline_rows = read_results(baseline)?;
    if !baseline_rows.iter().any(|r| r.status == RunStatus::Ok) {
        return Err(Error::NoRuns { path: baseline.to_path_buf() });
    }
    let current_rows = read_results(current)?;
    let comparison = compare(&baseline_rows, &current_rows, tolerances);
    std::fs::create_dir_all(out).map_err(|source| Error::Io { path: out.to_path_buf(), source })?;
    let images = match delta_chart(&comparison) {
        Some(chart) => write_delta_chart(&chart, &out.join("deltas"))?,
        None => Vec::new(),
    };
    let sources = Sources { baseline, baseline_rows: &baseline_rows, current, current_rows: &current_rows, invocation };
    let summary = out.join("README.md");
    write_atomic(&summary, markdown(&comparison, &sources, &images).as_bytes())?;
    Ok(Written { comparison, summary, images })
}

/// Where the numbers come from, for the summary's header.
struct Sources<'a> {
    baseline: &'a Path,
    baseline_rows: &'a [ResultRow],
    current: &'a Path,
    current_rows: &'a [ResultRow],
    invocation: &'a str,
}

/// `9 finished runs (commit `2358421`; cpu, 2 threads)`
fn describe_rows(rows: &[ResultRow]) -> String {
    let ok: Vec<&ResultRow> = rows.iter().filter(|r| r.status == RunStatus::Ok).collect();
    let distinct =
        |f: fn(&ResultRow) -> String| ok.iter().map(|r| f(r)).collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(", ");
    let failed = rows.len() - ok.len();
    let failed = if failed > 0 { format!(", {failed} failed") } else { String::new() };
    format!(
        "{} finished runs{failed} (commit {}; {}; {} threads)",
        ok.len(),
        distinct(|r| format!("`{}`", r.git_commit)),
        distinct(|r| r.device.clone()),
        distinct(|r| r.threads.to_string())
    )
}

/// The rule, as the summary and `--help` state it.
pub fn rule(tolerances: &Tolerances) -> Vec<String> {
    let floors = Metric::ALL
        .into_iter()
        .map(|m| format!("{} {}", m.name(), with_unit(m, band_floor(m)).replace('%', " points")))
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        "Runs are matched by suite, dataset, network, method, K and preset (a configuration), then by seed; each configuration is judged on means over the baseline's seeds, taken on the seeds both files have.".into(),
        format!(
            "Task metrics (test error, AP, AP50, PSNR, SSIM) fail when worse than the baseline by more than the band = max({} × s, floor), where s is the seed-to-seed standard deviation of the metric in the baseline, pooled over every configuration of the same suite, dataset, network and preset; floors: {floors}. Better by more than the band is noted, not failed.",
            tolerances.sigmas
        ),
        format!("Peak tensor memory of a training step fails when |current / baseline − 1| > {}%, either way: it is deterministic on CPU, so a change means the network, its aux nets or what a step keeps alive changed.", 100.0 * tolerances.memory),
        "Throughput (images/s) is reported as current ÷ baseline and never judged: CI machines are noisy.".into(),
        "A baseline configuration or seed missing or failed in the current results fails, and so does a run whose recipe (epochs, batch size, images, device, dtype, threads, network parameters) changed. Configurations only in the current results are listed, not judged.".into(),
        "A row either file cannot use (a finished run without its suite's metric, a NaN or out-of-range value, a run that finished twice, a missing column) stops the check with an error naming the file, line, run and column.".into(),
    ]
}

fn verdict(comparison: &Comparison) -> String {
    let n = comparison.configs.len();
    if comparison.passed() {
        format!("passed ({n} configuration{} within tolerance)", if n == 1 { "" } else { "s" })
    } else {
        format!("FAILED ({} of {n} configurations outside tolerance)", comparison.regressed_configs())
    }
}

fn markdown(comparison: &Comparison, sources: &Sources, images: &[PathBuf]) -> String {
    let tolerances = &comparison.tolerances;
    let mut text = format!("# Regression check: {}\n\n", verdict(comparison));
    text.push_str(&format!("Made by `{}`.\n\n", sources.invocation.trim()));
    text.push_str(&format!("- Baseline `{}`: {}.\n", sources.baseline.display(), describe_rows(sources.baseline_rows)));
    text.push_str(&format!("- Current `{}`: {}.\n\n", sources.current.display(), describe_rows(sources.current_rows)));

    let failures = comparison.failures();
    if !failures.is_empty() {
        text.push_str("## Failures\n\n");
        for failure in &failures {
            text.push_str(&format!("- {}\n", escape(failure)));
        }
        text.push('\n');
    }

    text.push_str("## Configurations\n\n");
    text.push_str("| Configuration | Seeds | Task metric: baseline → current (Δ; band) | Peak memory per step, MiB: baseline → current (change) | Throughput, current ÷ baseline | Verdict |\n");
    text.push_str("|:---|---:|:---|:---|---:|:---|\n");
    for config in &comparison.configs {
        let metrics = config
            .metrics
            .iter()
            .map(|c| {
                format!(
                    "{} {} → {} ({}; ±{:.*})",
                    c.metric.name(),
                    with_unit(c.metric, c.baseline),
                    with_unit(c.metric, c.current),
                    signed(c.delta(), c.metric.decimals()),
                    c.metric.decimals(),
                    c.band
                )
            })
            .collect::<Vec<_>>()
            .join("<br>");
        let memory = config.memory.as_ref().map_or("–".to_string(), |m| {
            format!(
                "{:.3} → {:.3} ({}%)",
                m.baseline / crate::tables::MIB,
                m.current / crate::tables::MIB,
                signed(100.0 * (m.ratio() - 1.0), 2)
            )
        });
        let speed = config.speed_ratio.map_or("–".to_string(), |r| format!("×{r:.2}"));
        let pass = if config.passed(tolerances) { "pass".to_string() } else { "**FAIL**".to_string() };
        let metrics = if metrics.is_empty() { "–".to_string() } else { escape(&metrics) };
        text.push_str(&format!(
            "| {} | {} | {metrics} | {memory} | {speed} | {pass} |\n",
            escape(&config.key.title()),
            join_seeds(config.seeds.iter())
        ));
    }
    text.push('\n');
    if let [png, svg, ..] = images {
        let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        text.push_str(&format!(
            "![Current − baseline per configuration, tolerance bands in grey]({}) ([SVG]({}))\n\n",
            name(png),
            name(svg)
        ));
    }

    if !comparison.new.is_empty() {
        text.push_str("## New configurations (not in the baseline, not judged)\n\n");
        for new in &comparison.new {
            text.push_str(&format!("- {}: seeds {}\n", escape(&new.key.title()), join_seeds(new.seeds.iter())));
        }
        text.push('\n');
    }
    if !comparison.notes.is_empty() {
        text.push_str("## Notes\n\n");
        for note in &comparison.notes {
            text.push_str(&format!("- {}\n", escape(note)));
        }
        text.push('\n');
    }
    text.push_str("## The rule\n\n");
    for line in rule(tolerances) {
        text.push_str(&format!("- {line}\n"));
    }
    text
}

/// The console's table: one line per configuration under a line per table, then the
/// verdict. Failures are printed apart, one line each (see [`Comparison::failures`]).
pub fn console(comparison: &Comparison, baseline: &Path, current: &Path) -> String {
    let mut text = format!("compare {} (baseline) with {} (current)\n", baseline.display(), current.display());
    let width = comparison.configs.iter().map(|c| c.key.label().chars().count()).max().unwrap_or(0);
    let mut group = None;
    for config in &comparison.configs {
        if group != Some(&config.key.group) {
            text.push_str(&format!("{}\n", config.key.group.title()));
            group = Some(&config.key.group);
        }
        text.push_str(&format!(
            "  {:<4}  {:<width$}  {}\n",
            if config.passed(&comparison.tolerances) { "ok" } else { "FAIL" },
            config.key.label(),
            console_numbers(config)
        ));
    }
    for new in &comparison.new {
        text.push_str(&format!("  new   {} (seeds {}): not in the baseline, not judged\n", new.key.title(), join_seeds(new.seeds.iter())));
    }
    text
}

fn console_numbers(config: &ConfigComparison) -> String {
    let mut parts = vec![format!("seeds {}", join_seeds(config.seeds.iter()))];
    for c in &config.metrics {
        let d = c.metric.decimals();
        parts.push(format!(
            "{} {} → {} ({}, band ±{:.d$})",
            c.metric.name(),
            with_unit(c.metric, c.baseline),
            with_unit(c.metric, c.current),
            signed(c.delta(), d),
            c.band
        ));
    }
    if let Some(m) = &config.memory {
        parts.push(format!(
            "memory {:.3} → {:.3} MiB ({}%)",
            m.baseline / crate::tables::MIB,
            m.current / crate::tables::MIB,
            signed(100.0 * (m.ratio() - 1.0), 2)
        ));
    }
    if let Some(r) = config.speed_ratio {
        parts.push(format!("speed ×{r:.2}"));
    }
    if !config.problems.is_empty() {
        parts.push(format!("{} problem{}", config.problems.len(), if config.problems.len() == 1 { "" } else { "s" }));
    }
    parts.join(" · ")
}

/// `passed (3 configurations within tolerance)` / `FAILED (1 of 3 ...)`.
pub fn verdict_line(comparison: &Comparison) -> String {
    verdict(comparison)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rows::row;
    use glcan_store::append_row;

    fn write(path: &Path, rows: &[ResultRow]) {
        for r in rows {
            append_row(path, r).unwrap();
        }
    }

    fn rows() -> Vec<ResultRow> {
        let mut rows = Vec::new();
        for seed in 0..3 {
            rows.push(row("e2e", 1, seed, 80.0 + seed as f64 * 0.5));
            rows.push(row("glcan", 2, seed, 78.0 + seed as f64 * 0.5));
        }
        rows
    }

    #[test]
    fn summary_names_verdict_failures_table_and_rule() {
        let dir = tempfile::tempdir().unwrap();
        let (baseline, current) = (dir.path().join("baseline.csv"), dir.path().join("current.csv"));
        write(&baseline, &rows());
        let mut leaky = rows();
        for r in leaky.iter_mut().filter(|r| r.method == "glcan") {
            r.step_peak_bytes = r.step_peak_bytes * 103 / 100;
        }
        leaky.push(row("dgl", 2, 0, 77.0));
        write(&current, &leaky);
        let out = dir.path().join("compare");
        let written = run(&baseline, &current, &out, &Tolerances::default(), "reports compare (test)").unwrap();
        assert!(!written.comparison.passed());
        let summary = std::fs::read_to_string(&written.summary).unwrap();
        assert!(summary.starts_with("# Regression check: FAILED (1 of 2 configurations outside tolerance)"), "{summary}");
        assert!(summary.contains("Made by `reports compare (test)`"), "{summary}");
        assert!(summary.contains("- Baseline `") && summary.contains("6 finished runs (commit `abc1234`; cpu; 2 threads)"), "{summary}");
        assert!(summary.contains("## Failures\n\n- classify · fashion-mnist · resnet8 · preset test · GLCAN K = 2: peak memory per step 23.842 MiB → 24.557 MiB (+3.00%, tolerance ±1%)"), "{summary}");
        assert!(summary.contains("| classify · fashion-mnist · resnet8 · preset test · E2E K = 1 | 0, 1, 2 | Test error 19.50% → 19.50% (±0.00; ±1.00) | 47.684 → 47.684 (±0.00%) | ×1.00 | pass |"), "{summary}");
        assert!(summary.contains("](deltas.png) ([SVG](deltas.svg))"), "{summary}");
        assert!(summary.contains("## New configurations") && summary.contains("DGL K = 2: seeds 0"), "{summary}");
        assert!(
            summary.contains("## The rule") && summary.contains("max(2 × s, floor)") && summary.contains("Test error 0.50 points"),
            "{summary}"
        );
        assert_eq!(written.images, vec![out.join("deltas.png"), out.join("deltas.svg")]);
        let console = console(&written.comparison, &baseline, &current);
        assert!(
            console.contains(
                "  FAIL  GLCAN K = 2  seeds 0, 1, 2 · Test error 21.50% → 21.50% (±0.00, band ±1.00) · memory 23.842 → 24.557 MiB (+3.00%)"
            ),
            "{console}"
        );
        assert!(console.contains("  ok    E2E K = 1  "), "{console}");
    }

    #[test]
    fn bad_baselines_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let current = dir.path().join("current.csv");
        write(&current, &rows());
        let out = dir.path().join("out");
        let message = |baseline: &Path| crate::error::chain(&run(baseline, &current, &out, &Tolerances::default(), "").unwrap_err());

        let missing = dir.path().join("no-such-baseline.csv");
        let text = message(&missing);
        assert!(text.contains("no-such-baseline.csv") && text.contains("No such file"), "{text}");

        let malformed = dir.path().join("malformed-baseline.csv");
        std::fs::write(&malformed, "suite,dataset,network\nclassify,fashion-mnist\n").unwrap();
        let text = message(&malformed);
        assert!(text.contains("malformed-baseline.csv") && text.contains("line"), "{text}");

        let empty = dir.path().join("empty-baseline.csv");
        let mut failed = row("glcan", 2, 0, 0.0);
        failed.status = RunStatus::Failed;
        write(&empty, &[failed]);
        assert_eq!(message(&empty), format!("{}: no finished runs, nothing to compare against", empty.display()));
        assert!(!out.join("README.md").exists(), "nothing is written for a bad baseline");
    }
}
