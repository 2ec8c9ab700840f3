//! What a suite plugs into the runner: its preset section and what only it knows.

use std::path::{Path, PathBuf};

use anyhow::Result;
use glcan_core::aux::Method;
use glcan_core::models::UnitNetwork;
use glcan_core::optim::OptimizerConfig;
use glcan_core::run_env::Environment;
use glcan_core::split::SplitStrategy;
use glcan_core::train::{Task, TrainConfig, TrainOutcome};
use glcan_store::{ResultRow, RunConfig};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tch::Device;

use crate::execute::Tally;
use crate::grid::{Grid, Run};

/// One task's suite: classification, detection, super-resolution.
pub trait Suite: Sized {
    /// The preset fields that are the suite's own, beside the [`crate::Common`] ones.
    type Section: Serialize + DeserializeOwned + Clone + std::fmt::Debug;
    /// What a run varies besides method, K and seed (classification: dataset and network;
    /// SR: the scale). It is part of the run's identity, so of its config hash.
    type Point: Serialize + Clone + std::fmt::Debug;

    /// The results rows' `suite` column.
    const TASK: &'static str;
    /// The binary, for messages and job scripts.
    const BINARY: &'static str;
    /// The methods this suite can train.
    const METHODS: &'static [Method];
    /// The section's lists the grid iterates over: a run's config hash leaves them out
    /// (its point stands in for them).
    const ITERATED: &'static [&'static str];

    /// The optimizer of a preset that names none (the suite's paper recipe).
    fn default_optimizer() -> OptimizerConfig;
    /// Checks the section's own fields, before any data loads.
    fn check(section: &Self::Section) -> Result<()>;
    /// The points of the grid, in run order.
    fn points(section: &Self::Section) -> Vec<Self::Point>;
    /// The point's part of run ids and run directory names: `fashion-mnist-resnet8`.
    fn point_id(section: &Self::Section, point: &Self::Point) -> String;
    /// The point's `dataset` and `network` columns (a failed run's row has them too).
    fn row_labels(section: &Self::Section, point: &Self::Point) -> (String, String);
    /// The network of `point`, whose units the split cuts (built as specs, no weights).
    fn network(section: &Self::Section, point: &Self::Point) -> Result<Box<dyn UnitNetwork>>;
    /// How `network` is cut into `k` modules.
    fn split(section: &Self::Section, network: &dyn UnitNetwork, k: usize) -> Result<SplitStrategy>;
    /// Images per evaluation batch.
    fn eval_batch_size(section: &Self::Section) -> usize;

    /// The suite's state for one grid: its data folder, and data it shares between runs.
    fn open(grid: &Grid<Self::Section>, data_dir: &Path) -> Result<Self>;
    /// Trains and evaluates one run into `job.run_dir`, and returns its rows.
    fn train(&mut self, grid: &Grid<Self::Section>, run: &Run<Self::Point>, job: &RunJob) -> Result<Trained>;
    /// The task and input shape of `point`'s training steps, for the speed pass
    /// (`grid --speed-pass`: steps timed on random input and the task's timing target).
    fn speed_task(&mut self, grid: &Grid<Self::Section>, point: &Self::Point) -> Result<SpeedTask>;
    /// Rows that need no training, made before the runs (SR: the bicubic baseline); the
    /// first shard of a job array makes them.
    fn baselines(&mut self, _grid: &Grid<Self::Section>, _out: &mut Baselines) -> Result<Tally> {
        Ok(Tally::default())
    }
}

/// What the speed pass needs to time a point's training steps on random input.
pub struct SpeedTask {
    /// The task the network trains for; its `timing_target` gives the random targets.
    pub task: Box<dyn Task>,
    /// The network as the run trains it (for the dataset's classes).
    pub network: Box<dyn UnitNetwork>,
    /// Input channels and side, pixels.
    pub channels: i64,
    pub size: i64,
}

/// What the runner hands a suite to train one run.
pub struct RunJob {
    /// Run id: `fashion-mnist-resnet8-glcan-k4-s0`.
    pub id: String,
    /// The run's folder (created; `config.json`, `env.json`, `preset.json` written).
    pub run_dir: PathBuf,
    pub train_config: TrainConfig,
    pub run_config: RunConfig,
    pub device: Device,
    /// The run left a checkpoint: continue it.
    pub resume: bool,
    /// The run's row with what the runner knows filled in; the suite's rows start from it.
    pub row: ResultRow,
}

/// A trained run: the trainer's outcome and one row per test set, each made from
/// [`RunJob::row`] with the dataset, the test images and the suite's metrics set. The
/// runner adds what every run measures (memory, speed, parameters, training images).
pub struct Trained {
    pub outcome: TrainOutcome,
    pub train_images: usize,
    pub rows: Vec<ResultRow>,
}

/// Where a suite's baseline rows go: the out folder, the rows done, this run's machine.
pub struct Baselines<'a> {
    pub out: &'a Path,
    pub environment: &'a Environment,
    pub(crate) done: &'a [ResultRow],
    pub(crate) results: &'a Path,
}

impl Baselines<'_> {
    /// An `ok` row with this config hash exists already.
    pub fn is_done(&self, config: &RunConfig) -> bool {
        self.done.iter().any(|row| row.status == glcan_store::RunStatus::Ok && row.config_hash == config.config_hash)
    }

    /// Appends `row` to this grid's results file.
    pub fn append(&self, row: &ResultRow) -> Result<()> {
        Ok(glcan_store::append_row(self.results, row)?)
    }
}
