//! `bench-sr grid`: scales x methods x K x seeds of EDSR from one preset file, plus the
//! bicubic baseline row of every test set.
//!
//! Each run gets a run directory (`runs/<run-id>-<hash8>/`: resolved `config.json` with the
//! run's config hash, the grid's
//! `preset.json` (model and data choices), `env.json`, the
//! per-epoch `metrics.csv`, `checkpoint.ot`, and `crops/` of its SR output for the report's
//! image grid) and one row per test set in `results.csv`, appended atomically. The bicubic
//! baseline gets a row per (scale, test set) with method `bicubic`, K = 1, and its
//! directory holds the bicubic crops (`crops/`) and the HR crops (`hr/`). A failed run is
//! recorded as failed, with its error, and the grid goes on. The grid holds the lock of its
//! `--out` folder throughout: a second grid on the same folder is refused. A later
//! invocation skips what already has an `ok` row with the same config hash (a changed
//! recipe is a new run in a new folder) and resumes interrupted runs from their checkpoint.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use glcan_core::cpu_kernels::CpuIsa;
use glcan_core::aux::{AuxConfig, Method};
use glcan_data::resize::upscale;
use glcan_core::models::edsr::EdsrConfig;
use glcan_core::models::{Edsr, UnitNetwork};
use glcan_core::optim::{OptimizerConfig, Schedule};
use glcan_core::split::{self, SplitStrategy};
use glcan_core::train::{train_local, write_grid_run_config, LogProgress, OptimizerScope, TrainConfig, TrainOutcome};
use glcan_core::run_env::{now_rfc3339, parse_device, Environment};
use glcan_store::{append_row, read_rows, OutLock, ResultRow, RunConfig, RunStatus};
use tch::Device;

use crate::data::{detail_name, save_crop, score_set, CropOutput, SetScores, SrData, SrImage, TestSet};
use crate::sources::SrSource;
use crate::task::{InputSkip, SuperResolution};

/// The method name of the bicubic baseline rows.
pub const BICUBIC: &str = "bicubic";

/// EDSR's shape; the scale comes from the grid. Defaults: EDSR-baseline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdsrShape {
    pub n_resblocks: usize,
    pub n_feats: i64,
    pub res_scale: f64,
}

impl Default for EdsrShape {
    fn default() -> Self {
        let baseline = EdsrConfig::baseline(2);
        EdsrShape { n_resblocks: baseline.n_resblocks, n_feats: baseline.n_feats, res_scale: baseline.res_scale }
    }
}

/// A preset: what to run. Fields not given take the defaults below (EDSR's recipe).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrGridConfig {
    /// Name of the preset, recorded in every result row.
    pub preset: String,
    /// The training images: `sr-pool` (its train list) or `div2k` (DIV2K train).
    pub train: SrSource,
    /// Test sets, scored after every epoch: `sr-pool` (its test list), `div2k` (DIV2K
    /// valid), `set5`, `set14`, `b100`, `urban100`. The first one is the headline metric.
    pub tests: Vec<SrSource>,
    pub scales: Vec<usize>,
    #[serde(default)]
    pub edsr: EdsrShape,
    /// `bicubic`: the heads predict the residual to bicubic up-scaling (see
    /// `task::InputSkip`); `none` (default): EDSR's plain output.
    #[serde(default)]
    pub input_skip: InputSkip,
    /// Features of the aux nets' up-sampler heads (default: `edsr.n_feats`).
    #[serde(default)]
    pub aux_head_feats: Option<i64>,
    pub methods: Vec<Method>,
    /// K values for the local methods; `e2e` always runs once, at K = 1.
    pub ks: Vec<usize>,
    pub seeds: Vec<u64>,
    pub epochs: usize,
    /// Training steps per epoch (an "epoch" of random patches, as EDSR counts them).
    pub steps_per_epoch: usize,
    pub batch_size: usize,
    /// Side of the LR training patches, pixels.
    pub lr_patch: usize,
    pub lr: f64,
    #[serde(default = "even_split")]
    pub split: SplitStrategy,
    #[serde(default)]
    pub aux: AuxConfig,
    #[serde(default = "OptimizerConfig::edsr_adam")]
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub schedule: Schedule,
    /// Test images (of the first test set) whose crops each run saves.
    #[serde(default = "default_crop_images")]
    pub crop_images: usize,
    /// Side of those crops in HR pixels.
    #[serde(default = "default_crop_size")]
    pub crop_size: usize,
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

