//! The one training loop of every suite: epochs of local steps, evaluation on held-out
//! data, per-epoch metrics, checkpoints and resume. A suite hands it its [`Task`] and its
//! data as a [`TaskData`]; classification's is here ([`train_classifier`]).
//!
//! A run directory (optional) receives `config.json` (the resolved config, see
//! [`super::config_file`]), `metrics.csv` (one row per epoch) and `checkpoint.ot` (weights,
//! optimizer state, epochs done), each written by glcan-store's durable atomic writer, so a
//! killed run or a full disk never leaves a torn file, and `resume` continues from the last
//! finished epoch to the same final weights (a resume without a checkpoint is an error).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tch::{Device, Kind, Tensor};

use glcan_data::augment::{Augmentation, Normalization};
use glcan_data::loader::{BatchLoader, ClassificationCollate, LoaderConfig};
use glcan_data::size_transform::SizeTransform;
use glcan_data::{ClassLabel, Dataset};
use glcan_store::write_atomic;

use super::config_file;
use super::local_network::{accuracy_and_loss, LocalNetwork};
use super::pipeline::{self, PipelineBatch, PipelineStop};
use super::task::{Classification, Task};
use super::TrainConfig;
use super::{pipeline_ranks, replicas};
use crate::aux::LocalTargets;
use crate::c10d::{self, ProcessGroup};
use crate::memory::{self, PeakMeter};
use crate::models::{UnitId, UnitNetwork};
use crate::split::SplitStrategy;
use crate::{Error, Result};

/// The data of a classification run.
pub struct ClassificationData<Train, Test> {
    pub train: Arc<Train>,
    pub test: Arc<Test>,
    /// Applied to training images only.
    pub augmentation: Augmentation,
    /// For images of differing sizes (ImageNet): training and evaluation transforms to one size.
    pub size_transforms: Option<(SizeTransform, SizeTransform)>,
    pub normalization: Normalization,
    pub image_channels: i64,
    pub image_size: i64,
}

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Mean training loss of each module, `;`-separated, module 0 first.
    pub module_losses: String,
    /// The task's headline metric on the held-out data: top-1 accuracy (%) for
    /// classification, PSNR-Y (dB) for super-resolution, AP50 for detection.
    #[serde(alias = "test_accuracy")]
    pub test_metric: f64,
    pub test_loss: f64,
    /// Training images per second over the epoch's steps after the first two.
    pub images_per_s: f64,
    /// Peak bytes of libtorch tensors during one training step (weights, optimizer state
    /// and activations; CPU: counting allocator, CUDA: caching allocator); 0 when not measured.
    pub step_peak_bytes: u64,
    /// Peak resident set size of the process so far (CPU), 0 when unknown.
    pub peak_rss_bytes: u64,
    pub seconds: f64,
}

/// The outcome of a whole run.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub epochs: Vec<EpochMetrics>,
    pub network_parameters: i64,
    /// The evaluation after the last epoch (empty `details` when the run resumed past it).
    pub final_evaluation: Evaluation,
}

impl TrainOutcome {
    pub fn last(&self) -> &EpochMetrics {
        self.epochs.last().expect("a finished run has at least one epoch")
    }

    /// Largest step peak of any epoch.
    pub fn step_peak_bytes(&self) -> u64 {
        self.epochs.iter().map(|e| e.step_peak_bytes).max().unwrap_or(0)
    }
}

/// Receives progress; the default methods ignore it.
pub trait Progress {
    /// After every training step.
    fn step(&mut self, _epoch: usize, _step: usize, _steps: usize, _losses: &[f64]) {}
    /// After every epoch.
    fn epoch(&mut self, _metrics: &EpochMetrics, _epochs: usize) {}
    /// Asked after each epoch (once its checkpoint is written): `false` stops the run
    /// there with [`Error::Stopped`]; `resume` continues it later.
    fn keep_going(&mut self) -> bool {
        true
    }
}

/// One plain line per epoch on standard error (for logs and non-terminals).
pub struct LogProgress {
    pub label: String,
}

impl Progress for LogProgress {
    fn epoch(&mut self, m: &EpochMetrics, epochs: usize) {
        eprintln!(
            "{} epoch {}/{}: loss per module [{}], test metric {:.4}, {:.0} img/s, step peak {:.1} MiB, {:.1}s",
            self.label,
            m.epoch,
            epochs,
            m.module_losses.replace(';', ", "),
            m.test_metric,
            m.images_per_s,
            m.step_peak_bytes as f64 / (1 << 20) as f64,
            m.seconds
        );
    }
}

