//! The super-resolution suite as the runner's [`Suite`]: EDSR at every scale of a preset
//! (`configs/sr-quick.toml`), trained by every method, K and seed, plus the bicubic
//! baseline row of every (scale, test set). The runner (`glcan_runner`) does the rest.
//!
//! Besides the runner's files, a run directory holds `crops/` of its SR output for the
//! report's image grid. The bicubic baseline gets a row per (scale, test set) with method
//! `bicubic`, K = 1, and its directory holds the bicubic crops (`crops/`) and the HR crops
//! (`hr/`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use glcan_core::aux::Method;
use glcan_core::models::edsr::EdsrConfig;
use glcan_core::models::{Edsr, UnitNetwork};
use glcan_core::optim::OptimizerConfig;
use glcan_core::run_env::now_rfc3339;
use glcan_core::split::SplitStrategy;
use glcan_core::train::{train_local, LogProgress};
use glcan_data::resize::upscale;
use glcan_runner::{base_row, Baselines, Grid, Run, RunJob, SpeedTask, Suite, Tally, Trained};
use glcan_store::{ResultRow, RunConfig, RunStatus};

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

/// An SR preset's own fields. The rest (methods, K, seeds, the recipe) are the runner's
/// [`glcan_runner::Common`]; defaults are EDSR's recipe.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
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
    /// Training steps per epoch (an "epoch" of random patches, as EDSR counts them).
    pub steps_per_epoch: usize,
    /// Side of the LR training patches, pixels.
    pub lr_patch: usize,
    #[serde(default = "even_split")]
    pub split: SplitStrategy,
    /// Test images (of the first test set) whose crops each run saves.
    #[serde(default = "default_crop_images")]
    pub crop_images: usize,
    /// Side of those crops in HR pixels.
    #[serde(default = "default_crop_size")]
    pub crop_size: usize,
}

/// One scale of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Point {
    pub scale: usize,
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

impl Section {
    /// The EDSR of this preset at `scale`.
    pub fn network(&self, scale: usize) -> Result<Edsr> {
        let config = EdsrConfig {
            scale,
            n_resblocks: self.edsr.n_resblocks,
            n_feats: self.edsr.n_feats,
            res_scale: self.edsr.res_scale,
            ..EdsrConfig::baseline(scale)
        };
        Ok(Edsr::new(config, self.lr_patch as i64)?)
    }

    /// `edsr-8b32f-x2`, or `edsr-x2` for a shape that does not build.
    fn network_name(&self, scale: usize) -> String {
        self.network(scale).map_or_else(|_| format!("edsr-x{scale}"), |n| n.name())
    }
}

/// The SR suite: its data folder and the decoded images of each scale, shared by its runs.
pub struct Sr {
    data_dir: PathBuf,
    loaded: HashMap<usize, ScaleData>,
}

/// Only the methods whose aux nets end in the task's own head train SR.
const METHODS: [Method; 3] = Method::TASK_HEADED;