fn even_split() -> SplitStrategy {
    SplitStrategy::Even
}

fn default_crop_images() -> usize {
    3
}

fn default_crop_size() -> usize {
    96
}

fn default_device() -> String {
    "cpu".to_owned()
}

impl SrGridConfig {
    /// Reads a preset file and applies `overrides` (`field=value` in TOML syntax); unknown
    /// fields and impossible values are errors naming the file or the override.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let config: SrGridConfig = glcan_core::preset::load(path, overrides)?;
        // Before `check` builds any network: the kernels are fixed by the first tensor.
        glcan_core::cpu_kernels::pin(config.cpu_isa).with_context(|| format!("preset {}", path.display()))?;
        config.check().with_context(|| format!("invalid preset {}", path.display()))?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        for (field, empty) in [("tests", self.tests.is_empty()), ("scales", self.scales.is_empty()), ("methods", self.methods.is_empty()), ("seeds", self.seeds.is_empty())] {
            if empty {
                bail!("{field} is empty");
            }
        }
        for method in &self.methods {
            method.check_suite("bench-sr", &crate::task::METHODS)?;
        }
        if self.methods.iter().any(|&m| m != Method::E2e) && self.ks.is_empty() {
            bail!("ks is empty but local methods are listed");
        }
        if matches!(self.train, SrSource::Set5 | SrSource::Set14 | SrSource::B100 | SrSource::Urban100) {
            bail!("train = {:?} is a test set: train on sr-pool or div2k", self.train.name());
        }
        if let Some(feats) = self.aux_head_feats.filter(|&f| f < 1) {
            bail!("aux_head_feats must be at least 1, got {feats}");
        }
        for (field, value) in [("steps_per_epoch", self.steps_per_epoch), ("lr_patch", self.lr_patch), ("crop_size", self.crop_size)] {
            if value == 0 {
                bail!("{field} must be at least 1");
            }
        }
        for run in self.runs() {
            let network = self.network(run.scale).with_context(|| format!("run {}", run.id(self)))?;
            run.train_config(self).validate().with_context(|| format!("run {}", run.id(self)))?;
            let strategy = if self.split == SplitStrategy::MemoryBalanced { SplitStrategy::Even } else { self.split.clone() };
            split::split(&network, run.k, &strategy).with_context(|| format!("run {}", run.id(self)))?;
        }
        Ok(())
    }

    /// The EDSR of this preset at `scale`.
    pub fn network(&self, scale: usize) -> Result<Edsr> {
        let config = EdsrConfig { scale, n_resblocks: self.edsr.n_resblocks, n_feats: self.edsr.n_feats, res_scale: self.edsr.res_scale, ..EdsrConfig::baseline(scale) };
        Ok(Edsr::new(config, self.lr_patch as i64)?)
    }

    /// Every run of the grid, in order: scale, method, K, seed.
    pub fn runs(&self) -> Vec<RunKey> {
        let mut runs = Vec::new();
        for &scale in &self.scales {
            for &method in &self.methods {
                let ks = if method == Method::E2e { vec![1] } else { self.ks.clone() };
                for k in ks {
                    for &seed in &self.seeds {
                        runs.push(RunKey { scale, method, k, seed });
                    }
                }
            }
        }
        runs
    }
}

/// The preset's lists the grid iterates over: a run's config hash leaves them out (the
/// run's own scale, method, K and seed stand in for them).
const ITERATED: [&str; 4] = ["scales", "methods", "ks", "seeds"];

/// One point of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RunKey {
    pub scale: usize,
    pub method: Method,
    pub k: usize,
    pub seed: u64,
}