impl Progress for () {}

/// The data side of a run, whatever the task: training batches, and the evaluation of the
/// real head on held-out data.
pub trait TaskData {
    /// Channels and side of the network input (InfoPro's decoder rebuilds it).
    fn input_shape(&self) -> (i64, i64);

    /// Training batches per epoch.
    fn batches_per_epoch(&self) -> usize;

    /// The training batches of `epoch` (0-based), in order; a batch's tensors may be on the CPU.
    fn train_epoch(&self, epoch: u64) -> Box<dyn Iterator<Item = Result<TrainBatch>> + Send + '_>;

    /// The network input mapped back to `[0, 1]` (InfoPro's reconstruction target).
    fn raw_images(&self, images: &Tensor) -> Tensor;

    /// The real head's headline metric and mean loss on the held-out data.
    fn evaluate(&self, net: &LocalNetwork, device: Device) -> Result<Evaluation>;
}

/// One training batch: the network input and what the task scores against.
pub struct TrainBatch {
    pub images: Tensor,
    pub target: Tensor,
}

/// What an evaluation measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evaluation {
    /// The task's headline metric: top-1 accuracy (%), PSNR-Y (dB), AP50, ...
    pub metric: f64,
    /// Mean task loss of the real head.
    pub loss: f64,
    /// The task's other figures, by name (SSIM-Y; AP, AP75, ...), for the result row.
    pub details: Vec<(String, f64)>,
}