impl Suite for Sr {
    type Section = Section;
    type Point = Point;
    const TASK: &'static str = "sr";
    const BINARY: &'static str = "bench-sr";
    const METHODS: &'static [Method] = &METHODS;
    const ITERATED: &'static [&'static str] = &["scales"];

    fn default_optimizer() -> OptimizerConfig {
        OptimizerConfig::edsr_adam()
    }

    fn check(section: &Section) -> Result<()> {
        for (field, empty) in [("tests", section.tests.is_empty()), ("scales", section.scales.is_empty())] {
            if empty {
                bail!("{field} is empty");
            }
        }
        if matches!(section.train, SrSource::Set5 | SrSource::Set14 | SrSource::B100 | SrSource::Urban100) {
            bail!("train = {:?} is a test set: train on sr-pool or div2k", section.train.name());
        }
        if let Some(feats) = section.aux_head_feats.filter(|&f| f < 1) {
            bail!("aux_head_feats must be at least 1, got {feats}");
        }
        for (field, value) in
            [("steps_per_epoch", section.steps_per_epoch), ("lr_patch", section.lr_patch), ("crop_size", section.crop_size)]
        {
            if value == 0 {
                bail!("{field} must be at least 1");
            }
        }
        Ok(())
    }

    fn points(section: &Section) -> Vec<Point> {
        section.scales.iter().map(|&scale| Point { scale }).collect()
    }

    /// `sr-pool-edsr-8b32f-x2`: training set and network.
    fn point_id(section: &Section, point: &Point) -> String {
        format!("{}-{}", section.train.name(), section.network_name(point.scale))
    }

    fn row_labels(section: &Section, point: &Point) -> (String, String) {
        (section.tests[0].name().to_owned(), section.network_name(point.scale))
    }

    fn network(section: &Section, point: &Point) -> Result<Box<dyn UnitNetwork>> {
        Ok(Box::new(section.network(point.scale)?))
    }

    fn split(section: &Section, _: &dyn UnitNetwork, _: usize) -> Result<SplitStrategy> {
        Ok(section.split.clone())
    }

    fn eval_batch_size(_: &Section) -> usize {
        1
    }

    /// LR patches in, HR patches as targets, as training draws them.
    fn speed_task(&mut self, grid: &Grid<Section>, point: &Point) -> Result<SpeedTask> {
        let section = &grid.suite;
        let network = section.network(point.scale)?;
        let task = SuperResolution::new(network.config(), section.input_skip, section.aux_head_feats);
        Ok(SpeedTask { task: Box::new(task), network: Box::new(network), channels: 3, size: section.lr_patch as i64 })
    }

    fn open(_: &Grid<Section>, data_dir: &Path) -> Result<Self> {
        Ok(Sr { data_dir: data_dir.to_owned(), loaded: HashMap::new() })
    }

    fn train(&mut self, grid: &Grid<Section>, run: &Run<Point>, job: &RunJob) -> Result<Trained> {
        let section = &grid.suite;
        let scale = run.point.scale;
        let data = self.scale_data(section, scale)?;
        let network = section.network(scale)?;
        let sr_data = SrData {
            train: data.train.clone(),
            tests: data.tests.clone(),
            scale,
            lr_patch: section.lr_patch,
            batch_size: grid.common.batch_size,
            steps_per_epoch: section.steps_per_epoch,
            seed: run.seed,
            crops: Some(CropOutput { dir: job.run_dir.join("crops"), images: section.crop_images, size: section.crop_size }),
            skip: section.input_skip,
            rgb_range: network.config().rgb_range,
        };
        sr_data.validate()?;
        let task = SuperResolution::new(network.config(), section.input_skip, section.aux_head_feats);
        let mut progress = LogProgress { label: job.id.clone() };
        let outcome = train_local(&network, &task, &sr_data, &job.train_config, job.device, Some(&job.run_dir), job.resume, &mut progress)?;
        if outcome.final_evaluation.details.is_empty() {
            // Resumed past its last epoch: the per-set figures were not kept, so score again.
            bail!("{} finished earlier but its result rows are missing; delete the run directory to train it again", job.run_dir.display());
        }
        let detail = |name: String| outcome.final_evaluation.details.iter().find(|(n, _)| *n == name).map(|&(_, v)| v);
        let rows = data
            .tests
            .iter()
            .map(|set| ResultRow {
                dataset: set.name.clone(),
                test_images: set.images.len(),
                psnr_y: detail(detail_name(&set.name, "psnr_y")),
                ssim_y: detail(detail_name(&set.name, "ssim_y")),
                ..job.row.clone()
            })
            .collect();
        Ok(Trained { train_images: data.train.len(), rows, outcome })
    }

    /// The bicubic baseline of every (scale, test set) not done yet.
    fn baselines(&mut self, grid: &Grid<Section>, out: &mut Baselines) -> Result<Tally> {
        let section = &grid.suite;
        let mut tally = Tally::default();
        for &scale in &section.scales {
            let network = section.network_name(scale);
            for test in &section.tests {
                let run_config = bicubic_config(grid, test.name(), scale)?;
                if out.is_done(&run_config) {
                    tally.skipped += 1;
                    continue;
                }
                let data = self.scale_data(section, scale)?;
                let set = data.tests.iter().find(|t| t.name == test.name()).expect("every listed test set is loaded");
                let run_dir = PathBuf::from("runs").join(run_config.dir_name(&format!("{}-bicubic-x{scale}", test.name())));
                let started = Instant::now();
                let scores = bicubic_scores(set, scale, section, &out.out.join(&run_dir));
                let row = ResultRow {
                    config_hash: run_config.config_hash.clone(),
                    dataset: set.name.clone(),
                    network: network.clone(),
                    method: BICUBIC.into(),
                    test_images: set.images.len(),
                    seconds: started.elapsed().as_secs_f64(),
                    finished_at: now_rfc3339(),
                    ..base_row(Self::TASK, &grid.common.preset, out.environment, &run_dir)
                };
                let row = match &scores {
                    Ok(s) => {
                        eprintln!("grid: bicubic x{scale} on {}: PSNR-Y {:.2} dB, SSIM-Y {:.4}", set.name, s.psnr_y, s.ssim_y);
                        ResultRow { psnr_y: Some(s.psnr_y), ssim_y: Some(s.ssim_y), ..row }
                    }
                    Err(error) => {
                        tally.failed += 1;
                        eprintln!("grid: bicubic x{scale} on {} failed: {error:#}", set.name);
                        ResultRow { status: RunStatus::Failed, error: format!("{error:#}"), ..row }
                    }
                };
                out.append(&row)?;
                tally.ran += 1;
            }
        }
        Ok(tally)
    }
}

impl Sr {
    /// The decoded images of `scale`, loaded on first use.
    fn scale_data(&mut self, section: &Section, scale: usize) -> Result<&ScaleData> {
        Ok(match self.loaded.entry(scale) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => entry.insert(load_scale(section, &self.data_dir, scale)?),
        })
    }
}

