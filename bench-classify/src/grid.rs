//! `bench-classify grid`: datasets x networks x methods x K x seeds from one preset file.
//!
//! Each run gets a run directory (`runs/<run-id>-<hash8>/`: resolved `config.json` with the
//! run's config hash, `env.json`, the per-epoch `metrics.csv`, `checkpoint.ot`) and one row
//! in `results.csv`, appended atomically. A failed run is recorded as failed, with its
//! error, and the grid goes on. The grid holds the lock of its `--out` folder throughout: a
//! second grid on the same folder is refused. A later invocation skips runs that already
//! have an `ok` row with the same config hash (a changed recipe, e.g. `--set epochs=4`, is
//! a new run in a new folder; added seeds leave the finished ones alone) and resumes
//! interrupted ones from their checkpoint.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use glcan_core::cpu_kernels::CpuIsa;
use glcan_core::aux::{AuxConfig, Method};
use glcan_data::subset::Subset;
use glcan_core::models;
use glcan_core::run_env::{now_rfc3339, Environment};
use glcan_core::optim::{OptimizerConfig, Schedule};
use glcan_core::split::{self, SplitStrategy};
use glcan_core::train::{train_classifier, write_grid_run_config, ClassificationData, OptimizerScope, TrainConfig, TrainOutcome};
use glcan_store::{append_row, read_rows, OutLock, ResultRow, RunConfig, RunStatus};
use tch::Device;

use crate::args::parse_device;
use crate::datasets::DatasetName;
use crate::progress::RunProgress;

/// A preset: what to run. Fields not given take the defaults below (InfoPro's recipe).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridConfig {
    /// Name of the preset, recorded in every result row.
    pub preset: String,
    pub datasets: Vec<DatasetName>,
    pub networks: Vec<String>,
    pub methods: Vec<Method>,
    /// K values for the local methods; `e2e` always runs once, at K = 1.
    pub ks: Vec<usize>,
    pub seeds: Vec<u64>,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// Train on the first N training images only (all when absent).
    #[serde(default)]
    pub train_subset: Option<usize>,
    /// Evaluate on the first N test images only (all when absent).
    #[serde(default)]
    pub test_subset: Option<usize>,
    /// Hold out the last N training images and evaluate on them instead of the test set:
    /// for choosing options without looking at the test set. Training then draws from the
    /// images before them, and rows name the dataset `<dataset>-val`.
    #[serde(default)]
    pub validation: Option<usize>,
    #[serde(default)]
    pub split: SplitStrategy,
    #[serde(default)]
    pub aux: AuxConfig,
    #[serde(default = "OptimizerConfig::infopro_sgd")]
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub schedule: Schedule,
    /// CPU kernels: `avx2` (default: the same numbers and peak memory on every x86-64 CPU
    /// with AVX2, as committed baselines and reports need) or `native` (this CPU's fastest).
    #[serde(default)]
    pub cpu_isa: CpuIsa,
    #[serde(default = "default_device")]
    pub device: String,
    /// libtorch intra-op threads for every run (the machine's default when absent). The
    /// `smoke` preset pins it so its numbers do not depend on the CI machine's core count.
    #[serde(default)]
    pub threads: Option<usize>,
}

fn default_device() -> String {
    "cpu".to_owned()
}