/// Trains `network` for `task` on `data` as `config` says. With `run_dir`, writes the
/// run's files there; with `resume`, continues from the checkpoint found there.
///
/// The run seeds libtorch's process-wide random generator (`config.seed`) for the initial
/// weights: for a reproducible run, no other thread may draw from it meanwhile, so runs in
/// one process go one at a time.
pub fn train_local(
    network: &dyn UnitNetwork,
    task: &dyn Task,
    data: &dyn TaskData,
    config: &TrainConfig,
    device: Device,
    run_dir: Option<&Path>,
    resume: bool,
    progress: &mut dyn Progress,
) -> Result<TrainOutcome> {
    // `LocalNetwork::build` validates the config.
    tch::manual_seed(config.seed as i64);
    let (image_channels, image_size) = data.input_shape();
    let ranks = launched_ranks(config, resume)?;
    // Across ranks the last one holds the whole trained network: it alone writes the run.
    let is_writer = ranks.is_none_or(|group| group.rank() + 1 == group.world_size());
    let files = run_dir.filter(|_| is_writer).map(RunFiles::new);
    // A time-balanced split follows timings: a resumed run takes the points its start chose.
    let time_balanced = config.split == SplitStrategy::TimeBalanced;
    let resumed_split = match &files {
        Some(files) if resume && time_balanced => Some(TrainConfig { split: SplitStrategy::Points(files.read_split()?), ..config.clone() }),
        _ => None,
    };
    let mut net = LocalNetwork::build(network, task, resumed_split.as_ref().unwrap_or(config), image_channels, image_size, device)?;
    let mut history = Vec::new();
    if let Some(files) = &files {
        files.prepare(config, resume)?;
        if resume {
            history = files.resume(&mut net)?;
        } else if time_balanced {
            files.write_split(&net, network)?;
        }
    }
    let steps = data.batches_per_epoch();
    if steps == 0 {
        return Err(Error::config("batch_size", format!("{} leaves no full training batch", config.batch_size)));
    }
    let measure_memory = device.is_cuda() || memory::counting_allocator_installed();
    let mut final_evaluation = history
        .last()
        .map(|m: &EpochMetrics| Evaluation { metric: m.test_metric, loss: m.test_loss, details: Vec::new() })
        .unwrap_or_default();

    for epoch in history.len()..config.epochs {
        // Whatever draws from libtorch's generator while training (dropout, random ops) then
        // depends on (seed, epoch) only, so a resumed run draws what an uninterrupted one did.
        tch::manual_seed(epoch_seed(config.seed, epoch));
        let started = Instant::now();
        let mut sums = vec![0.0; net.k()];
        let mut timed_images = 0usize;
        let mut timed_since: Option<Instant> = None;
        let mut step_peak = 0u64;
        let mut lr = config.lr;
        if !config.module_schedule.is_sequential() {
            step_peak =
                train_epoch_pipelined(&mut net, data, config, device, epoch, measure_memory, ranks, &mut lr, &mut |step, losses| {
                    for (sum, loss) in sums.iter_mut().zip(losses) {
                        *sum += loss;
                    }
                    // As below: throughput from the batch after the second to leave the pipeline.
                    if step == 1 {
                        timed_since = Some(Instant::now());
                    } else if step > 1 {
                        timed_images += config.batch_size;
                    }
                    progress.step(epoch + 1, step, steps, losses);
                })?;
        } else {
            for (step, batch) in data.train_epoch(epoch as u64).enumerate() {
                let batch = batch?;
                // A replica trains on its share of the batch.
                let (images, target) = match ranks {
                    Some(group) => (
                        replicas::share(&batch.images, group.rank(), group.world_size())?,
                        replicas::share(&batch.target, group.rank(), group.world_size())?,
                    ),
                    None => (batch.images, batch.target),
                };
                let images = images.to_device(device);
                let target = target.to_device(device);
                let raw = if net.uses_raw_images() { data.raw_images(&images) } else { images.shallow_clone() };
                lr = config.schedule.lr(config.lr, epoch as f64 + step as f64 / steps as f64, config.epochs);
                // Step 1 is measured: step 0 allocates the optimizer state, later steps repeat step 1.
                let meter = if measure_memory && step == 1 { Some(PeakMeter::start(device)?) } else { None };
                let targets = LocalTargets { images: &images, raw_images: &raw, target: &target };
                let losses = match ranks {
                    Some(group) => replicas::train_step(&mut net, group, &images, &targets, lr)?,
                    None => net.train_step(&images, &targets, lr),
                };
                let losses =
                    losses.map_err(|fault| Error::Diverged { epoch: epoch + 1, step, module: fault.module, value: fault.value })?;
                if let Some(meter) = meter {
                    step_peak = step_peak.max(meter.peak()?.tensor_peak_bytes);
                }
                for (sum, loss) in sums.iter_mut().zip(&losses) {
                    *sum += loss;
                }
                // Throughput leaves out the first two steps (allocation, warm-up).
                if step == 1 {
                    timed_since = Some(Instant::now());
                } else if step > 1 {
                    timed_images += images.size()[0] as usize;
                }
                progress.step(epoch + 1, step, steps, &losses);
            }
        }
        if let (Some(group), false) = (ranks, config.module_schedule.is_sequential()) {
            // This rank saw the losses of modules 0..=rank only.
            sums.iter_mut().skip(group.rank() + 1).for_each(|sum| *sum = f64::NAN);
        }
        let images_per_s = match timed_since {
            Some(since) if timed_images > 0 => timed_images as f64 / since.elapsed().as_secs_f64(),
            _ => 0.0,
        };
        let evaluation = match ranks {
            Some(group) => {
                // Replicas hold equal weights already; pipeline ranks hold one module each.
                if !config.module_schedule.is_sequential() {
                    pipeline_ranks::gather_to_last_rank(&mut net, group)?;
                }
                // The other ranks hold only their own module's training: nothing to evaluate.
                if is_writer {
                    data.evaluate(&net, device)?
                } else {
                    Evaluation { metric: f64::NAN, loss: f64::NAN, details: Vec::new() }
                }
            }
            None => data.evaluate(&net, device)?,
        };
        final_evaluation = evaluation.clone();
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            lr,
            module_losses: sums.iter().map(|s| format!("{:.5}", s / steps as f64)).collect::<Vec<_>>().join(";"),
            test_metric: evaluation.metric,
            test_loss: evaluation.loss,
            images_per_s,
            step_peak_bytes: step_peak,
            peak_rss_bytes: if device.is_cuda() { 0 } else { memory::peak_rss_bytes().unwrap_or(0) },
            seconds: started.elapsed().as_secs_f64(),
        };
        history.push(metrics.clone());
        if let Some(files) = &files {
            files.write_metrics(&history)?;
            files.write_checkpoint(&net, epoch + 1)?;
        }
        progress.epoch(&metrics, config.epochs);
        if epoch + 1 < config.epochs && !progress.keep_going() {
            return Err(Error::Stopped { epoch: epoch + 1 });
        }
    }
    Ok(TrainOutcome { epochs: history, network_parameters: net.network_parameters(), final_evaluation })
}

