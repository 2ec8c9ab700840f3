//! `reports compare`: the results of a run of the smoke presets against a committed
//! baseline. Runs are matched by suite, dataset, network, method, K and preset (a
//! *configuration*) and, inside one, by seed; each configuration is judged on the means over
//! the baseline's seeds:
//!
//! - task metrics (test error, AP, AP50, PSNR, SSIM) fail when worse than the baseline by
//!   more than a band. When both sides ran on kernels with the same numerics fingerprint
//!   (`kernel_fingerprint`: pinned AVX2 kernels at the same threads give it on any x86-64
//!   CPU), each seed reproduces its baseline run unless the code changed, so the band is a
//!   small floor ([`band_floor`]); otherwise it is measured from the baseline's own
//!   seed-to-seed spread ([`band`]);
//! - peak tensor memory of a training step fails when it moves by more than 1% either way
//!   (it is deterministic on CPU, so any change means the network or its step changed);
//! - throughput is reported as a ratio, never judged (CI machines are noisy);
//! - a baseline run missing or failed in the current results fails, and so does a run whose
//!   recipe (epochs, batch size, images, device, dtype, threads, CPU kernels, parameters)
//!   changed;
//! - a baseline run without a metric its suite measures (empty or NaN), or a seed that
//!   finished twice on either side, fails its configuration: nothing is judged against a
//!   number that is not there, and no row is silently preferred.
//!
//! Runs only in the current results are listed, not judged.

use std::collections::{BTreeMap, BTreeSet};

use crate::group::{methods_key, GroupKey};
use crate::methods;
use crate::metric::{Direction, Metric};
use glcan_store::{ResultRow, RunStatus};

/// How far a configuration may move before it is a regression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    /// The metric band is this many pooled seed-to-seed standard deviations (or the floor).
    pub sigmas: f64,
    /// Largest allowed |current / baseline − 1| of peak memory, as a fraction.
    pub memory: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances { sigmas: 2.0, memory: 0.01 }
    }
}

/// The smallest band of a metric, in its printed unit: below this, differences are within
/// what a different CPU's float rounding does to a short training run.
pub fn band_floor(metric: Metric) -> f64 {
    match metric {
        Metric::TestError | Metric::Ap | Metric::Ap50 => 0.5,
        Metric::PsnrY => 0.05,
        Metric::SsimY => 0.002,
    }
}

/// The band of a metric: `max(sigmas × spread, floor)`.
pub fn band(metric: Metric, spread: Option<f64>, tolerances: &Tolerances) -> f64 {
    spread.map_or(0.0, |s| tolerances.sigmas * s).max(band_floor(metric))
}

/// One configuration: what runs are matched by (seeds aside).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigKey {
    pub group: GroupKey,
    /// Lower-cased (`GLCAN` and `glcan` match), see [`methods_key`].
    pub method: String,
    pub k: usize,
}

impl ConfigKey {
    pub fn of(row: &ResultRow) -> ConfigKey {
        ConfigKey { group: GroupKey::of(row), method: methods_key(&row.method), k: row.k }
    }

    /// Sort key: by table, then E2E first and the local methods in table order, then K.
    pub fn order(&self) -> (GroupKey, (usize, String), usize) {
        (self.group.clone(), methods::order(&self.method), self.k)
    }

    /// `GLCAN K = 2`
    pub fn label(&self) -> String {
        format!("{} K = {}", methods::label(&self.method), self.k)
    }

    /// `classify · fashion-mnist · resnet8 · preset smoke · GLCAN K = 2`
    pub fn title(&self) -> String {
        format!("{} · {}", self.group.title(), self.label())
    }
}

/// A task metric of one configuration, baseline against current.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricCheck {
    pub metric: Metric,
    /// Means over the seeds both sides have, in the metric's printed unit.
    pub baseline: f64,
    pub current: f64,
    /// Pooled seed-to-seed standard deviation of the baseline (see [`compare`]).
    pub spread: Option<f64>,
    /// Both sides ran on kernels with the same numerics fingerprint, so each seed must
    /// reproduce its baseline run: the band is the floor alone (see [`compare`]).
    pub paired: bool,
    pub band: f64,
}

impl MetricCheck {
    pub fn delta(&self) -> f64 {
        self.current - self.baseline
    }

    /// How much worse the current mean is (negative when better).
    pub fn worsening(&self) -> f64 {
        match self.metric.direction() {
            Direction::LowerIsBetter => self.delta(),
            Direction::HigherIsBetter => -self.delta(),
        }
    }