impl GridConfig {
    /// Reads a preset file and applies `overrides` (`field=value`, the value in TOML syntax,
    /// e.g. `epochs=5`, `seeds=[0,1]`, `methods=["e2e","glcan"]`, `aux.glcan.fusion="gated-sum"`);
    /// unknown fields and impossible values are errors naming the file or the override.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let config: GridConfig = glcan_core::preset::load(path, overrides)?;
        // Before `check` builds any network: the kernels are fixed by the first tensor.
        glcan_core::cpu_kernels::pin(config.cpu_isa).with_context(|| format!("preset {}", path.display()))?;
        config.check().with_context(|| format!("invalid preset {}", path.display()))?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        for (field, empty) in [
            ("datasets", self.datasets.is_empty()),
            ("networks", self.networks.is_empty()),
            ("methods", self.methods.is_empty()),
            ("seeds", self.seeds.is_empty()),
        ] {
            if empty {
                bail!("{field} is empty");
            }
        }
        if self.threads == Some(0) {
            bail!("threads is 0: give at least 1, or leave it out for the machine's default");
        }
        if self.methods.iter().any(|&m| m != Method::E2e) && self.ks.is_empty() {
            bail!("ks is empty but local methods are listed");
        }
        for run in self.runs() {
            let config = run.train_config(self);
            config.validate().with_context(|| format!("run {}", run.id()))?;
            // K against the network's units, before hours of other runs go by.
            let (channels, size, classes) = run.dataset.geometry();
            let network = models::by_name(&run.network, channels, classes, size)?;
            let strategy = if config.split == SplitStrategy::MemoryBalanced { SplitStrategy::Even } else { config.split.clone() };
            split::split(network.as_ref(), run.k, &strategy).with_context(|| format!("run {}", run.id()))?;
        }
        Ok(())
    }

    /// Every run of the grid, in order: dataset, network, method, K, seed.
    pub fn runs(&self) -> Vec<RunKey> {
        let mut runs = Vec::new();
        for &dataset in &self.datasets {
            for network in &self.networks {
                for &method in &self.methods {
                    let ks = if method == Method::E2e { vec![1] } else { self.ks.clone() };
                    for k in ks {
                        for &seed in &self.seeds {
                            runs.push(RunKey { dataset, network: network.clone(), method, k, seed });
                        }
                    }
                }
            }
        }
        runs
    }
}

/// The preset's lists the grid iterates over: a run's config hash leaves them out (the
/// run's own dataset, network, method, K and seed stand in for them).
const ITERATED: [&str; 5] = ["datasets", "networks", "methods", "ks", "seeds"];

/// One point of the grid.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunKey {
    pub dataset: DatasetName,
    pub network: String,
    pub method: Method,
    pub k: usize,
    pub seed: u64,
}

impl RunKey {
    pub fn id(&self) -> String {
        format!("{}-{}-{}-k{}-s{}", self.dataset, self.network, self.method, self.k, self.seed)
    }

    /// The run's resolved config and its hash: the preset as resolved (overrides applied)
    /// less the iterated lists, plus this run's identity.
    pub fn run_config(&self, grid: &GridConfig) -> Result<RunConfig> {
        RunConfig::new(grid, &ITERATED, self).with_context(|| format!("run {}", self.id()))
    }

    fn train_config(&self, grid: &GridConfig) -> TrainConfig {
        TrainConfig {
            method: self.method,
            k: self.k,
            split: grid.split.clone(),
            aux: grid.aux.clone(),
            optimizer: grid.optimizer.clone(),
            optimizer_scope: OptimizerScope::Shared,
            epochs: grid.epochs,
            batch_size: grid.batch_size,
            eval_batch_size: 500,
            lr: grid.lr,
            schedule: grid.schedule.clone(),
            seed: self.seed,
        }
    }

    /// The dataset as result rows name it: `-val` marks runs evaluated on held-out
    /// training images.
    fn dataset_label(&self, grid: &GridConfig) -> String {
        match grid.validation {
            Some(_) => format!("{}-val", self.dataset.name()),
            None => self.dataset.name().to_owned(),
        }
    }

    fn matches(&self, row: &ResultRow, grid: &GridConfig, run_config: &RunConfig) -> bool {
        row.config_hash == run_config.config_hash
            && row.preset == grid.preset
            && row.dataset == self.dataset_label(grid)
            && row.method == self.method.name()
            && row.k == self.k
            && row.seed == self.seed
            && row.network == self.network
    }
}