/// The c10d group this process was launched into (torchrun, srun), when there is one: the
/// pipelined schedule then trains one module per rank ([`pipeline_ranks`]), the sequential
/// one a data-parallel replica of the whole network per rank ([`replicas`]). Refused:
/// resuming across ranks.
fn launched_ranks(config: &TrainConfig, resume: bool) -> Result<Option<&'static ProcessGroup>> {
    let Some(group) = c10d::launched_group()? else { return Ok(None) };
    if group.world_size() == 1 {
        return Ok(None);
    }
    if config.module_schedule.is_sequential() && !config.batch_size.is_multiple_of(group.world_size()) {
        return Err(Error::config(
            "batch_size",
            format!(
                "{} does not split evenly over {} replicas (ranks with the sequential schedule)",
                config.batch_size,
                group.world_size()
            ),
        ));
    }
    if resume {
        return Err(Error::config("resume", "a run across ranks cannot be resumed yet; start it again"));
    }
    Ok(Some(group))
}

/// One epoch of the pipelined schedule ([`pipeline`], or with `ranks` this process's
/// module of it, [`pipeline_ranks`]): `on_step` sees each batch's losses as it leaves the
/// last module (this rank's); returns the peak of live tensor bytes over the epoch once the
/// first batch has left (every module's state allocated; 0 when not measured). `lr` ends at
/// the epoch's last learning rate.
#[allow(clippy::too_many_arguments)]
fn train_epoch_pipelined(
    net: &mut LocalNetwork,
    data: &dyn TaskData,
    config: &TrainConfig,
    device: Device,
    epoch: usize,
    measure_memory: bool,
    ranks: Option<&ProcessGroup>,
    lr: &mut f64,
    on_step: &mut dyn FnMut(usize, &[f64]),
) -> Result<u64> {
    let steps = data.batches_per_epoch();
    let uses_raw_images = net.uses_raw_images();
    // Across ranks each module has its process's threads; in one process they share them.
    let threads = match ranks {
        Some(_) => config.worker_threads.unwrap_or_else(|| tch::get_num_threads().max(1) as usize),
        None => pipeline::worker_threads(config.worker_threads, net.k()),
    };
    let batches = data.train_epoch(epoch as u64).enumerate().map(|(step, batch)| {
        let batch = batch?;
        let images = batch.images.to_device(device);
        let target = batch.target.to_device(device);
        let raw_images = if uses_raw_images { data.raw_images(&images) } else { images.shallow_clone() };
        *lr = config.schedule.lr(config.lr, epoch as f64 + step as f64 / steps as f64, config.epochs);
        Ok(PipelineBatch { images, raw_images, target, lr: *lr })
    });
    let mut meter = None;
    let on_step = |step: usize, losses: &[f64]| {
        on_step(step, losses);
        if measure_memory && step == 0 {
            meter = Some(PeakMeter::start(device)?);
        }
        Ok(())
    };
    let outcome = match ranks {
        Some(group) => pipeline_ranks::run_rank(net, group, threads, batches, on_step),
        None => pipeline::run(net, threads, batches, on_step),
    };
    match outcome {
        Ok(_) => Ok(match meter {
            Some(meter) => meter.peak()?.tensor_peak_bytes,
            None => 0,
        }),
        Err(PipelineStop::Diverged { step, fault }) => {
            Err(Error::Diverged { epoch: epoch + 1, step, module: fault.module, value: fault.value })
        }
        Err(PipelineStop::Failed(e)) => Err(e),
    }
}

/// The seed of libtorch's generator for (0-based) `epoch` of a run seeded `seed`.
fn epoch_seed(seed: u64, epoch: usize) -> i64 {
    (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (epoch as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)) as i64
}

/// Trains a classifier: [`train_local`] with the [`Classification`] task on `data`.
pub fn train_classifier<Train, Test>(
    network: &dyn UnitNetwork,
    data: &ClassificationData<Train, Test>,
    config: &TrainConfig,
    device: Device,
    run_dir: Option<&Path>,
    resume: bool,
    progress: &mut dyn Progress,
) -> Result<TrainOutcome>
where
    Train: Dataset<Target = ClassLabel> + 'static,
    Test: Dataset<Target = ClassLabel> + 'static,
{
    config.validate()?;
    let loaders = ClassificationLoaders::new(data, config, device)?;
    train_local(network, &Classification, &loaders, config, device, run_dir, resume, progress)
}

/// The loaders of a classification run, as [`TaskData`].
struct ClassificationLoaders<Train: Dataset<Target = ClassLabel> + 'static, Test: Dataset<Target = ClassLabel> + 'static> {
    train: BatchLoader<Train, ClassificationCollate>,
    test: BatchLoader<Test, ClassificationCollate>,
    image_channels: i64,
    image_size: i64,
    /// Normalisation mean and std as `[1, C, 1, 1]` on the device.
    mean: Tensor,
    std: Tensor,
}