impl RunKey {
    /// `sr-pool-edsr-8b32f-x2-glcan-k4-s0`: training set, network, method, K, seed.
    pub fn id(&self, grid: &SrGridConfig) -> String {
        format!("{}-{}-{}-k{}-s{}", grid.train.name(), network_name(grid, self.scale), self.method, self.k, self.seed)
    }

    /// The run's resolved config and its hash: the preset as resolved (overrides applied)
    /// less the iterated lists, plus this run's identity.
    pub fn run_config(&self, grid: &SrGridConfig) -> Result<RunConfig> {
        RunConfig::new(grid, &ITERATED, self).with_context(|| format!("run {}", self.id(grid)))
    }

    fn train_config(&self, grid: &SrGridConfig) -> TrainConfig {
        TrainConfig {
            method: self.method,
            k: self.k,
            split: grid.split.clone(),
            aux: grid.aux.clone(),
            optimizer: grid.optimizer.clone(),
            optimizer_scope: OptimizerScope::Shared,
            epochs: grid.epochs,
            batch_size: grid.batch_size,
            eval_batch_size: 1,
            lr: grid.lr,
            schedule: grid.schedule.clone(),
            seed: self.seed,
        }
    }

    fn matches(&self, row: &ResultRow, grid: &SrGridConfig, run_config: &RunConfig) -> bool {
        row.status == RunStatus::Ok
            && row.config_hash == run_config.config_hash
            && row.preset == grid.preset
            && row.dataset == grid.tests[0].name()
            && row.network == network_name(grid, self.scale)
            && row.method == self.method.name()
            && row.k == self.k
            && row.seed == self.seed
    }
}

/// The config of the bicubic baseline of `test` at `scale`: only what changes its row.
fn bicubic_config(grid: &SrGridConfig, test: &str, scale: usize) -> Result<RunConfig> {
    let preset = serde_json::json!({ "preset": grid.preset, "crop_images": grid.crop_images, "crop_size": grid.crop_size });
    Ok(RunConfig::new(&preset, &[], &serde_json::json!({ "method": BICUBIC, "test": test, "scale": scale }))?)
}

fn network_name(grid: &SrGridConfig, scale: usize) -> String {
    grid.network(scale).map_or_else(|_| format!("edsr-x{scale}"), |n| n.name())
}

/// The decoded images of one scale, shared by its runs.
struct ScaleData {
    train: Arc<Vec<SrImage>>,
    tests: Arc<Vec<TestSet>>,
}

fn load_scale(config: &SrGridConfig, data_dir: &Path, scale: usize) -> Result<ScaleData> {
    let started = Instant::now();
    let train = config.train.open_train(data_dir, scale).with_context(|| format!("loading the training set {} at x{scale}", config.train.name()))?;
    let tests = config
        .tests
        .iter()
        .map(|t| t.open_test(data_dir, scale).with_context(|| format!("loading the test set {} at x{scale}", t.name())))
        .collect::<Result<Vec<_>>>()?;
    let count: usize = tests.iter().map(|t| t.images.len()).sum();
    eprintln!("grid: x{scale}: {} training and {count} test images decoded in {:.1}s", train.len(), started.elapsed().as_secs_f64());
    Ok(ScaleData { train: Arc::new(train), tests: Arc::new(tests) })
}

