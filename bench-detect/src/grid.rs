//! `bench-detect grid`: methods x K x seeds of one detection preset (`configs/detect-*.toml`).
//!
//! As in the classification suite: each run gets a run directory (`runs/<run-id>-<hash8>/`:
//! the resolved `config.json` with the run's config hash, `detector.json`, `env.json`,
//! per-epoch `metrics.csv`, `checkpoint.ot`, the final `evaluation.json` and
//! `predictions.png`, test images with true (green) and predicted (red) boxes) and one row
//! in `results.csv`, appended atomically. A failed run is recorded as failed and the grid
//! goes on. The grid holds the lock of its `--out` folder throughout: a second grid on the
//! same folder is refused. A later invocation skips runs with an `ok` row of the same config
//! hash (a changed recipe is a new run in a new folder) and resumes interrupted ones from
//! their checkpoint.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use glcan_core::cpu_kernels::CpuIsa;
use glcan_core::aux::{AuxConfig, Method};
use glcan_core::models::{ResNetImageNet, UnitNetwork};
use glcan_core::optim::{OptimizerConfig, Schedule};
use glcan_core::run_env::{now_rfc3339, parse_device, Environment};
use glcan_core::split::{self, SplitStrategy};
use glcan_core::train::{train_local, write_grid_run_config, LogProgress, OptimizerScope, TrainConfig, TrainOutcome};
use glcan_store::{append_row, read_rows, OutLock, ResultRow, RunConfig, RunStatus};
use tch::Device;

use crate::data::DetectionData;
use crate::datasets::{DatasetName, Format};
use crate::detector::{pyramid_taps, DetectionTask, DetectorConfig};
use crate::digits::DigitsConfig;

/// How the network is cut into K modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectSplit {
    /// At stage ends, the earliest first: after stage 1 (K = 2), after stage 1 and C3
    /// (K = 3), after stage 1, C3 and C4 (K = 4), then the stem. The early, high-resolution
    /// stages hold most of the activation memory and learn generic features locally, so
    /// cutting them off first saves the most memory for the least accuracy (InfoPro's
    /// memory-balanced splits cut early for the same reason).
    #[default]
    Early,
    /// At pyramid levels first: after C3 (K = 2), after C3 and C4 (K = 3), then the earlier
    /// stage ends, so that every aux net sits at a level of the pyramid.
    Pyramid,
    /// Nearly equal numbers of units per module.
    Even,
}

/// A detection preset. Fields not given take the defaults.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridConfig {
    pub preset: String,
    pub dataset: DatasetName,
    /// For datasets written in both formats (digits): which reader to use.
    #[serde(default = "default_format")]
    pub format: Format,
    /// `resnetD` or `resnetD-wW`: an ImageNet-style ResNet of depth D (10, 18, 34, 50, ...)
    /// with base width W (64 when absent).
    pub network: String,
    pub methods: Vec<Method>,
    /// K values for the local methods; `e2e` always runs once, at K = 1.
    pub ks: Vec<usize>,
    pub seeds: Vec<u64>,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// Network input side; images of other sizes are resized.
    pub image_size: usize,
    /// > 0: hold out the last N training images and evaluate on them, not on the test set.
    #[serde(default)]
    pub validation: usize,
    #[serde(default)]
    pub train_subset: Option<usize>,
    #[serde(default)]
    pub split: DetectSplit,
    #[serde(default)]
    pub aux: AuxConfig,
    #[serde(default)]
    pub detector: DetectorConfig,
    /// The digit-detection set to generate when absent (dataset `digits`).
    #[serde(default)]
    pub digits: DigitsConfig,
    /// Folder of the digit set under the data folder.
    #[serde(default = "default_digits_dir")]
    pub digits_dir: PathBuf,
    #[serde(default = "default_optimizer")]
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub schedule: Schedule,
    /// CPU kernels: `avx2` (default: the same numbers and peak memory on every x86-64 CPU
    /// with AVX2, as committed baselines and reports need) or `native` (this CPU's fastest).
    #[serde(default)]
    pub cpu_isa: CpuIsa,
    /// libtorch intra-op threads for every run (the machine's default when absent). The
    /// smoke and quick presets pin it so their numbers do not follow the machine's core count.
    #[serde(default)]
    pub threads: Option<usize>,
    #[serde(default = "default_device")]
    pub device: String,
}