    pub fn regressed(&self) -> bool {
        self.worsening() > self.band
    }

    pub fn improved(&self) -> bool {
        -self.worsening() > self.band
    }

    /// `Test error 24.60% → 27.10% (+2.50; band ±2.00 = max(2 × 1.00 seed-to-seed std, 0.50 floor))`
    pub fn describe(&self, tolerances: &Tolerances) -> String {
        let d = self.metric.decimals();
        let spread = match self.spread {
            _ if self.paired => "the floor: seed for seed on kernels with the baseline's numerics".to_string(),
            Some(s) => format!("max({} × {s:.d$} seed-to-seed std, {:.d$} floor)", tolerances.sigmas, band_floor(self.metric)),
            None => "the floor: no seed-to-seed spread in the baseline".to_string(),
        };
        format!(
            "{} {} → {} ({}; band ±{:.d$} = {spread})",
            self.metric.name(),
            with_unit(self.metric, self.baseline),
            with_unit(self.metric, self.current),
            signed(self.delta(), d),
            self.band
        )
    }
}

/// `24.60%`, `30.01 dB`, `0.9123`.
pub fn with_unit(metric: Metric, value: f64) -> String {
    let d = metric.decimals();
    match metric.unit() {
        "" => format!("{value:.d$}"),
        "%" => format!("{value:.d$}%"),
        unit => format!("{value:.d$} {unit}"),
    }
}

/// Peak tensor memory of a training step, baseline against current (bytes, seed means).
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryCheck {
    pub baseline: f64,
    pub current: f64,
    pub tolerance: f64,
}

impl MemoryCheck {
    pub fn ratio(&self) -> f64 {
        self.current / self.baseline
    }

    pub fn outside(&self) -> bool {
        (self.ratio() - 1.0).abs() > self.tolerance
    }

    /// `peak memory per step 44.968 MiB → 34.313 MiB (−23.70%, tolerance ±1%)`
    pub fn describe(&self) -> String {
        format!(
            "peak memory per step {:.3} MiB → {:.3} MiB ({}%, tolerance ±{}%)",
            self.baseline / crate::tables::MIB,
            self.current / crate::tables::MIB,
            signed(100.0 * (self.ratio() - 1.0), 2),
            100.0 * self.tolerance
        )
    }
}

/// Everything known about one configuration of the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigComparison {
    pub key: ConfigKey,
    /// The baseline's finished seeds.
    pub seeds: Vec<u64>,
    pub metrics: Vec<MetricCheck>,
    pub memory: Option<MemoryCheck>,
    /// Current images/s over baseline images/s (seed means); reported, never judged.
    pub speed_ratio: Option<f64>,
    /// Failures that are not numbers out of tolerance: missing or failed seeds, a changed
    /// recipe, a metric or memory the current runs did not measure.
    pub problems: Vec<String>,
}

impl ConfigComparison {
    /// One line per failure, each naming the configuration and the numbers.
    pub fn failures(&self, tolerances: &Tolerances) -> Vec<String> {
        let title = self.key.title();
        let mut lines: Vec<String> = self.problems.iter().map(|p| format!("{title}: {p}")).collect();
        for check in self.metrics.iter().filter(|c| c.regressed()) {
            lines.push(format!("{title}: {}: worse by more than the band", check.describe(tolerances)));
        }
        if let Some(memory) = self.memory.as_ref().filter(|m| m.outside()) {
            let why = if memory.ratio() > 1.0 {
                "more memory: something holds more tensors per step (a leak, a kept activation, a bigger aux net)"
            } else {
                "less memory: the network or its aux nets lost something (or the baseline is stale)"
            };
            lines.push(format!("{title}: {}: {why}", memory.describe()));
        }
        lines
    }

    pub fn passed(&self, tolerances: &Tolerances) -> bool {
        self.failures(tolerances).is_empty()
    }
}

/// A configuration only the current results have.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConfig {
    pub key: ConfigKey,
    pub seeds: Vec<u64>,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub tolerances: Tolerances,
    /// One per configuration with a finished run in the baseline, sorted.
    pub configs: Vec<ConfigComparison>,
    /// Configurations with no finished baseline run: listed, not judged.
    pub new: Vec<NewConfig>,
    /// Things worth knowing that do not fail the check (improvements beyond the band, extra
    /// seeds, failed runs in the baseline, repeated rows).
    pub notes: Vec<String>,
}

impl Comparison {
    pub fn failures(&self) -> Vec<String> {
        self.configs.iter().flat_map(|c| c.failures(&self.tolerances)).collect()
    }

