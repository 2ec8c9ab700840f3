//! The throughput a report compares: a grid's speed file (`speed.csv`, written by
//! `grid --speed-pass`), one row per configuration timed in one pass on an idle machine.
//! Its rows become a method × K table with the time overhead against E2E, and a
//! throughput-vs-K chart. Without a speed file, a report shows the training-time figures,
//! marked as not comparable ([`crate::tables::training_throughput_tables`]).

use std::path::Path;

use crate::error::Error;
use crate::group::{Group, Setting};
use crate::tables::{against_reference, overhead_percent, throughput_decimals, ReportContext};
use glcan_store::{ResultRow, SpeedRow, SPEED_FILE};

/// The speed rows beside the results at `results_dir`; none when there is no speed file.
pub fn read_beside(results_dir: &Path) -> Result<Vec<SpeedRow>, Error> {
    let path = results_dir.join(SPEED_FILE);
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let rows = glcan_store::read_speed(&path)?;
    for (line, row) in rows.iter().enumerate() {
        let figures = [row.images_per_s, row.images_per_s_low, row.images_per_s_high];
        if figures.iter().any(|v| !v.is_finite() || *v <= 0.0) || row.images_per_s_low > row.images_per_s_high {
            return Err(Error::UnusableRows {
                path,
                problems: vec![format!("line {}: {} K = {}: images/s must be positive with low <= high", line + 2, row.method, row.k)],
            });
        }
    }
    Ok(rows)
}

/// The speed rows of `group`: its suite, preset and network, and (classification, whose
/// rows name the training set) its dataset; SR and detection rows name a test set, all
/// trained on one training set.
fn of_group<'a>(group: &Group, speed: &'a [SpeedRow]) -> Vec<&'a SpeedRow> {
    let key = &group.key;
    speed
        .iter()
        .filter(|s| s.suite == key.suite && s.preset == key.preset && s.network == key.network)
        .filter(|s| s.dataset == key.dataset || key.suite != "classify")
        .filter(|s| group.ok.iter().any(|r| r.method == s.method && r.k == s.k))
        .collect()
}

/// The speed rows of `group` as result rows of the same method and K carrying the pass's
/// throughput, batch, threads, device and commit, so that the tables and charts of result
/// rows serve them.
pub fn timed_rows(group: &Group, speed: &[SpeedRow]) -> Vec<ResultRow> {
    of_group(group, speed)
        .into_iter()
        .filter_map(|s| {
            let template = group.ok.iter().find(|r| r.method == s.method && r.k == s.k)?;
            Some(ResultRow {
                images_per_s: s.images_per_s,
                batch_size: s.batch_size,
                threads: s.threads,
                device: s.device.clone(),
                git_commit: s.git_commit.clone(),
                cpu_isa: s.cpu_isa.clone(),
                seed: 0,
                ..template.clone()
            })
        })
        .collect()
}

/// The comparable throughput table of `group` from its speed rows, or `None` without any.
pub fn speed_table(group: &Group, speed: &[SpeedRow], context: &ReportContext) -> Option<String> {
    let timed = timed_rows(group, speed);
    let first = timed.first()?;
    let mine = of_group(group, speed);
    let rows: Vec<&ResultRow> = timed.iter().collect();
    let (load_low, load_high) =
        mine.iter().flat_map(|s| [s.load_before, s.load_after]).fold((f64::INFINITY, 0f64), |(lo, hi), l| (lo.min(l), hi.max(l)));
    let widest = mine.iter().map(|s| (s.images_per_s_high - s.images_per_s_low) / s.images_per_s / 2.0 * 100.0).fold(0.0, f64::max);
    let protocol = &mine[0];
    let mut note = format!(
        "Images per second of one training step on random input of the runs' shape, all configurations timed one after another in one pass (`grid --speed-pass`), {}: {} warm-up steps, then the median over {} windows of each window's median of {} steps; every configuration's windows lie within ±{widest:.1}% of its median; 1-minute load average {load_low:.2}–{load_high:.2} during the pass. In brackets the time overhead against E2E, (E2E images/s ÷ images/s − 1) × 100, so +25.0% means 25% more time per image.",
        Setting::of(first).describe(),
        protocol.warmup_steps,
        protocol.windows,
        protocol.steps_per_window,
    );
    // Above the pass's own threads, the load says something else ran beside it.
    if load_high > first.threads as f64 + 0.5 {
        note.push_str(&format!(
            " **Caution**: the load average reached {load_high:.2} with {} threads timed, so other work shared the CPU during this pass.",
            first.threads
        ));
    }
    // Configurations trained but absent from the pass (added after it) are named, not hidden.
    let mut untimed: Vec<(usize, String, usize)> = group
        .ok
        .iter()
        .filter(|r| !crate::methods::is_untrained(&r.method))
        .filter(|r| !mine.iter().any(|s| s.method == r.method && s.k == r.k))
        .map(|r| (crate::methods::order(&r.method).0, crate::methods::label(&r.method), r.k))
        .collect();
    untimed.sort();
    untimed.dedup();
    if !untimed.is_empty() {
        let names: Vec<String> = untimed.iter().map(|(_, label, k)| format!("{label} K = {k}")).collect();
        note.push_str(&format!(" Not timed in this pass (trained after it; run `grid --speed-pass` again): {}.", names.join(", ")));
    }
    let change: fn(f64, f64) -> f64 = overhead_percent;
    Some(against_reference(group, &Setting::of(first), &rows, context, |r| r.images_per_s, throughput_decimals(&rows), note, Some(change)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::group_rows;
    use crate::test_rows::row;

    fn timed(method: &str, k: usize, images_per_s: f64, template: &ResultRow) -> SpeedRow {
        SpeedRow {
            suite: template.suite.clone(),
            dataset: template.dataset.clone(),
            network: template.network.clone(),
            preset: template.preset.clone(),
            method: method.into(),
            k,
            batch_size: 128,
            device: "cpu".into(),
            threads: 2,
            cpu_isa: "avx2".into(),
            images_per_s,
            images_per_s_low: images_per_s * 0.98,
            images_per_s_high: images_per_s * 1.02,
            warmup_steps: 2,
            windows: 5,
            steps_per_window: 3,
            load_before: 1.2,
            load_after: 1.3,
            git_commit: "abc".into(),
            config_hash: "0".into(),
            measured_at: "2026-12-03T00:00:00Z".into(),
        }
    }

    #[test]
    fn configurations_missing_from_the_pass_are_named_not_hidden() {
        let rows = vec![row("e2e", 1, 0, 90.0), row("dgl", 2, 0, 89.0), row("glcan", 2, 0, 89.5), row("glcan", 4, 0, 88.0)];
        let speed = vec![timed("e2e", 1, 600.0, &rows[0]), timed("dgl", 2, 700.0, &rows[0])];
        let group = &group_rows(&rows)[0];
        let context = ReportContext { command: "test".into(), machine: "test".into() };
        let table = speed_table(group, &speed, &context).unwrap();
        assert!(
            table.contains("Not timed in this pass (trained after it; run `grid --speed-pass` again): GLCAN K = 2, GLCAN K = 4."),
            "{table}"
        );
        let all = vec![
            timed("e2e", 1, 600.0, &rows[0]),
            timed("dgl", 2, 700.0, &rows[0]),
            timed("glcan", 2, 500.0, &rows[0]),
            timed("glcan", 4, 450.0, &rows[0]),
        ];
        assert!(!speed_table(group, &all, &context).unwrap().contains("Not timed"));
    }
}