fn default_format() -> Format {
    Format::Coco
}

fn default_digits_dir() -> PathBuf {
    PathBuf::from("digits")
}

fn default_optimizer() -> OptimizerConfig {
    OptimizerConfig::Sgd { momentum: 0.9, nesterov: false, weight_decay: 1e-4 }
}

fn default_device() -> String {
    "cpu".to_owned()
}

/// The network of a preset's `network` name.
pub fn network_by_name(name: &str, num_classes: i64, image_size: i64) -> Result<ResNetImageNet> {
    let bad = || anyhow::anyhow!("network {name:?}: expected resnetD or resnetD-wW (e.g. resnet10-w16)");
    let rest = name.strip_prefix("resnet").ok_or_else(bad)?;
    let (depth, width) = match rest.split_once("-w") {
        Some((d, w)) => (d.parse().map_err(|_| bad())?, w.parse().map_err(|_| bad())?),
        None => (rest.parse().map_err(|_| bad())?, 64),
    };
    Ok(ResNetImageNet::with_width(depth, width, num_classes, image_size)?)
}

/// The split points of `strategy` for K modules.
pub fn split_strategy(network: &dyn UnitNetwork, k: usize, strategy: DetectSplit) -> Result<SplitStrategy> {
    if k <= 1 || strategy == DetectSplit::Even {
        return Ok(SplitStrategy::Even);
    }
    let (taps, _) = pyramid_taps(network)?;
    let units = network.units();
    // Ends of the stages before C3, deepest first (stage 1, then the stem).
    let mut early: Vec<usize> = (0..taps[0]).filter(|&i| units[i + 1].id.stage != units[i].id.stage).collect();
    early.reverse();
    let candidates: Vec<usize> = match strategy {
        DetectSplit::Pyramid => [taps[0], taps[1]].into_iter().chain(early).collect(),
        _ => early.first().copied().into_iter().chain([taps[0], taps[1]]).chain(early.iter().skip(1).copied()).collect(),
    };
    if k - 1 > candidates.len() {
        bail!("split {strategy:?}: {} has {} stage ends to cut at, K = {k} needs {}", network.name(), candidates.len(), k - 1);
    }
    let mut points: Vec<usize> = candidates[..k - 1].to_vec();
    points.sort_unstable();
    Ok(SplitStrategy::Points(points.into_iter().map(|i| units[i].id).collect()))
}

impl GridConfig {
    /// Reads a preset and applies `--set` overrides; errors name the file or the field.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let config: GridConfig = glcan_core::preset::load(path, overrides)?;
        // Before `check` builds any network: the kernels are fixed by the first tensor.
        glcan_core::cpu_kernels::pin(config.cpu_isa).with_context(|| format!("preset {}", path.display()))?;
        config.check().with_context(|| format!("invalid preset {}", path.display()))?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        if self.methods.is_empty() || self.seeds.is_empty() {
            bail!("methods and seeds must not be empty");
        }
        for method in &self.methods {
            method.check_suite("bench-detect", &crate::detector::METHODS)?;
        }
        if self.methods.iter().any(|&m| m != Method::E2e) && self.ks.is_empty() {
            bail!("ks is empty but local methods are listed");
        }
        self.detector.validate()?;
        if self.dataset == DatasetName::Digits {
            self.digits.validate()?;
        }
        let network = network_by_name(&self.network, 10, self.image_size as i64)?;
        for run in self.runs() {
            let config = run.train_config(self, &network)?;
            config.validate().with_context(|| format!("run {}", run.id(self)))?;
            split::split(&network, run.k, &config.split).with_context(|| format!("run {}", run.id(self)))?;
        }
        Ok(())
    }

    /// Every run, in order: method, K, seed.
    pub fn runs(&self) -> Vec<RunKey> {
        let mut runs = Vec::new();
        for &method in &self.methods {
            let ks = if method == Method::E2e { vec![1] } else { self.ks.clone() };
            for k in ks {
                for &seed in &self.seeds {
                    runs.push(RunKey { method, k, seed });
                }
            }
        }
        runs
    }
}

/// The preset's lists the grid iterates over: a run's config hash leaves them out (the
/// run's own method, K and seed stand in for them).
const ITERATED: [&str; 3] = ["methods", "ks", "seeds"];

/// One point of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RunKey {
    pub method: Method,
    pub k: usize,
    pub seed: u64,
}