    pub fn passed(&self) -> bool {
        self.configs.iter().all(|c| c.passed(&self.tolerances))
    }

    pub fn regressed_configs(&self) -> usize {
        self.configs.iter().filter(|c| !c.passed(&self.tolerances)).count()
    }
}

/// Finished and failed runs of one side, per configuration and seed. A seed with failed and
/// finished rows was retried: the later row wins (results files are appended in time
/// order). A seed that finished twice has no right answer: it is kept in `duplicated` and
/// fails its configuration.
struct Side<'a> {
    ok: BTreeMap<ConfigKey, BTreeMap<u64, &'a ResultRow>>,
    failed: BTreeMap<ConfigKey, BTreeMap<u64, &'a ResultRow>>,
    retried: BTreeSet<(ConfigKey, u64)>,
    duplicated: BTreeSet<(ConfigKey, u64)>,
}

impl<'a> Side<'a> {
    fn of(rows: &'a [ResultRow]) -> Side<'a> {
        let mut side = Side { ok: BTreeMap::new(), failed: BTreeMap::new(), retried: BTreeSet::new(), duplicated: BTreeSet::new() };
        for row in rows {
            let key = ConfigKey::of(row);
            if row.status == RunStatus::Ok && side.ok.get(&key).is_some_and(|m| m.contains_key(&row.seed)) {
                side.duplicated.insert((key.clone(), row.seed));
            }
            let (this, other) = match row.status {
                RunStatus::Ok => (&mut side.ok, &mut side.failed),
                RunStatus::Failed => (&mut side.failed, &mut side.ok),
            };
            if other.get_mut(&key).is_some_and(|m| m.remove(&row.seed).is_some()) {
                side.retried.insert((key.clone(), row.seed));
            }
            this.entry(key).or_default().insert(row.seed, row);
        }
        side
    }

    /// Seeds of `key` that finished more than once.
    fn duplicated_seeds(&self, key: &ConfigKey) -> Vec<u64> {
        self.duplicated.iter().filter(|(k, _)| k == key).map(|&(_, seed)| seed).collect()
    }
}

/// Compares `current` against `baseline`. Without one numerics fingerprint on both sides,
/// the band of a metric uses the spread pooled over
/// every configuration of the same table (suite, dataset, network, preset) in the
/// baseline, `sqrt(Σ (x − mean of its configuration)² / Σ (seeds − 1))`: two or three seeds
/// give a poor standard deviation alone, and seeds scatter alike across methods.
pub fn compare(baseline: &[ResultRow], current: &[ResultRow], tolerances: &Tolerances) -> Comparison {
    let base = Side::of(baseline);
    let now = Side::of(current);
    let spreads = pooled_spreads(&base);
    let mut notes = Vec::new();
    for (key, seed) in &base.retried {
        notes.push(format!("{}: seed {seed} has both failed and finished rows in the baseline; the last row counts", key.title()));
    }
    for (key, seed) in &now.retried {
        notes.push(format!("{}: seed {seed} has both failed and finished rows in the current results; the last row counts", key.title()));
    }
    for (key, seed) in now.duplicated.iter().filter(|(key, _)| !base.ok.contains_key(key)) {
        notes
            .push(format!("{}: seed {seed} finished more than once in the current results (a new configuration, not judged)", key.title()));
    }
    for (key, runs) in &base.failed {
        notes.push(format!("{}: the baseline has failed runs (seeds {}); they are not compared", key.title(), join_seeds(runs.keys())));
    }

    let mut configs = Vec::new();
    for (key, runs) in &base.ok {
        let (mut comparison, extra) = compare_config(key, runs, &now, &spreads, tolerances);
        for (side, name) in [(&base, "the baseline"), (&now, "the current results")] {
            let seeds = side.duplicated_seeds(key);
            if !seeds.is_empty() {
                comparison.problems.push(format!(
                    "seed{} {} finished more than once in {name}; which row counts is not guessed: keep one",
                    plural_s(seeds.len()),
                    join_seeds(seeds.iter())
                ));
            }
        }
        notes.extend(extra);
        configs.push(comparison);
    }
    let mut new: Vec<NewConfig> = now
        .ok
        .iter()
        .filter(|(key, _)| !base.ok.contains_key(key))
        .map(|(key, runs)| NewConfig { key: key.clone(), seeds: runs.keys().copied().collect() })
        .collect();
    // Table order: E2E first, then the local methods as InfoPro's Table 2 lists them.
    configs.sort_by_key(|c| c.key.order());
    new.sort_by_key(|c| c.key.order());
    Comparison { tolerances: *tolerances, configs, new, notes }
}

fn compare_config(
    key: &ConfigKey,
    runs: &BTreeMap<u64, &ResultRow>,
    now: &Side,
    spreads: &BTreeMap<(GroupKey, Metric), f64>,
    tolerances: &Tolerances,
) -> (ConfigComparison, Vec<String>) {
    let empty = BTreeMap::new();
    let current = now.ok.get(key).unwrap_or(&empty);
    let failed = now.failed.get(key).unwrap_or(&empty);
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let mut pairs: Vec<(&ResultRow, &ResultRow)> = Vec::new();
    let mut missing = Vec::new();
    for (seed, row) in runs {
        match (current.get(seed), failed.get(seed)) {
            (Some(now), _) => pairs.push((row, now)),
            (None, Some(failure)) => {
                let error = failure.error.lines().find(|l| !l.trim().is_empty()).unwrap_or("no error recorded").trim();
                problems.push(format!("seed {seed} failed in the current results: {error}"));
            }
            (None, None) => missing.push(*seed),
        }
    }
    if !missing.is_empty() {
        let what = if pairs.is_empty() && failed.is_empty() {
            "the whole configuration is missing from the current results".to_string()
        } else {
            format!("seed{} {} missing from the current results", plural_s(missing.len()), join_seeds(missing.iter()))
        };
        problems.push(what);
    }
    let extra: Vec<u64> = current.keys().filter(|s| !runs.contains_key(s)).copied().collect();
    if !extra.is_empty() {
        notes.push(format!(
            "{}: seed{} {} only in the current results, not compared",
            key.title(),
            plural_s(extra.len()),
            join_seeds(extra.iter())
        ));
    }
    let changes = recipe_changes(&pairs);
    let paired = same_numerics(&pairs);
    let fingerprinted = pairs.iter().any(|(b, c)| !b.kernel_fingerprint.is_empty() || !c.kernel_fingerprint.is_empty());
    if !paired && fingerprinted {
        let fingerprints = |rows: Vec<&ResultRow>| {
            rows.iter()
                .map(|r| if r.kernel_fingerprint.is_empty() { "none" } else { r.kernel_fingerprint.as_str() })
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ")
        };
        notes.push(format!(
            "{}: the kernels' numerics differ from the baseline's (fingerprint {} → {}), so seeds cannot reproduce their baseline runs; judged against the seed-to-seed band",
            key.title(),
            fingerprints(pairs.iter().map(|p| p.0).collect()),
            fingerprints(pairs.iter().map(|p| p.1).collect())
        ));
    }
    if !changes.is_empty() {
        problems.push(format!("the recipe differs from the baseline ({}), so the numbers are not comparable; if the change is meant, regenerate the baseline (`make baseline`)", changes.join("; ")));
    }

    let mut metrics = Vec::new();
    // What the suite measures, not what the baseline happens to hold: a baseline without the
    // metric (empty or NaN) would otherwise let any current value pass.
    let suite_metrics = Metric::of_suite(&key.group.suite).unwrap_or_default();
    let expected = Metric::ALL.into_iter().filter(|m| suite_metrics.contains(m) || runs.values().any(|r| m.value(r).is_some()));
    for metric in expected {
        let unmeasured: Vec<u64> = runs.iter().filter(|(_, r)| metric.value(r).is_none()).map(|(&seed, _)| seed).collect();
        if !unmeasured.is_empty() {
            problems.push(format!("the baseline has no {} for seed{} {} (empty or not a finite number), so it cannot be judged; regenerate the baseline (`make baseline`)", metric.name(), plural_s(unmeasured.len()), join_seeds(unmeasured.iter())));
        }
        let both: Vec<(f64, f64)> = pairs.iter().filter_map(|(b, c)| Some((metric.value(b)?, metric.value(c)?))).collect();
        let unmeasured_now = pairs.iter().filter(|(_, c)| metric.value(c).is_none()).count();
        if unmeasured_now > 0 {
            problems.push(format!("{} not measured in {unmeasured_now} of the current runs", metric.name()));
        }
        if both.is_empty() {
            continue;
        }
        let spread = spreads.get(&(key.group.clone(), metric)).copied();
        let band = if paired { band_floor(metric) } else { band(metric, spread, tolerances) };
        let check =
            MetricCheck { metric, baseline: mean(both.iter().map(|p| p.0)), current: mean(both.iter().map(|p| p.1)), spread, paired, band };
        if check.improved() {
            notes.push(format!(
                "{}: {} better than the band; if this is meant, regenerate the baseline (`make baseline`)",
                key.title(),
                check.describe(tolerances)
            ));
        }
        metrics.push(check);
    }

    let measured: Vec<(f64, f64)> =
        pairs.iter().filter(|(b, _)| b.step_peak_bytes > 0).map(|(b, c)| (b.step_peak_bytes as f64, c.step_peak_bytes as f64)).collect();
    let memory = if measured.is_empty() {
        None
    } else if measured.iter().any(|p| p.1 <= 0.0) {
        problems.push("peak memory not measured in the current runs".to_string());
        None
    } else {
        Some(MemoryCheck {
            baseline: mean(measured.iter().map(|p| p.0)),
            current: mean(measured.iter().map(|p| p.1)),
            tolerance: tolerances.memory,
        })
    };
    let speeds: Vec<(f64, f64)> = pairs
        .iter()
        .map(|(b, c)| (b.images_per_s, c.images_per_s))
        .filter(|(b, c)| b.is_finite() && c.is_finite() && *b > 0.0 && *c > 0.0)
        .collect();
    let speed_ratio = (!speeds.is_empty()).then(|| mean(speeds.iter().map(|p| p.1)) / mean(speeds.iter().map(|p| p.0)));

    let comparison = ConfigComparison { key: key.clone(), seeds: runs.keys().copied().collect(), metrics, memory, speed_ratio, problems };
    (comparison, notes)
}

/// Whether every pair ran on kernels with one numerics fingerprint (`glcan_core::kernel_probe`):
/// then a seeded CPU run reproduces its baseline run bit for bit unless the code changed.
fn same_numerics(pairs: &[(&ResultRow, &ResultRow)]) -> bool {
    !pairs.is_empty() && pairs.iter().all(|(b, c)| !b.kernel_fingerprint.is_empty() && b.kernel_fingerprint == c.kernel_fingerprint)
}

/// A recipe field: its name, and its value in a row.
type RecipeField = (&'static str, fn(&ResultRow) -> String);

/// Fields that must match for two runs' numbers to be comparable, with what changed.
fn recipe_changes(pairs: &[(&ResultRow, &ResultRow)]) -> Vec<String> {
    let fields: [RecipeField; 9] = [
        ("CPU kernels", |r| r.cpu_isa.clone()),
        ("epochs", |r| r.epochs.to_string()),
        ("batch size", |r| r.batch_size.to_string()),
        ("training images", |r| r.train_images.to_string()),
        ("test images", |r| r.test_images.to_string()),
        ("device", |r| r.device.clone()),
        ("dtype", |r| r.dtype.clone()),
        ("threads", |r| r.threads.to_string()),
        ("network parameters", |r| r.network_parameters.to_string()),
    ];
    let mut changes: Vec<String> = Vec::new();
    for (name, value) in fields {
        for (baseline, current) in pairs {
            let (b, c) = (value(baseline), value(current));
            let change = format!("{name} {b} → {c}");
            if b != c && !changes.contains(&change) {
                changes.push(change);
            }
        }
    }
    changes
}

/// Pooled within-configuration standard deviation per (table, metric) of the baseline;
/// absent where no configuration has two seeds.
fn pooled_spreads(base: &Side) -> BTreeMap<(GroupKey, Metric), f64> {
    let mut sums: BTreeMap<(GroupKey, Metric), (f64, usize)> = BTreeMap::new();
    for (key, runs) in &base.ok {
        for metric in Metric::ALL {
            let values: Vec<f64> = runs.values().filter_map(|r| metric.value(r)).collect();
            if values.len() < 2 {
                continue;
            }
            let m = mean(values.iter().copied());
            let entry = sums.entry((key.group.clone(), metric)).or_default();
            entry.0 += values.iter().map(|v| (v - m).powi(2)).sum::<f64>();
            entry.1 += values.len() - 1;
        }
    }
    sums.into_iter().map(|(key, (squares, freedom))| (key, (squares / freedom as f64).sqrt())).collect()
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n.max(1) as f64
}

/// `+2.50`, `−0.30` (a true minus sign), `±0.00` when it rounds away.
pub fn signed(value: f64, decimals: usize) -> String {
    let text = format!("{:.decimals$}", value.abs());
    if text.chars().all(|c| c == '0' || c == '.') {
        format!("±{text}")
    } else if value > 0.0 {
        format!("+{text}")
    } else {
        format!("−{text}")
    }
}

pub fn join_seeds<'a>(seeds: impl Iterator<Item = &'a u64>) -> String {
    seeds.map(u64::to_string).collect::<Vec<_>>().join(", ")
}

fn plural_s(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rows::row;

    /// A smoke-like baseline: E2E, DGL and GLCAN at K = 2, three seeds, accuracies spread
    /// by about one point.
    fn baseline() -> Vec<ResultRow> {
        let mut rows = Vec::new();
        for (method, k, base) in [("e2e", 1, 76.0), ("dgl", 2, 74.0), ("glcan", 2, 75.0)] {
            for (seed, shift) in [(0, 1.0), (1, -1.0), (2, 0.0)] {
                rows.push(row(method, k, seed, base + shift));
            }
        }
        rows
    }

    fn find<'a>(comparison: &'a Comparison, method: &str) -> &'a ConfigComparison {
        comparison.configs.iter().find(|c| c.key.method == method).unwrap()
    }

    #[test]
    fn unchanged_run_passes() {
        let mut current = baseline();
        // Throughput is noisy on CI: reported, never judged.
        for row in &mut current {
            row.images_per_s *= 0.5;
        }
        let comparison = compare(&baseline(), &current, &Tolerances::default());
        assert!(comparison.passed(), "{:?}", comparison.failures());
        let order: Vec<String> = comparison.configs.iter().map(|c| c.key.label()).collect();
        assert_eq!(order, ["E2E K = 1", "DGL K = 2", "GLCAN K = 2"]);
        let glcan = find(&comparison, "glcan");
        assert_eq!(glcan.seeds, vec![0, 1, 2]);
        assert_eq!(glcan.metrics[0].delta(), 0.0);
        assert_eq!(glcan.memory.as_ref().unwrap().ratio(), 1.0);
        assert!((glcan.speed_ratio.unwrap() - 0.5).abs() < 1e-12);
        assert!(comparison.new.is_empty() && comparison.notes.is_empty(), "{:?}", comparison.notes);
    }

    #[test]
    fn band_is_pooled_spread_times_sigmas_with_a_floor() {
        // Every configuration's seeds sit at −1, 0, +1 around its mean: sample variance 1.
        let comparison = compare(&baseline(), &baseline(), &Tolerances::default());
        let check = &find(&comparison, "dgl").metrics[0];
        assert_eq!(check.metric, Metric::TestError);
        assert!((check.spread.unwrap() - 1.0).abs() < 1e-12);
        assert!((check.band - 2.0).abs() < 1e-12);
        // One seed: no spread, the floor.
        let single: Vec<ResultRow> = baseline().into_iter().filter(|r| r.seed == 0).collect();
        let comparison = compare(&single, &single, &Tolerances::default());
        let check = &find(&comparison, "dgl").metrics[0];
        assert_eq!((check.spread, check.band), (None, band_floor(Metric::TestError)));
    }

    #[test]
    fn accuracy_drop_beyond_the_band_is_flagged_and_within_passes() {
        let drop = |points: f64| -> Vec<ResultRow> {
            baseline()
                .into_iter()
                .map(|mut r| {
                    if r.method == "glcan" {
                        r.test_accuracy = r.test_accuracy.map(|a| a - points);
                    }
                    r
                })
                .collect()
        };
        let within = compare(&baseline(), &drop(1.9), &Tolerances::default());
        assert!(within.passed(), "{:?}", within.failures());
        let beyond = compare(&baseline(), &drop(2.5), &Tolerances::default());
        let failures = beyond.failures();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(
            failures[0].contains("GLCAN K = 2") && failures[0].contains("Test error 25.00% → 27.50% (+2.50; band ±2.00"),
            "{}",
            failures[0]
        );
        assert_eq!(beyond.regressed_configs(), 1);
        // The same gain is a note, not a failure.
        let better = compare(&baseline(), &drop(-2.5), &Tolerances::default());
        assert!(better.passed());
        assert!(better.notes.iter().any(|n| n.contains("better than the band")), "{:?}", better.notes);
    }

    #[test]
    fn on_the_baselines_numerics_each_seed_must_reproduce_its_run() {
        let fingerprinted = |rows: Vec<ResultRow>, fingerprint: &str| -> Vec<ResultRow> {
            rows.into_iter().map(|r| ResultRow { kernel_fingerprint: fingerprint.into(), ..r }).collect()
        };
        let drop = |points: f64| -> Vec<ResultRow> {
            baseline()
                .into_iter()
                .map(|mut r| {
                    if r.method == "glcan" {
                        r.test_accuracy = r.test_accuracy.map(|a| a - points);
                    }
                    r
                })
                .collect()
        };
        let base = fingerprinted(baseline(), "83d80295ebe1b8d8");
        // Same numerics: the seed-to-seed band (±2.00 here) gives way to the floor.
        let same = compare(&base, &fingerprinted(drop(0.6), "83d80295ebe1b8d8"), &Tolerances::default());
        let failures = same.failures();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].contains("band ±0.50 = the floor: seed for seed"), "{}", failures[0]);
        assert!(compare(&base, &fingerprinted(drop(0.4), "83d80295ebe1b8d8"), &Tolerances::default()).passed());
        // Other numerics: judged by the spread, and said so.
        let other = compare(&base, &fingerprinted(drop(0.6), "961c7e24a7fd998a"), &Tolerances::default());
        assert!(other.passed(), "{:?}", other.failures());
        assert!(other.notes.iter().any(|n| n.contains("961c7e24a7fd998a") && n.contains("seed-to-seed band")), "{:?}", other.notes);
    }

    #[test]
    fn other_cpu_kernels_are_a_changed_recipe() {
        let native: Vec<ResultRow> = baseline().into_iter().map(|r| ResultRow { cpu_isa: "native-avx512".into(), ..r }).collect();
        let failures = compare(&baseline(), &native, &Tolerances::default()).failures();
        assert!(failures.iter().any(|f| f.contains("CPU kernels avx2 → native-avx512")), "{failures:?}");
    }

    #[test]
    fn memory_beyond_one_percent_either_way_is_flagged() {
        for (factor, expected) in [(1.02, "+2.00%"), (0.98, "−2.00%")] {
            let mut current = baseline();
            for row in current.iter_mut().filter(|r| r.method == "dgl") {
                row.step_peak_bytes = (row.step_peak_bytes as f64 * factor) as u64;
            }
            let failures = compare(&baseline(), &current, &Tolerances::default()).failures();
            assert_eq!(failures.len(), 1, "{failures:?}");
            assert!(
                failures[0].contains("DGL K = 2") && failures[0].contains("23.842 MiB → ") && failures[0].contains(expected),
                "{}",
                failures[0]
            );
        }
        let mut current = baseline();
        for row in &mut current {
            row.step_peak_bytes += row.step_peak_bytes / 200;
        }
        assert!(compare(&baseline(), &current, &Tolerances::default()).passed(), "+0.5% is within 1%");
    }

    #[test]
    fn missing_and_failed_runs_fail_new_ones_do_not() {
        let mut current: Vec<ResultRow> =
            baseline().into_iter().filter(|r| r.method != "e2e" && !(r.method == "dgl" && r.seed == 2)).collect();
        let glcan_1 = current.iter_mut().find(|r| r.method == "glcan" && r.seed == 1).unwrap();
        glcan_1.status = RunStatus::Failed;
        glcan_1.test_accuracy = None;
        glcan_1.error = "loss of module 2 is NaN at epoch 1\nmore".into();
        current.push(row("infopro-contrast", 2, 0, 70.0));
        current.push(row("dgl", 2, 7, 74.0));
        let comparison = compare(&baseline(), &current, &Tolerances::default());
        let failures = comparison.failures();
        assert_eq!(failures.len(), 3, "{failures:?}");
        assert!(failures.iter().any(|f| f.contains("E2E K = 1") && f.contains("the whole configuration is missing")), "{failures:?}");
        assert!(failures.iter().any(|f| f.contains("DGL K = 2") && f.contains("seed 2 missing")), "{failures:?}");
        assert!(
            failures
                .iter()
                .any(|f| f.contains("GLCAN K = 2")
                    && f.ends_with("seed 1 failed in the current results: loss of module 2 is NaN at epoch 1")),
            "{failures:?}"
        );
        // The seeds both sides have are still compared.
        assert_eq!(find(&comparison, "glcan").metrics.len(), 1);
        assert_eq!(comparison.new.len(), 1);
        assert_eq!(comparison.new[0].key.label(), "InfoPro (Contrast) K = 2");
        assert!(comparison.notes.iter().any(|n| n.contains("seed 7 only in the current results")), "{:?}", comparison.notes);
    }

    #[test]
    fn changed_recipe_is_not_comparable() {
        let mut current = baseline();
        for row in &mut current {
            row.threads = 4;
        }
        let failures = compare(&baseline(), &current, &Tolerances::default()).failures();
        assert_eq!(failures.len(), 3, "{failures:?}");
        assert!(failures.iter().all(|f| f.contains("threads 2 → 4") && f.contains("make baseline")), "{failures:?}");
    }

    #[test]
    fn methods_match_whatever_their_case() {
        let mut current = baseline();
        for row in &mut current {
            row.method = row.method.to_uppercase();
        }
        let comparison = compare(&baseline(), &current, &Tolerances::default());
        assert!(comparison.passed(), "{:?}", comparison.failures());
        assert!(comparison.notes.is_empty(), "{:?}", comparison.notes);
    }

    #[test]
    fn a_seed_finished_twice_fails_on_either_side_a_retried_failure_does_not() {
        let mut twice = baseline();
        twice.push(row("GLCAN", 2, 0, 76.0));
        for (base, current, side) in [(baseline(), twice.clone(), "the current results"), (twice.clone(), baseline(), "the baseline")] {
            let failures = compare(&base, &current, &Tolerances::default()).failures();
            assert_eq!(failures, vec![format!("classify · fashion-mnist · resnet8 · preset test · GLCAN K = 2: seed 0 finished more than once in {side}; which row counts is not guessed: keep one")]);
        }
        // The grids re-run a failed run and append the new row: the finished row counts.
        let mut retried = baseline();
        retried.insert(0, ResultRow { status: RunStatus::Failed, test_accuracy: None, error: "killed".into(), ..row("glcan", 2, 0, 0.0) });
        let comparison = compare(&baseline(), &retried, &Tolerances::default());
        assert!(comparison.passed(), "{:?}", comparison.failures());
        assert!(
            comparison
                .notes
                .iter()
                .any(|n| n.contains("GLCAN K = 2: seed 0 has both failed and finished rows in the current results; the last row counts")),
            "{:?}",
            comparison.notes
        );
    }

    #[test]
    fn a_baseline_without_the_suite_metric_fails_instead_of_passing_anything() {
        // The current GLCAN fell from about 75% to 10%: it must not pass because the baseline
        // lacks the number to compare with.
        let current: Vec<ResultRow> =
            baseline().into_iter().map(|r| if r.method == "glcan" { ResultRow { test_accuracy: Some(10.0), ..r } } else { r }).collect();
        for lost in [None, Some(f64::NAN)] {
            let base: Vec<ResultRow> =
                baseline().into_iter().map(|r| if r.method == "glcan" { ResultRow { test_accuracy: lost, ..r } } else { r }).collect();
            let failures = compare(&base, &current, &Tolerances::default()).failures();
            assert_eq!(failures, vec!["classify · fashion-mnist · resnet8 · preset test · GLCAN K = 2: the baseline has no Test error for seeds 0, 1, 2 (empty or not a finite number), so it cannot be judged; regenerate the baseline (`make baseline`)".to_string()], "{lost:?}");
        }
        // One seed without it is enough to fail; the others are still compared.
        let mut base = baseline();
        base.iter_mut().find(|r| r.method == "dgl" && r.seed == 1).unwrap().test_accuracy = Some(f64::NAN);
        let comparison = compare(&base, &baseline(), &Tolerances::default());
        assert!(comparison.failures().iter().any(|f| f.ends_with("DGL K = 2: the baseline has no Test error for seed 1 (empty or not a finite number), so it cannot be judged; regenerate the baseline (`make baseline`)")), "{:?}", comparison.failures());
        assert_eq!(find(&comparison, "dgl").metrics.len(), 1);
    }

    #[test]
    fn higher_is_better_metrics_fail_when_lower() {
        let sr = |seed: u64, psnr: f64| ResultRow {
            suite: "sr".into(),
            test_accuracy: None,
            psnr_y: Some(psnr),
            ssim_y: Some(0.9),
            ..row("glcan", 2, seed, 0.0)
        };
        let baseline = vec![sr(0, 30.00), sr(1, 30.02)];
        let check = |current: f64| compare(&baseline, &[sr(0, current), sr(1, current)], &Tolerances::default());
        // Spread 0.014 dB: the band is the 0.05 dB floor.
        assert!(check(29.98).passed());
        let failures = check(29.9).failures();
        assert!(failures.len() == 1 && failures[0].contains("PSNR (Y) 30.01 dB → 29.90 dB (−0.11; band ±0.05"), "{failures:?}");
        assert!(check(31.0).passed());
    }

    #[test]
    fn signs_print_with_true_minus() {
        assert_eq!(signed(2.5, 2), "+2.50");
        assert_eq!(signed(-0.3, 1), "−0.3");
        assert_eq!(signed(-0.0001, 2), "±0.00");
    }
}
