//! `bench-classify train`: one training run on a real dataset, with a run directory.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use glcan_core::aux::Method;
use glcan_core::memory_format::MemoryFormat;
use glcan_core::models::{registry, InitMode, NetworkName};
use glcan_core::train::{train_classifier, ClassificationData, TrainConfig, TrainOutcome};
use glcan_data::subset::Subset;
use tch::Device;

use crate::args::{parse_device, parse_method, ScheduleArgs, SplitArg};
use crate::datasets::DatasetName;
use crate::progress::RunProgress;

/// Train one network with one method on one dataset.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    #[arg(long, value_enum, default_value = "fashion-mnist")]
    pub dataset: DatasetName,
    /// Folder holding the datasets (docs/DATA.md); default: $GLCAN_DATA_DIR or data/.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Use only the first N training images (all when absent).
    #[arg(long)]
    pub train_subset: Option<usize>,
    /// Use only the first N test images (all when absent).
    #[arg(long)]
    pub test_subset: Option<usize>,
    /// The network (see `glcan_core::models::registry`).
    #[arg(long, default_value = "resnet32", value_parser = str::parse::<NetworkName>, help = registry::NAMES)]
    pub net: NetworkName,
    /// e2e, greedy-sl, dgl, infopro-softmax, infopro-contrast, glcan, predsim or auglocal.
    #[arg(long, value_parser = parse_method, default_value = "glcan")]
    pub method: Method,
    /// Number of local modules (1 for e2e).
    #[arg(long, default_value_t = 2)]
    pub k: usize,
    #[arg(long, value_enum, default_value = "published")]
    pub split: SplitArg,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
    /// contiguous (NCHW, PyTorch's default) or channels_last (NHWC conv weights and batches;
    /// faster convolutions on CPUs). Sets the config's `memory_format`.
    #[arg(long, value_parser = str::parse::<MemoryFormat>, default_value = "contiguous")]
    pub memory_format: MemoryFormat,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Base learning rate of the cosine schedule (SGD, Nesterov 0.9, weight decay 1e-4).
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where the parameters start: reference (as the papers' code) or tch (tch's defaults,
    /// as runs made before the setting).
    #[arg(long, value_parser = str::parse::<InitMode>, default_value = "reference")]
    pub init: InitMode,
    /// cpu, cuda or cuda:N.
    #[arg(long, value_parser = parse_device, default_value = "cpu")]
    pub device: Device,
    /// Where the run writes config.json, metrics.csv and checkpoint.ot.
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Continue the checkpoint in --run-dir.
    #[arg(long, requires = "run_dir")]
    pub resume: bool,
}

pub fn run(args: &TrainArgs) -> Result<TrainOutcome> {
    let data_dir = args.data_dir.clone().unwrap_or_else(glcan_core::paths::data_root);
    let config = args.schedule.apply(TrainConfig {
        split: args.split.strategy(),
        seed: args.seed,
        init: args.init,
        memory_format: args.memory_format,
        ..TrainConfig::new(args.method, args.k, args.epochs, args.batch_size, args.lr)
    });
    config.validate()?;
    let (channels, size, classes) = args.dataset.geometry();
    let network = args.net.build(channels, classes, size)?;
    let (train, test) = args.dataset.open_both(&data_dir)?;
    let (train, test) = (Arc::new(train), Arc::new(test));
    let data = ClassificationData {
        train: Arc::new(Subset::first(train.clone(), args.train_subset.unwrap_or(usize::MAX))),
        test: Arc::new(Subset::first(test.clone(), args.test_subset.unwrap_or(usize::MAX))),
        augmentation: args.dataset.augmentation(),
        size_transforms: args.dataset.size_transforms(),
        normalization: args.dataset.normalization(),
        image_channels: channels,
        image_size: size,
    };
    let label = format!("{} {} {} K={}", args.dataset, network.name(), args.method, args.k);
    let mut progress = RunProgress::new(label);
    // Under a launcher, `cuda` is this rank's own GPU.
    let device = glcan_core::c10d::rank_device(args.device, |name| std::env::var(name).ok())?;
    train_classifier(network.as_ref(), &data, &config, device, args.run_dir.as_deref(), args.resume, &mut progress)
        .with_context(|| format!("training {} with {} (K = {}) on {}", network.name(), args.method, args.k, args.dataset))
}