/// Runs the whole grid into `out` (results.csv and runs/). Returns (ran, skipped, failed).
pub fn run(config: &SrGridConfig, out: &Path, data_dir: &Path) -> Result<(usize, usize, usize)> {
    let device = parse_device(&config.device)?;
    glcan_core::run_env::set_threads(config.threads)?;
    let _lock = OutLock::acquire(out)?;
    let results = out.join("results.csv");
    let done = if results.exists() { read_rows(&results)? } else { Vec::new() };
    let environment = Environment::capture(device);
    let (mut ran, mut skipped, mut failed) = (0, 0, 0);
    let mut loaded: HashMap<usize, ScaleData> = HashMap::new();
    for &scale in &config.scales {
        let network = network_name(config, scale);
        for test in &config.tests {
            let run_config = bicubic_config(config, test.name(), scale)?;
            let has_row = done.iter().any(|r| {
                r.status == RunStatus::Ok && r.config_hash == run_config.config_hash && r.preset == config.preset && r.method == BICUBIC && r.dataset == test.name() && r.network == network
            });
            if has_row {
                skipped += 1;
                continue;
            }
            let data = scale_data(&mut loaded, config, data_dir, scale)?;
            let set = data.tests.iter().find(|t| t.name == test.name()).expect("every listed test set is loaded");
            let run_dir = PathBuf::from("runs").join(run_config.dir_name(&format!("{}-bicubic-x{scale}", test.name())));
            let started = Instant::now();
            let scores = bicubic_scores(set, scale, config, &out.join(&run_dir));
            let row = ResultRow { config_hash: run_config.config_hash.clone(), ..bicubic_row(config, &network, set, &scores, &environment, &run_dir, started.elapsed().as_secs_f64()) };
            match &scores {
                Ok(s) => eprintln!("grid: bicubic x{scale} on {}: PSNR-Y {:.2} dB, SSIM-Y {:.4}", set.name, s.psnr_y, s.ssim_y),
                Err(error) => {
                    failed += 1;
                    eprintln!("grid: bicubic x{scale} on {} failed: {error:#}", set.name);
                }
            }
            append_row(&results, &row)?;
            ran += 1;
        }
    }
    let runs = config.runs().into_iter().map(|key| key.run_config(config).map(|c| (key, c))).collect::<Result<Vec<_>>>()?;
    for (i, (key, run_config)) in runs.iter().enumerate() {
        if done.iter().any(|row| key.matches(row, config, run_config)) {
            skipped += 1;
            continue;
        }
        let id = key.id(config);
        eprintln!("grid [{}/{}] {id}", i + 1, runs.len());
        let run_dir = PathBuf::from("runs").join(run_config.dir_name(&id));
        let started = Instant::now();
        let outcome = scale_data(&mut loaded, config, data_dir, key.scale).and_then(|data| run_one(config, key, run_config, data, &out.join(&run_dir), device, &environment));
        if let Err(error) = &outcome {
            failed += 1;
            eprintln!("grid: {id} failed: {error:#}");
        }
        for row in run_rows(config, key, &outcome, &environment, &run_dir, started.elapsed().as_secs_f64()) {
            append_row(&results, &ResultRow { config_hash: run_config.config_hash.clone(), ..row })?;
        }
        ran += 1;
    }
    Ok((ran, skipped, failed))
}

fn scale_data<'a>(loaded: &'a mut HashMap<usize, ScaleData>, config: &SrGridConfig, data_dir: &Path, scale: usize) -> Result<&'a ScaleData> {
    Ok(match loaded.entry(scale) {
        std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
        std::collections::hash_map::Entry::Vacant(entry) => entry.insert(load_scale(config, data_dir, scale)?),
    })
}

/// Bicubic up-scaling of every test image, scored; the bicubic and HR crops are saved.
pub fn bicubic_scores(set: &TestSet, scale: usize, config: &SrGridConfig, run_dir: &Path) -> Result<SetScores> {
    let estimate = |image: &SrImage| Ok((upscale(&image.lr, scale)?, f64::NAN));
    let save = |index: usize, image: &SrImage, sr: &glcan_data::ImageU8| {
        if index < config.crop_images {
            save_crop(&run_dir.join("crops"), image, sr, config.crop_size)?;
            save_crop(&run_dir.join("hr"), image, &image.hr, config.crop_size)?;
        }
        Ok(())
    };
    Ok(score_set(set, scale, estimate, save)?)
}