/// Runs the whole grid into `out` (results.csv and runs/). Returns (ran, skipped, failed).
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
        eprintln!("grid [{}/{}] {}", i + 1, runs.len(), key.id());
        let run_dir = PathBuf::from("runs").join(run_config.dir_name(&key.id()));
        let started = Instant::now();
        let outcome = run_one(config, key, run_config, &out.join(&run_dir), data_dir, device, &environment);
        let row = ResultRow { config_hash: run_config.config_hash.clone(), ..result_row(config, key, &outcome, &environment, &run_dir, started.elapsed().as_secs_f64()) };
        if let Err(error) = &outcome {
            failed += 1;
            eprintln!("grid: {} failed: {error:#}", key.id());
        }
        append_row(&results, &row)?;
        ran += 1;
    }
    Ok((ran, skipped, failed))
}

/// Training and validation indices when the last `held_out` of `total` training images are
/// held out: the two never overlap.
fn validation_split(total: usize, train_subset: Option<usize>, held_out: usize) -> Result<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    if held_out == 0 || held_out >= total {
        bail!("validation = {held_out} must be between 1 and {} (the training images less one)", total.saturating_sub(1));
    }
    let kept = (total - held_out).min(train_subset.unwrap_or(usize::MAX));
    Ok((0..kept, total - held_out..total))
}

/// What a finished run reports, or its error.
struct RunReport {
    outcome: TrainOutcome,
    train_images: usize,
    test_images: usize,
}

fn run_one(config: &GridConfig, key: &RunKey, run_config: &RunConfig, run_dir: &Path, data_dir: &Path, device: Device, environment: &Environment) -> Result<RunReport> {
    let (channels, size, classes) = key.dataset.geometry();
    let network = models::by_name(&key.network, channels, classes, size)?;
    let (train, test) = key.dataset.open_both(data_dir)?;
    let train = Arc::new(train);
    let (train, test) = match config.validation {
        None => (Subset::first(train, config.train_subset.unwrap_or(usize::MAX)), Arc::new(Subset::first(Arc::new(test), config.test_subset.unwrap_or(usize::MAX)))),
        Some(held_out) => {
            let (kept, validation) = validation_split(glcan_data::Dataset::len(train.as_ref()), config.train_subset, held_out)?;
            (Subset::new(train.clone(), kept.collect())?, Arc::new(Subset::new(train, validation.collect())?))
        }
    };
    let train = Arc::new(train);
    let (train_images, test_images) = (glcan_data::Dataset::len(train.as_ref()), glcan_data::Dataset::len(test.as_ref()));
    let data = ClassificationData {
        train,
        test,
        augmentation: key.dataset.augmentation(),
        size_transforms: key.dataset.size_transforms(),
        normalization: key.dataset.normalization(),
        image_channels: channels,
        image_size: size,
    };
    let train_config = key.train_config(config);
    write_grid_run_config(run_dir, &train_config, run_config)?;
    let env_json = serde_json::to_string_pretty(environment)?;
    glcan_store::write_atomic(&run_dir.join("env.json"), env_json.as_bytes())?;
    // An interrupted run left a checkpoint: continue it rather than start over.
    let resume = run_dir.join("checkpoint.ot").exists();
    let mut progress = RunProgress::new(key.id());
    let outcome = train_classifier(network.as_ref(), &data, &train_config, device, Some(run_dir), resume, &mut progress)?;
    Ok(RunReport { outcome, train_images, test_images })
}