impl RunKey {
    pub fn id(&self, grid: &GridConfig) -> String {
        format!("{}-{}-{}-k{}-s{}", grid.dataset.name(), grid.network, self.method, self.k, self.seed)
    }

    /// The run's resolved config and its hash: the preset as resolved (overrides applied)
    /// less the iterated lists, plus this run's identity.
    pub fn run_config(&self, grid: &GridConfig) -> Result<RunConfig> {
        RunConfig::new(grid, &ITERATED, self).with_context(|| format!("run {}", self.id(grid)))
    }

    /// The trainer's config of this run.
    pub fn train_config(&self, grid: &GridConfig, network: &dyn UnitNetwork) -> Result<TrainConfig> {
        Ok(TrainConfig {
            method: self.method,
            k: self.k,
            split: split_strategy(network, self.k, grid.split)?,
            aux: grid.aux.clone(),
            optimizer: grid.optimizer.clone(),
            optimizer_scope: OptimizerScope::Shared,
            epochs: grid.epochs,
            batch_size: grid.batch_size,
            eval_batch_size: 100,
            lr: grid.lr,
            schedule: grid.schedule.clone(),
            seed: self.seed,
        })
    }

    fn matches(&self, row: &ResultRow, grid: &GridConfig, run_config: &RunConfig) -> bool {
        row.config_hash == run_config.config_hash
            && row.preset == grid.preset
            && row.dataset == grid.dataset.name()
            && row.network == grid.network
            && row.method == self.method.name()
            && row.k == self.k
            && row.seed == self.seed
    }
}

/// Runs the grid into `out`. Returns (ran, skipped, failed).
pub fn run(config: &GridConfig, out: &Path, data_dir: &Path) -> Result<(usize, usize, usize)> {
    let device = parse_device(&config.device)?;
    glcan_core::run_env::set_threads(config.threads)?;
    let _lock = OutLock::acquire(out)?;
    let results = out.join("results.csv");
    let done = if results.exists() { read_rows(&results)? } else { Vec::new() };
    let environment = Environment::capture(device);
    let runs = config.runs().into_iter().map(|key| key.run_config(config).map(|c| (key, c))).collect::<Result<Vec<_>>>()?;
    let (mut ran, mut skipped, mut failed) = (0, 0, 0);
    for (i, (key, run_config)) in runs.iter().enumerate() {
        if done.iter().any(|row| row.status == RunStatus::Ok && key.matches(row, config, run_config)) {
            skipped += 1;
            continue;
        }
        let id = key.id(config);
        eprintln!("grid [{}/{}] {id}", i + 1, runs.len());
        let run_dir = PathBuf::from("runs").join(run_config.dir_name(&id));
        let started = Instant::now();
        let outcome = run_one(config, key, run_config, &out.join(&run_dir), data_dir, device, &environment);
        let row = ResultRow { config_hash: run_config.config_hash.clone(), ..result_row(config, key, &outcome, &environment, &run_dir, started.elapsed().as_secs_f64()) };
        if let Err(error) = &outcome {
            failed += 1;
            eprintln!("grid: {id} failed: {error:#}");
        }
        append_row(&results, &row)?;
        ran += 1;
    }
    Ok((ran, skipped, failed))
}

/// What a finished run reports.
pub struct RunReport {
    pub outcome: TrainOutcome,
    pub train_images: usize,
    pub test_images: usize,
}