impl<Train, Test> ClassificationLoaders<Train, Test>
where
    Train: Dataset<Target = ClassLabel> + 'static,
    Test: Dataset<Target = ClassLabel> + 'static,
{
    fn new(data: &ClassificationData<Train, Test>, config: &TrainConfig, device: Device) -> Result<Self> {
        let train = BatchLoader::new(
            data.train.clone(),
            ClassificationCollate {
                size: data.size_transforms.map(|(train, _)| train),
                ..ClassificationCollate::new(data.augmentation, data.normalization.clone())
            },
            LoaderConfig::train(config.batch_size, config.seed),
        )?;
        if train.batches_per_epoch() == 0 {
            return Err(Error::config("batch_size", format!("{} exceeds the {} training images", config.batch_size, data.train.len())));
        }
        let test = BatchLoader::new(
            data.test.clone(),
            ClassificationCollate {
                size: data.size_transforms.map(|(_, test)| test),
                ..ClassificationCollate::new(Augmentation::NONE, data.normalization.clone())
            },
            LoaderConfig::eval(config.eval_batch_size),
        )?;
        let channels = data.normalization.channels() as i64;
        let mean = Tensor::from_slice(&data.normalization.mean).view([1, channels, 1, 1]).to_device(device);
        let std = Tensor::from_slice(&data.normalization.std).view([1, channels, 1, 1]).to_device(device);
        Ok(ClassificationLoaders { train, test, image_channels: data.image_channels, image_size: data.image_size, mean, std })
    }
}

impl<Train, Test> TaskData for ClassificationLoaders<Train, Test>
where
    Train: Dataset<Target = ClassLabel> + 'static,
    Test: Dataset<Target = ClassLabel> + 'static,
{
    fn input_shape(&self) -> (i64, i64) {
        (self.image_channels, self.image_size)
    }

    fn batches_per_epoch(&self) -> usize {
        self.train.batches_per_epoch()
    }

    fn train_epoch(&self, epoch: u64) -> Box<dyn Iterator<Item = Result<TrainBatch>> + Send + '_> {
        Box::new(self.train.epoch(epoch).map(|batch| Ok(batch.map(|b| TrainBatch { images: b.images, target: b.labels })?)))
    }

    fn raw_images(&self, images: &Tensor) -> Tensor {
        (images * &self.std + &self.mean).clamp(0.0, 1.0)
    }

    /// Top-1 accuracy (%) and mean cross-entropy.
    fn evaluate(&self, net: &LocalNetwork, device: Device) -> Result<Evaluation> {
        let (mut correct, mut loss_sum, mut count) = (0.0, 0.0, 0usize);
        for batch in self.test.epoch(0) {
            let batch = batch?;
            let labels = batch.labels.to_device(device);
            let logits = net.predict(&batch.images.to_device(device)).to_kind(Kind::Float);
            let (c, l) = accuracy_and_loss(&logits, &labels);
            correct += c;
            loss_sum += l;
            count += labels.size()[0] as usize;
        }
        Ok(Evaluation { metric: 100.0 * correct / count as f64, loss: loss_sum / count as f64, details: Vec::new() })
    }
}

/// `split.json` of a time-balanced run: the points it chose and the measured module times.
#[derive(serde::Serialize, serde::Deserialize)]
struct SplitRecord {
    points: Vec<UnitId>,
    module_step_seconds: Option<Vec<f64>>,
}

/// The files of a run directory.
struct RunFiles {
    dir: PathBuf,
}