fn result_row(config: &GridConfig, key: &RunKey, outcome: &Result<RunReport>, env: &Environment, run_dir: &Path, seconds: f64) -> ResultRow {
    let base = ResultRow {
        dataset: key.dataset_label(config),
        network: key.network.clone(),
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
        ..ResultRow::unmeasured("classify", &config.preset)
    };
    match outcome {
        Ok(report) => {
            let last = report.outcome.last();
            // Throughput of the run: the median over its epochs.
            let mut speeds: Vec<f64> = report.outcome.epochs.iter().map(|e| e.images_per_s).collect();
            speeds.sort_by(f64::total_cmp);
            ResultRow {
                train_images: report.train_images,
                test_images: report.test_images,
                test_accuracy: Some(last.test_metric),
                step_peak_bytes: report.outcome.step_peak_bytes(),
                peak_rss_bytes: last.peak_rss_bytes,
                images_per_s: speeds[speeds.len() / 2],
                network_parameters: report.outcome.network_parameters,
                ..base
            }
        }
        Err(error) => ResultRow { status: RunStatus::Failed, error: format!("{error:#}"), ..base },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preset(extra: &str) -> String {
        format!("preset = \"t\"\ndatasets = [\"fashion-mnist\"]\nnetworks = [\"resnet8\"]\nmethods = [\"e2e\", \"dgl\", \"glcan\"]\nks = [2, 4]\nseeds = [0, 1]\nepochs = 1\nbatch_size = 32\nlr = 0.05\ncpu_isa = \"native\"\n{extra}")
    }

    #[test]
    fn e2e_runs_once_per_seed_at_k1() {
        let config: GridConfig = toml::from_str(&preset("")).unwrap();
        config.check().unwrap();
        let runs = config.runs();
        assert_eq!(runs.len(), 2 + 2 * 2 * 2);
        assert!(runs.iter().filter(|r| r.method == Method::E2e).all(|r| r.k == 1));
        assert_eq!(runs[2].id(), "fashion-mnist-resnet8-dgl-k2-s0");
    }

    #[test]
    fn bad_presets_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        for (text, expected) in [
            (preset("learning_rate = 1\n"), "learning_rate"),
            (preset("").replace("ks = [2, 4]", "ks = [2, 9]"), "K = 9"),
            (preset("").replace("seeds = [0, 1]", "seeds = []"), "seeds is empty"),
            (preset("").replace("\"dgl\"", "\"backprop\""), "backprop"),
            (preset("threads = 0\n"), "threads is 0"),
            ("preset = \n".to_owned(), "malformed preset"),
        ] {
            std::fs::write(&path, text).unwrap();
            let message = format!("{:#}", GridConfig::load(&path, &[]).unwrap_err());
            assert!(message.contains(expected) && message.contains("p.toml"), "{message}");
        }
    }

    #[test]
    fn overrides_change_the_preset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, preset("")).unwrap();
        let overrides = ["epochs=5", "seeds=[3]", "methods=[\"glcan\"]", "aux.glcan.fusion=\"gated-sum\"", "device=cpu"].map(String::from);
        let config = GridConfig::load(&path, &overrides).unwrap();
        assert_eq!((config.epochs, config.seeds.clone(), config.methods.clone()), (5, vec![3], vec![Method::Glcan]));
        assert_eq!(config.aux.glcan.fusion, glcan_core::aux::glcan::Fusion::GatedSum);
        let message = format!("{:#}", GridConfig::load(&path, &["epochs".to_owned()]).unwrap_err());
        assert!(message.contains("field=value"), "{message}");
        let message = format!("{:#}", GridConfig::load(&path, &["epoch=5".to_owned()]).unwrap_err());
        assert!(message.contains("epoch"), "{message}");
    }

    #[test]
    fn validation_images_come_after_every_training_image() {
        assert_eq!(validation_split(60000, Some(2000), 2000).unwrap(), (0..2000, 58000..60000));
        assert_eq!(validation_split(100, None, 30).unwrap(), (0..70, 70..100));
        assert_eq!(validation_split(100, Some(90), 30).unwrap(), (0..70, 70..100));
        assert!(format!("{:#}", validation_split(100, None, 100).unwrap_err()).contains("between 1 and 99"));
        assert!(validation_split(100, None, 0).is_err());
    }

}
