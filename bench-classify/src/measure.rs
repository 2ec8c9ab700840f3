//! `bench-classify measure`: peak memory and throughput of training steps on random input,
//! in this process, printed as one JSON object. With `--schedule pipelined`, also each
//! module's busy fraction (the rest is the pipeline bubble and waiting on neighbours) and
//! each worker's peak memory.

use std::time::Instant;

use anyhow::{Context, Result};
use glcan_core::aux::{LocalTargets, Method};
use glcan_core::memory::{self, PeakMeter};
use glcan_core::memory_format::MemoryFormat;
use glcan_core::models::{registry, InitMode, NetworkName};
use glcan_core::train::pipeline::{self, PipelineBatch};
use glcan_core::train::pipeline_ranks;
use glcan_core::train::{Classification, LocalNetwork, TrainConfig};
use tch::{Device, Kind, Tensor};

use crate::args::{parse_device, parse_method, parse_unit_id, ScheduleArgs, SplitArg};

/// Measure one configuration's training step on random images.
#[derive(Debug, clap::Args)]
pub struct MeasureArgs {
    /// The network (see `glcan_core::models::registry`).
    #[arg(long, default_value = "resnet32", value_parser = str::parse::<NetworkName>, help = registry::NAMES)]
    pub net: NetworkName,
    /// e2e, greedy-sl, dgl, infopro-softmax, infopro-contrast, glcan, predsim or auglocal.
    #[arg(long, value_parser = parse_method, default_value = "e2e")]
    pub method: Method,
    /// Number of local modules (1 for e2e).
    #[arg(long, default_value_t = 1)]
    pub k: usize,
    #[arg(long, value_enum, default_value = "published")]
    pub split: SplitArg,
    /// These split points instead of --split (K - 1 of them, e.g. --split-point '[2,1]'):
    /// to measure several schedules at one split.
    #[arg(long = "split-point", value_parser = parse_unit_id)]
    pub split_points: Vec<glcan_core::models::UnitId>,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
    /// contiguous (NCHW, PyTorch's default) or channels_last (NHWC conv weights and batches;
    /// faster convolutions on CPUs). Sets the config's `memory_format`.
    #[arg(long, value_parser = str::parse::<MemoryFormat>, default_value = "contiguous")]
    pub memory_format: MemoryFormat,
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Image channels (1 or 3).
    #[arg(long, default_value_t = 3)]
    pub channels: i64,
    /// Image side in pixels.
    #[arg(long, default_value_t = 32)]
    pub size: i64,
    #[arg(long, default_value_t = 10)]
    pub classes: i64,
    /// Measured steps (after the warm-up steps).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Unmeasured steps first (allocation of optimizer state, caches).
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// cpu, cuda or cuda:N.
    #[arg(long, value_parser = parse_device, default_value = "cpu")]
    pub device: Device,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where the parameters start: reference (as the papers' code) or tch (tch's defaults,
    /// as runs made before the setting).
    #[arg(long, value_parser = str::parse::<InitMode>, default_value = "reference")]
    pub init: InitMode,
}

/// What `measure` prints.
#[derive(Debug, serde::Serialize)]
pub struct Measurement {
    pub net: String,
    pub method: String,
    pub k: usize,
    pub split_points: Vec<String>,
    pub batch_size: usize,
    pub channels: i64,
    pub size: i64,
    pub device: String,
    pub threads: i32,
    /// The CPU kernels (`avx2` when pinned, `native-<isa>` otherwise).
    pub cpu_isa: String,
    /// The kernels' numerics fingerprint (glcan_core::kernel_probe).
    pub kernel_fingerprint: String,
    pub dtype: &'static str,
    /// `contiguous` or `channels_last`.
    pub memory_format: &'static str,
    pub steps: usize,
    /// Largest peak of live tensor bytes during one step (weights, gradients, optimizer
    /// state and activations included).
    pub peak_bytes: u64,
    /// The same peak minus the bytes alive when the step began.
    pub peak_above_start_bytes: u64,
    /// Process peak resident set size over the measured steps (CPU only).
    pub peak_rss_bytes: Option<u64>,
    /// Batch size / median step time.
    pub images_per_s: f64,
    pub step_seconds_median: f64,
    /// `sequential` or `pipelined`.
    pub schedule: String,
    /// Pipelined: intra-op threads of each worker.
    pub worker_threads: Option<usize>,
    /// Pipelined: the seconds each module's worker computed over the measured steps' wall
    /// time (1 - bubble - waiting on its neighbours); across ranks, null for the modules of
    /// other ranks.
    pub module_busy_fraction: Option<Vec<f64>>,
    /// Pipelined: each worker's peak of the CPU tensor bytes it allocated and held (CPU
    /// counting allocator, thread tags), warm-up included.
    pub worker_peak_bytes: Option<Vec<u64>>,
    /// The modules' step seconds measured for `--split time-balanced` (units, aux net or
    /// head; forward and backward), at the split it chose.
    pub module_step_seconds: Option<Vec<f64>>,
    /// Launched as ranks (torchrun, srun): this process's rank, which trained module `rank`;
    /// the last rank's images/s is the pipeline's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<usize>,
}

/// What a pipelined measurement adds.
struct PipelinedFigures {
    step_seconds_median: f64,
    peak_bytes: u64,
    peak_above_start_bytes: u64,
    busy: Vec<f64>,
    worker_peak_bytes: Vec<u64>,
    threads: usize,
}

pub fn run(args: &MeasureArgs) -> Result<Measurement> {
    anyhow::ensure!(args.steps >= 1, "--steps must be at least 1");
    // Under a launcher, `cuda` is this rank's own GPU.
    let device = glcan_core::c10d::rank_device(args.device, |name| std::env::var(name).ok())?;
    let network = args.net.build(args.channels, args.classes, args.size)?;
    let split = if args.split_points.is_empty() {
        args.split.strategy()
    } else {
        glcan_core::split::SplitStrategy::Points(args.split_points.clone())
    };
    let config = args.schedule.apply(TrainConfig {
        split,
        seed: args.seed,
        init: args.init,
        memory_format: args.memory_format,
        ..TrainConfig::new(args.method, args.k, 1, args.batch_size, 0.01)
    });
    config.validate()?;
    tch::manual_seed(args.seed as i64);
    let mut net = LocalNetwork::build(network.as_ref(), &Classification, &config, args.channels, args.size, device)
        .context("building the network")?;
    let batch = args.batch_size as i64;
    let images = Tensor::randn([batch, args.channels, args.size, args.size], (Kind::Float, device));
    let raw = Tensor::rand([batch, args.channels, args.size, args.size], (Kind::Float, device));
    let labels = Tensor::randint(args.classes, [batch], (Kind::Int64, device));
    let pipelined = !config.module_schedule.is_sequential();
    // Under a launcher the pipeline's modules are the ranks ([`pipeline_ranks`]).
    let ranks = glcan_core::c10d::launched_group()?.filter(|group| group.world_size() > 1);
    anyhow::ensure!(
        pipelined || ranks.is_none(),
        "measure launched as ranks needs --schedule pipelined (one module per rank); replicas are measured by `train`"
    );
    let module_step_seconds = net.module_step_seconds().map(<[f64]>::to_vec);
    let split_points: Vec<String> = net.split().points(network.as_ref()).iter().map(|p| p.to_string()).collect();
    let measurement =
        |step_seconds_median: f64, peak_bytes, peak_above_start_bytes, peak_rss_bytes, extra: Option<PipelinedFigures>| Measurement {
            net: network.name(),
            method: args.method.name().to_owned(),
            k: args.k,
            split_points: split_points.clone(),
            batch_size: args.batch_size,
            channels: args.channels,
            size: args.size,
            device: memory::device_name(device),
            threads: tch::get_num_threads(),
            cpu_isa: glcan_core::cpu_kernels::current_kernels().label(),
            kernel_fingerprint: glcan_core::kernel_probe::fingerprint(),
            dtype: "float32",
            memory_format: args.memory_format.name(),
            steps: args.steps,
            peak_bytes,
            peak_above_start_bytes,
            peak_rss_bytes,
            images_per_s: args.batch_size as f64 / step_seconds_median,
            step_seconds_median,
            schedule: config.module_schedule.name().to_owned(),
            worker_threads: extra.as_ref().map(|e| e.threads),
            module_busy_fraction: extra.as_ref().map(|e| e.busy.clone()),
            worker_peak_bytes: extra.map(|e| e.worker_peak_bytes),
            module_step_seconds: module_step_seconds.clone(),
            rank: ranks.map(|g| g.rank()),
        };
    if pipelined {
        anyhow::ensure!(
            args.warmup >= 1,
            "--schedule pipelined needs --warmup of at least 1 (the measured window starts when a warm-up batch leaves the pipeline)"
        );
        let threads = match ranks {
            Some(_) => config.worker_threads.unwrap_or_else(|| tch::get_num_threads().max(1) as usize),
            None => pipeline::worker_threads(config.worker_threads, args.k),
        };
        let batches = (0..args.warmup + args.steps).map(|_| {
            Ok(PipelineBatch { images: images.shallow_clone(), raw_images: raw.shallow_clone(), target: labels.shallow_clone(), lr: 0.01 })
        });
        let rss_reset = device == Device::Cpu && memory::reset_peak_rss().is_ok();
        let mut left = Vec::with_capacity(args.warmup + args.steps);
        let mut meter = None;
        let on_step = |step: usize, _: &[f64]| {
            if let Device::Cuda(index) = device {
                tch::Cuda::synchronize(index as i64);
            }
            left.push(Instant::now());
            if step + 1 == args.warmup {
                meter = Some(PeakMeter::start(device)?);
            }
            Ok(())
        };
        let stats = match ranks {
            Some(group) => pipeline_ranks::run_rank(&mut net, group, threads, batches, on_step),
            None => pipeline::run(&mut net, threads, batches, on_step),
        }
        .map_err(|stop| anyhow::anyhow!("the pipeline stopped: {stop:?}"))?;
        // The measured window: from the last warm-up batch leaving the pipeline to the last batch.
        let window = left[left.len() - 1].duration_since(left[args.warmup - 1]).as_secs_f64();
        let mut intervals: Vec<f64> = left[args.warmup - 1..].windows(2).map(|w| w[1].duration_since(w[0]).as_secs_f64()).collect();
        intervals.sort_by(f64::total_cmp);
        // A rank times its own module only: the others' entries are null there.
        let busy = stats
            .busy_seconds
            .iter()
            .map(|b| b.get(args.warmup..).filter(|b| !b.is_empty()).map_or(f64::NAN, |b| (b.iter().sum::<f64>() / window).min(1.0)))
            .collect();
        let peak = meter.context("no measured window")?.peak()?;
        let figures = PipelinedFigures {
            step_seconds_median: intervals[intervals.len() / 2],
            peak_bytes: peak.tensor_peak_bytes,
            peak_above_start_bytes: peak.tensor_peak_above_start_bytes(),
            busy,
            worker_peak_bytes: stats.worker_peak_bytes.clone(),
            threads,
        };
        let rss = if rss_reset { memory::peak_rss_bytes().ok() } else { None };
        return Ok(measurement(figures.step_seconds_median, figures.peak_bytes, figures.peak_above_start_bytes, rss, Some(figures)));
    }
    let targets = LocalTargets { images: &images, raw_images: &raw, target: &labels };
    let step = |net: &mut LocalNetwork| -> Result<()> {
        net.train_step(&images, &targets, 0.01)
            .map_err(|f| anyhow::anyhow!("loss of module {} is {} on random input", f.module, f.value))?;
        if let Device::Cuda(index) = device {
            tch::Cuda::synchronize(index as i64);
        }
        Ok(())
    };
    for _ in 0..args.warmup {
        step(&mut net)?;
    }
    let rss_reset = device == Device::Cpu && memory::reset_peak_rss().is_ok();
    let (mut peak, mut peak_above_start) = (0, 0);
    let mut seconds = Vec::with_capacity(args.steps);
    for _ in 0..args.steps {
        let meter = PeakMeter::start(device)?;
        let started = Instant::now();
        step(&mut net)?;
        seconds.push(started.elapsed().as_secs_f64());
        let measured = meter.peak()?;
        peak = peak.max(measured.tensor_peak_bytes);
        peak_above_start = peak_above_start.max(measured.tensor_peak_above_start_bytes());
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let rss = if rss_reset { memory::peak_rss_bytes().ok() } else { None };
    Ok(measurement(median, peak, peak_above_start, rss, None))
}