impl RunFiles {
    fn new(dir: &Path) -> Self {
        RunFiles { dir: dir.to_path_buf() }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    fn metrics_path(&self) -> PathBuf {
        self.dir.join("metrics.csv")
    }

    fn checkpoint_path(&self) -> PathBuf {
        self.dir.join("checkpoint.ot")
    }

    fn split_path(&self) -> PathBuf {
        self.dir.join("split.json")
    }

    /// Records the split points a time-balanced run chose, and the module times behind them.
    fn write_split(&self, net: &LocalNetwork, network: &dyn UnitNetwork) -> Result<()> {
        let record =
            SplitRecord { points: net.split().points(network), module_step_seconds: net.module_step_seconds().map(<[f64]>::to_vec) };
        let json = serde_json::to_string_pretty(&record).expect("split records serialise");
        Ok(write_atomic(&self.split_path(), json.as_bytes())?)
    }

    fn read_split(&self) -> Result<Vec<UnitId>> {
        let path = self.split_path();
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let record: SplitRecord = serde_json::from_str(&text).map_err(|e| Error::bad_data(&path, format!("not a split record: {e}")))?;
        Ok(record.points)
    }

    /// Creates the folder and records the config; a folder holding another run's config, or
    /// results that a fresh (non-resume) run would overwrite, is an error, and so is a resume
    /// with nothing to resume (checked first, so such a call leaves no files behind).
    fn prepare(&self, config: &TrainConfig, resume: bool) -> Result<()> {
        if resume {
            self.require_checkpoint()?;
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let path = self.config_path();
        match std::fs::read_to_string(&path) {
            // A grid run's file carries more than the trainer's config: compare that part.
            Ok(existing) if config_file::train_config(&path, &existing)? == *config => {}
            Ok(_) => {
                return Err(Error::bad_data(&path, "this run directory belongs to a different configuration; choose another directory"))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_atomic(&path, config_file::to_json(config, None).as_bytes())?,
            Err(e) => return Err(Error::io(&path, e)),
        }
        if !resume && self.checkpoint_path().exists() {
            return Err(Error::bad_data(
                self.checkpoint_path(),
                "a checkpoint is already here: pass resume to continue it, or choose another directory",
            ));
        }
        Ok(())
    }

    /// A resume without a checkpoint is an error, not a silent fresh start: the caller
    /// asked to continue a run that is not there (a wrong --run-dir, a deleted file).
    fn require_checkpoint(&self) -> Result<()> {
        let path = self.checkpoint_path();
        match path.try_exists() {
            Ok(true) => Ok(()),
            Ok(false) => {
                Err(Error::bad_data(&path, "no checkpoint to resume from: the run has not finished an epoch here; start it without resume"))
            }
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Loads the checkpoint and the metrics of the epochs it covers.
    fn resume(&self, net: &mut LocalNetwork) -> Result<Vec<EpochMetrics>> {
        self.require_checkpoint()?;
        let path = self.checkpoint_path();
        let mut tensors = Tensor::load_multi(&path).map_err(|e| Error::bad_data(&path, format!("unreadable checkpoint: {e}")))?;
        let position =
            tensors.iter().position(|(name, _)| name == "#epochs").ok_or_else(|| Error::bad_data(&path, "checkpoint lacks #epochs"))?;
        let epochs = tensors.swap_remove(position).1.int64_value(&[0]) as usize;
        net.load_state(tensors, &path)?;
        let metrics_path = self.metrics_path();
        let mut reader = csv::Reader::from_path(&metrics_path).map_err(|cause| Error::Csv { path: metrics_path.clone(), cause })?;
        let mut history: Vec<EpochMetrics> =
            reader.deserialize().collect::<Result<_, _>>().map_err(|cause| Error::Csv { path: metrics_path.clone(), cause })?;
        if history.len() < epochs {
            return Err(Error::bad_data(&metrics_path, format!("holds {} epochs, the checkpoint {epochs}", history.len())));
        }
        history.truncate(epochs);
        Ok(history)
    }

    fn write_metrics(&self, history: &[EpochMetrics]) -> Result<()> {
        let path = self.metrics_path();
        let mut writer = csv::Writer::from_writer(Vec::new());
        for row in history {
            writer.serialize(row).map_err(|cause| Error::Csv { path: path.clone(), cause })?;
        }
        let bytes = writer.into_inner().map_err(|e| Error::io(&path, e.into_error()))?;
        Ok(write_atomic(&path, &bytes)?)
    }

    /// Serialised in memory, then written like every other file (glcan-store's durable
    /// writer): a full disk fails with the checkpoint's path, leaves no temporary file and
    /// keeps the previous checkpoint.
    fn write_checkpoint(&self, net: &LocalNetwork, epochs: usize) -> Result<()> {
        let path = self.checkpoint_path();
        let mut named = net.state();
        named.push(("#epochs".to_owned(), Tensor::from_slice(&[epochs as i64])));
        let mut bytes = Vec::new();
        Tensor::save_multi_to_stream(&named, &mut bytes)
            .map_err(|e| Error::bad_data(&path, format!("cannot serialise the checkpoint: {e}")))?;
        Ok(write_atomic(&path, &bytes)?)
    }
}