/// Trains and evaluates one run into `run_dir`.
pub fn run_one(config: &GridConfig, key: &RunKey, run_config: &RunConfig, run_dir: &Path, data_dir: &Path, device: Device, environment: &Environment) -> Result<RunReport> {
    let sets = config.dataset.open(data_dir, &config.digits_dir, &config.digits, config.format, config.validation, config.train_subset, config.image_size)?;
    let network = network_by_name(&config.network, sets.num_classes as i64, config.image_size as i64)?;
    let task = DetectionTask::new(&network, sets.num_classes as i64, &config.detector)?;
    let train_config = key.train_config(config, &network)?;
    let data = DetectionData::new(
        sets.train,
        sets.test,
        sets.num_classes,
        config.image_size,
        sets.normalization,
        sets.horizontal_flip,
        config.batch_size,
        train_config.eval_batch_size,
        key.seed,
        &config.detector,
    )?;
    write_grid_run_config(run_dir, &train_config, run_config)?;
    let write = |name: &str, json: String| glcan_store::write_atomic(&run_dir.join(name), json.as_bytes());
    write("env.json", serde_json::to_string_pretty(environment)?)?;
    write("detector.json", serde_json::to_string_pretty(&config.detector)?)?;
    let resume = run_dir.join("checkpoint.ot").exists();
    let mut progress = LogProgress { label: key.id(config) };
    let outcome = train_local(&network, &task, &data, &train_config, device, Some(run_dir), resume, &mut progress)?;
    let details: serde_json::Map<String, serde_json::Value> = std::iter::once(("AP50".to_owned(), outcome.final_evaluation.metric.into()))
        .chain(outcome.final_evaluation.details.iter().map(|(name, value)| (name.clone(), (*value).into())))
        .collect();
    write("evaluation.json", serde_json::to_string_pretty(&details)?)?;
    let examples = data.examples();
    if !examples.is_empty() {
        crate::draw::predictions_png(&examples, &run_dir.join("predictions.png"), 2, 0.3)?;
    }
    Ok(RunReport { outcome, train_images: data.train_images(), test_images: data.test_images() })
}

fn detail(outcome: &TrainOutcome, name: &str) -> Option<f64> {
    outcome.final_evaluation.details.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

fn result_row(config: &GridConfig, key: &RunKey, outcome: &Result<RunReport>, env: &Environment, run_dir: &Path, seconds: f64) -> ResultRow {
    let base = ResultRow {
        dataset: config.dataset.name().into(),
        network: config.network.clone(),
        method: key.method.name().into(),
        k: key.k,
        seed: key.seed,
        epochs: config.epochs,
        batch_size: config.batch_size,
        device: env.device.clone(),
        threads: env.threads.max(0) as usize,
        cpu_isa: env.cpu_kernels.label(),
        kernel_fingerprint: env.kernel_fingerprint.clone(),
        git_commit: env.git_commit.clone(),
        run_dir: run_dir.display().to_string(),
        finished_at: now_rfc3339(),
        seconds,
        ..ResultRow::unmeasured("detect", &config.preset)
    };
    match outcome {
        Ok(report) => {
            let o = &report.outcome;
            let mut speeds: Vec<f64> = o.epochs.iter().map(|e| e.images_per_s).collect();
            speeds.sort_by(f64::total_cmp);
            // A run resumed past its last epoch has no fresh details: AP is then unknown.
            ResultRow {
                train_images: report.train_images,
                test_images: report.test_images,
                ap50: Some(o.last().test_metric),
                ap: detail(o, "AP"),
                step_peak_bytes: o.step_peak_bytes(),
                peak_rss_bytes: o.last().peak_rss_bytes,
                images_per_s: speeds[speeds.len() / 2],
                network_parameters: o.network_parameters,
                ..base
            }
        }
        Err(error) => ResultRow { status: RunStatus::Failed, error: format!("{error:#}"), ..base },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cut_at_stage_ends_in_the_order_of_their_strategy() {
        let net = network_by_name("resnet10-w8", 10, 64).unwrap();
        // Units: stem [0,0], [1,0], [2,0] = C3, [3,0] = C4, [4,0] = C5.
        let points = |k, strategy| match split_strategy(&net, k, strategy).unwrap() {
            SplitStrategy::Points(p) => p,
            other => panic!("{other:?}"),
        };
        use glcan_core::models::UnitId;
        let (stem, s1, c3, c4) = (UnitId::new(0, 0), UnitId::new(1, 0), UnitId::new(2, 0), UnitId::new(3, 0));
        assert_eq!(points(2, DetectSplit::Pyramid), [c3]);
        assert_eq!(points(3, DetectSplit::Pyramid), [c3, c4]);
        assert_eq!(points(4, DetectSplit::Pyramid), [s1, c3, c4]);
        assert_eq!(points(2, DetectSplit::Early), [s1]);
        assert_eq!(points(3, DetectSplit::Early), [s1, c3]);
        assert_eq!(points(5, DetectSplit::Early), [stem, s1, c3, c4]);
        assert!(split_strategy(&net, 6, DetectSplit::Pyramid).is_err());
        assert!(network_by_name("vgg", 10, 64).is_err() && network_by_name("resnet10-wx", 10, 64).is_err());
    }
}