/// The config of the bicubic baseline of `test` at `scale`: only what changes its row.
fn bicubic_config(grid: &Grid<Section>, test: &str, scale: usize) -> Result<RunConfig> {
    let preset =
        serde_json::json!({ "preset": grid.common.preset, "crop_images": grid.suite.crop_images, "crop_size": grid.suite.crop_size });
    Ok(RunConfig::new(&preset, &[], &serde_json::json!({ "method": BICUBIC, "test": test, "scale": scale }))?)
}

/// The decoded images of one scale, shared by its runs.
struct ScaleData {
    train: Arc<Vec<SrImage>>,
    tests: Arc<Vec<TestSet>>,
}

fn load_scale(config: &Section, data_dir: &Path, scale: usize) -> Result<ScaleData> {
    let started = Instant::now();
    let train = config
        .train
        .open_train(data_dir, scale)
        .with_context(|| format!("loading the training set {} at x{scale}", config.train.name()))?;
    let tests = config
        .tests
        .iter()
        .map(|t| t.open_test(data_dir, scale).with_context(|| format!("loading the test set {} at x{scale}", t.name())))
        .collect::<Result<Vec<_>>>()?;
    let count: usize = tests.iter().map(|t| t.images.len()).sum();
    eprintln!("grid: x{scale}: {} training and {count} test images decoded in {:.1}s", train.len(), started.elapsed().as_secs_f64());
    Ok(ScaleData { train: Arc::new(train), tests: Arc::new(tests) })
}

/// Bicubic up-scaling of every test image, scored; the bicubic and HR crops are saved.
pub fn bicubic_scores(set: &TestSet, scale: usize, config: &Section, run_dir: &Path) -> Result<SetScores> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn preset(extra: &str) -> String {
        format!(
            "preset = \"t\"\ntrain = \"sr-pool\"\ntests = [\"sr-pool\"]\nscales = [2]\nmethods = [\"e2e\", \"dgl\", \"glcan\"]\nks = [2, 4]\nseeds = [0]\nepochs = 1\nsteps_per_epoch = 2\nbatch_size = 2\nlr_patch = 8\nlr = 0.0001\ncpu_isa = \"native\"\n{extra}"
        )
    }

    fn load(text: &str) -> Result<Grid<Section>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, text).unwrap();
        Grid::load::<Sr>(&path, &[])
    }

    #[test]
    fn runs_and_ids() {
        let grid = load(&preset("[edsr]\nn_resblocks = 4\nn_feats = 8\n")).unwrap();
        let runs = grid.runs::<Sr>();
        assert_eq!(runs.len(), 1 + 2 * 2);
        assert_eq!(grid.run_id::<Sr>(&runs[0]), "sr-pool-edsr-4b8f-x2-e2e-k1-s0");
        assert_eq!(grid.common.optimizer, OptimizerConfig::edsr_adam());
        assert_eq!(grid.suite.split, SplitStrategy::Even);
    }

    #[test]
    fn bad_presets_name_the_problem() {
        for (text, expected) in [
            (preset("learning_rate = 1\n"), "learning_rate"),
            (preset("").replace("scales = [2]", "scales = [5]"), "edsr.scale"),
            (preset("").replace("ks = [2, 4]", "ks = [2, 40]"), "K = 40"),
            (preset("").replace("train = \"sr-pool\"", "train = \"set5\""), "is a test set"),
            (preset("").replace("tests = [\"sr-pool\"]", "tests = []"), "tests is empty"),
            (preset("").replace("\"dgl\"", "\"infopro-softmax\""), "bench-sr does not run infopro-softmax"),
            (preset("[edsr]\nn_feats = 0\n"), "edsr.n_feats"),
            (preset("aux_head_feats = 0\n"), "aux_head_feats"),
        ] {
            let message = format!("{:#}", load(&text).unwrap_err());
            assert!(message.contains(expected) && message.contains("p.toml"), "{expected}: {message}");
        }
        let message = format!("{:#}", Grid::load::<Sr>(Path::new("missing.toml"), &[]).unwrap_err());
        assert!(message.contains("missing.toml"), "{message}");
    }

    #[test]
    fn the_committed_presets_are_valid() {
        let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        // Other tests of this process have run kernels already: see `cpu_kernels::pin`.
        let native = ["cpu_isa=\"native\"".to_owned()];
        let quick = Grid::load::<Sr>(&configs.join("sr-quick.toml"), &native).unwrap();
        assert_eq!(
            (quick.runs::<Sr>().len(), quick.suite.tests.clone(), quick.suite.input_skip),
            (5, vec![SrSource::SrPool], InputSkip::Bicubic)
        );
        let paper = Grid::load::<Sr>(&configs.join("sr-paper.toml"), &native).unwrap();
        assert_eq!(paper.suite.network(2).unwrap().name(), "edsr-baseline-x2", "the paper preset trains EDSR-baseline");
        assert_eq!((paper.runs::<Sr>().len(), paper.suite.scales.clone(), paper.suite.input_skip), (10, vec![2, 4], InputSkip::None));
        Grid::load::<Sr>(&configs.join("sr-smoke.toml"), &native).unwrap();
    }
}