/// One training run: its data, task and network, handed to the trainer.
fn run_one(config: &SrGridConfig, key: &RunKey, run_config: &RunConfig, data: &ScaleData, run_dir: &Path, device: Device, environment: &Environment) -> Result<RunReport> {
    let network = config.network(key.scale)?;
    let sr_data = SrData {
        train: data.train.clone(),
        tests: data.tests.clone(),
        scale: key.scale,
        lr_patch: config.lr_patch,
        batch_size: config.batch_size,
        steps_per_epoch: config.steps_per_epoch,
        seed: key.seed,
        crops: Some(CropOutput { dir: run_dir.join("crops"), images: config.crop_images, size: config.crop_size }),
        skip: config.input_skip,
        rgb_range: network.config().rgb_range,
    };
    sr_data.validate()?;
    let train_config = key.train_config(config);
    write_grid_run_config(run_dir, &train_config, run_config)?;
    let env_json = serde_json::to_string_pretty(environment)?;
    glcan_store::write_atomic(&run_dir.join("env.json"), env_json.as_bytes())?;
    // The whole preset as given (config.json's `preset` leaves out the iterated lists).
    glcan_store::write_atomic(&run_dir.join("preset.json"), serde_json::to_string_pretty(config)?.as_bytes())?;
    // An interrupted run left a checkpoint: continue it rather than start over.
    let resume = run_dir.join("checkpoint.ot").exists();
    let task = SuperResolution::new(network.config(), config.input_skip, config.aux_head_feats);
    let mut progress = LogProgress { label: key.id(config) };
    let outcome = train_local(&network, &task, &sr_data, &train_config, device, Some(run_dir), resume, &mut progress)?;
    if outcome.final_evaluation.details.is_empty() {
        // Resumed past its last epoch: the per-set figures were not kept, so score again.
        bail!("{} finished earlier but its result rows are missing; delete the run directory to train it again", run_dir.display());
    }
    Ok(RunReport { outcome, train_images: data.train.len(), test_sizes: data.tests.iter().map(|t| (t.name.clone(), t.images.len())).collect() })
}

struct RunReport {
    outcome: TrainOutcome,
    train_images: usize,
    test_sizes: Vec<(String, usize)>,
}

fn base_row(config: &SrGridConfig, dataset: &str, network: String, env: &Environment, run_dir: &Path, seconds: f64) -> ResultRow {
    ResultRow {
        dataset: dataset.into(),
        network,
        device: env.device.clone(),
        threads: env.threads.max(0) as usize,
        cpu_isa: env.cpu_kernels.label(),
        kernel_fingerprint: env.kernel_fingerprint.clone(),
        git_commit: env.git_commit.clone(),
        run_dir: run_dir.display().to_string(),
        finished_at: now_rfc3339(),
        seconds,
        ..ResultRow::unmeasured("sr", &config.preset)
    }
}

fn bicubic_row(config: &SrGridConfig, network: &str, set: &TestSet, scores: &Result<SetScores>, env: &Environment, run_dir: &Path, seconds: f64) -> ResultRow {
    let base = ResultRow { method: BICUBIC.into(), test_images: set.images.len(), ..base_row(config, &set.name, network.to_owned(), env, run_dir, seconds) };
    match scores {
        Ok(s) => ResultRow { psnr_y: Some(s.psnr_y), ssim_y: Some(s.ssim_y), ..base },
        Err(error) => ResultRow { status: RunStatus::Failed, error: format!("{error:#}"), ..base },
    }
}

/// One row per test set (a failed run: one failed row, on the first test set).
fn run_rows(config: &SrGridConfig, key: &RunKey, outcome: &Result<RunReport>, env: &Environment, run_dir: &Path, seconds: f64) -> Vec<ResultRow> {
    let base = |dataset: &str| ResultRow {
        method: key.method.name().into(),
        k: key.k,
        seed: key.seed,
        epochs: config.epochs,
        batch_size: config.batch_size,
        ..base_row(config, dataset, network_name(config, key.scale), env, run_dir, seconds)
    };
    let report = match outcome {
        Ok(report) => report,
        Err(error) => return vec![ResultRow { status: RunStatus::Failed, error: format!("{error:#}"), ..base(config.tests[0].name()) }],
    };
    let last = report.outcome.last();
    // Throughput of the run: the median over its epochs.
    let mut speeds: Vec<f64> = report.outcome.epochs.iter().map(|e| e.images_per_s).collect();
    speeds.sort_by(f64::total_cmp);
    let detail = |name: String| report.outcome.final_evaluation.details.iter().find(|(n, _)| *n == name).map(|&(_, v)| v);
    report
        .test_sizes
        .iter()
        .map(|(set, images)| ResultRow {
            train_images: report.train_images,
            test_images: *images,
            psnr_y: detail(detail_name(set, "psnr_y")),
            ssim_y: detail(detail_name(set, "ssim_y")),
            step_peak_bytes: report.outcome.step_peak_bytes(),
            peak_rss_bytes: last.peak_rss_bytes,
            images_per_s: speeds[speeds.len() / 2],
            network_parameters: report.outcome.network_parameters,
            ..base(set)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preset(extra: &str) -> String {
        format!(
            "preset = \"t\"\ntrain = \"sr-pool\"\ntests = [\"sr-pool\"]\nscales = [2]\nmethods = [\"e2e\", \"dgl\", \"glcan\"]\nks = [2, 4]\nseeds = [0]\nepochs = 1\nsteps_per_epoch = 2\nbatch_size = 2\nlr_patch = 8\nlr = 0.0001\ncpu_isa = \"native\"\n{extra}"
        )
    }

    #[test]
    fn runs_and_ids() {
        let config: SrGridConfig = toml::from_str(&preset("[edsr]\nn_resblocks = 4\nn_feats = 8\n")).unwrap();
        config.check().unwrap();
        let runs = config.runs();
        assert_eq!(runs.len(), 1 + 2 * 2);
        assert_eq!(runs[0].id(&config), "sr-pool-edsr-4b8f-x2-e2e-k1-s0");
        assert_eq!(config.optimizer, OptimizerConfig::edsr_adam());
        assert_eq!(config.split, SplitStrategy::Even);
    }

    #[test]
    fn bad_presets_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        for (text, expected) in [
            (preset("learning_rate = 1\n"), "learning_rate"),
            (preset("").replace("scales = [2]", "scales = [5]"), "edsr.scale"),
            (preset("").replace("ks = [2, 4]", "ks = [2, 40]"), "K = 40"),
            (preset("").replace("train = \"sr-pool\"", "train = \"set5\""), "is a test set"),
            (preset("").replace("tests = [\"sr-pool\"]", "tests = []"), "tests is empty"),
            (preset("[edsr]\nn_feats = 0\n"), "edsr.n_feats"),
            (preset("aux_head_feats = 0\n"), "aux_head_feats"),
        ] {
            std::fs::write(&path, text).unwrap();
            let message = format!("{:#}", SrGridConfig::load(&path, &[]).unwrap_err());
            assert!(message.contains(expected) && message.contains("p.toml"), "{expected}: {message}");
        }
        let message = format!("{:#}", SrGridConfig::load(&dir.path().join("missing.toml"), &[]).unwrap_err());
        assert!(message.contains("missing.toml"), "{message}");
    }

    #[test]
    fn the_committed_presets_are_valid() {
        let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        // Other tests of this process have run kernels already: see `cpu_kernels::pin`.
        let native = ["cpu_isa=\"native\"".to_owned()];
        let quick = SrGridConfig::load(&configs.join("sr-quick.toml"), &native).unwrap();
        assert_eq!((quick.runs().len(), quick.tests.clone(), quick.input_skip), (5, vec![SrSource::SrPool], InputSkip::Bicubic));
        let paper = SrGridConfig::load(&configs.join("sr-paper.toml"), &native).unwrap();
        assert_eq!(paper.network(2).unwrap().name(), "edsr-baseline-x2", "the paper preset trains EDSR-baseline");
        assert_eq!((paper.runs().len(), paper.scales.clone(), paper.input_skip), (10, vec![2, 4], InputSkip::None));
    }
}
