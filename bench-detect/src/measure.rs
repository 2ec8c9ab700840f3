//! `bench-detect measure`: peak memory and throughput of a RetinaNet-style detector's
//! training steps on random images and random boxes, in this process, printed as one JSON
//! object: the backbones and image sizes of the detection papers (ResNet-50, 512x512 or
//! 800x1333), which the CPU quick preset cannot afford to train.

use std::time::Instant;

use anyhow::{Context, Result};
use bench_detect::detector::random_targets::random_ground_truth;
use bench_detect::detector::{DetectionTask, DetectorConfig};
use bench_detect::grid::{split_strategy, Detect, DetectSplit};
use glcan_core::aux::{LocalTargets, Method};
use glcan_core::memory::{self, PeakMeter};
use glcan_core::models::registry::{self, Family};
use glcan_core::models::NetworkName;
use glcan_core::run_env::parse_device;
use glcan_core::train::{LocalNetwork, TrainConfig};
use glcan_runner::Suite;
use tch::{Device, Kind, Tensor};

/// Measure one configuration's training step on random images and boxes.
#[derive(Debug, clap::Args)]
pub struct MeasureArgs {
    /// The backbone: an ImageNet ResNet (resnet18, resnet50, resnetD-wW, ...).
    #[arg(long, default_value = "resnet50", value_parser = str::parse::<NetworkName>, help = registry::NAMES)]
    pub net: NetworkName,
    /// e2e, dgl or glcan.
    #[arg(long, value_parser = parse_method, default_value = "e2e")]
    pub method: Method,
    /// Number of local modules (1 for e2e).
    #[arg(long, default_value_t = 1)]
    pub k: usize,
    #[arg(long, value_enum, default_value = "early")]
    pub split: SplitArg,
    /// Image side, or height x width (`512`, `800x1333`).
    #[arg(long, value_parser = parse_size, default_value = "512")]
    pub size: ImageSize,
    #[arg(long, default_value_t = 2)]
    pub batch_size: usize,
    /// Object classes (COCO: 80).
    #[arg(long, default_value_t = 80)]
    pub classes: i64,
    /// Random ground-truth boxes per image.
    #[arg(long, default_value_t = 8)]
    pub objects: i64,
    /// Channels of the FPN levels and the subnets (RetinaNet: 256).
    #[arg(long, default_value_t = 256)]
    pub fpn_width: i64,
    /// conv3x3 + ReLU layers of each subnet of the real head (RetinaNet: 4).
    #[arg(long, default_value_t = 4)]
    pub head_convs: usize,
    /// The same for the aux nets' one-level heads.
    #[arg(long, default_value_t = DetectorConfig::default().aux_head_convs)]
    pub aux_head_convs: usize,
    /// Width multiplier of GLCAN's global branch (aux.glcan.global_width).
    #[arg(long)]
    pub glcan_global_width: Option<f64>,
    /// Measured steps (after the warm-up steps).
    #[arg(long, default_value_t = 2)]
    pub steps: usize,
    /// Unmeasured steps first (allocation of optimizer state, caches).
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// cpu, cuda or cuda:N.
    #[arg(long, value_parser = parse_device_arg, default_value = "cpu")]
    pub device: Device,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// `--split`: the detection grid's strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitArg {
    /// Stage ends, the earliest first (the detection presets' default).
    Early,
    /// Pyramid levels first.
    Pyramid,
    /// Nearly equal numbers of units per module.
    Even,
    /// The points minimising the largest module's memory, aux nets and head included
    /// (measured on square images: give --size N).
    MemoryBalanced,
}

impl SplitArg {
    fn detect_split(self) -> DetectSplit {
        match self {
            SplitArg::Early => DetectSplit::Early,
            SplitArg::Pyramid => DetectSplit::Pyramid,
            SplitArg::Even => DetectSplit::Even,
            SplitArg::MemoryBalanced => DetectSplit::MemoryBalanced,
        }
    }
}

/// Image height and width, pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSize {
    pub height: i64,
    pub width: i64,
}

fn parse_size(text: &str) -> Result<ImageSize, String> {
    let side = |s: &str| match s.trim().parse::<i64>() {
        Ok(n) if n >= 32 => Ok(n),
        _ => Err(format!("--size: {s:?} is not a side of at least 32 pixels (the backbone's stride); expected N or HxW, e.g. 800x1333")),
    };
    match text.split_once('x') {
        Some((h, w)) => Ok(ImageSize { height: side(h)?, width: side(w)? }),
        None => side(text).map(|n| ImageSize { height: n, width: n }),
    }
}

fn parse_method(text: &str) -> Result<Method, String> {
    Method::from_name(text)
        .and_then(|method| method.check_suite("bench-detect", &bench_detect::detector::METHODS).map(|()| method))
        .map_err(|e| e.to_string())
}

fn parse_device_arg(text: &str) -> Result<Device, String> {
    parse_device(text).map_err(|e| e.to_string())
}

/// What `measure` prints.
#[derive(Debug, serde::Serialize)]
pub struct Measurement {
    pub net: String,
    pub method: String,
    pub k: usize,
    pub split: String,
    pub split_points: Vec<String>,
    /// Memory-balanced split: each module's measured bytes (units' activations plus its aux
    /// net's or the head's) at the chosen points.
    pub module_memory_bytes: Option<Vec<u64>>,
    pub batch_size: usize,
    pub height: i64,
    pub width: i64,
    pub classes: i64,
    pub objects: i64,
    pub fpn_width: i64,
    pub head_convs: usize,
    pub aux_head_convs: usize,
    pub glcan_global_width: f64,
    pub device: String,
    pub threads: i32,
    /// The CPU kernels (`avx2` when pinned, `native-<isa>` otherwise).
    pub cpu_isa: String,
    /// The kernels' numerics fingerprint (glcan_core::kernel_probe).
    pub kernel_fingerprint: String,
    pub dtype: &'static str,
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
}

pub fn run(args: &MeasureArgs) -> Result<Measurement> {
    anyhow::ensure!(args.steps >= 1, "--steps must be at least 1");
    anyhow::ensure!(args.batch_size >= 1, "--batch-size must be at least 1");
    anyhow::ensure!(args.classes >= 1, "--classes must be at least 1");
    anyhow::ensure!(args.objects >= 1, "--objects must be at least 1");
    anyhow::ensure!(
        args.net.family() == Family::ImageNet,
        "--net {}: the detector needs an ImageNet ResNet (resnet18, resnet50, ...)",
        args.net
    );
    let ImageSize { height, width } = args.size;
    anyhow::ensure!(
        args.split != SplitArg::MemoryBalanced || height == width || args.k == 1,
        "--split memory-balanced measures its costs on square images: give --size N, not {height}x{width}"
    );
    // The network's nominal size is the shorter side; the convolutions take any shape.
    let network = args.net.build(3, args.classes, height.min(width))?;
    let detector = DetectorConfig {
        fpn_width: args.fpn_width,
        head_convs: args.head_convs,
        aux_head_convs: args.aux_head_convs,
        ..DetectorConfig::default()
    };
    let task = DetectionTask::new(network.as_ref(), args.classes, &detector).context("--fpn-width / --head-convs")?;
    let split = split_strategy(network.as_ref(), args.k, args.split.detect_split()).context("--split")?;
    let mut config = TrainConfig {
        split,
        seed: args.seed,
        optimizer: Detect::default_optimizer(),
        ..TrainConfig::new(args.method, args.k, 1, args.batch_size, 0.01)
    };
    if let Some(width) = args.glcan_global_width {
        config.aux.glcan.global_width = width;
    }
    config.validate().context("--glcan-global-width")?;
    tch::manual_seed(args.seed as i64);
    let mut net =
        LocalNetwork::build(network.as_ref(), &task, &config, 3, height.min(width), args.device).context("building the detector")?;
    let batch = args.batch_size as i64;
    let images = Tensor::randn([batch, 3, height, width], (Kind::Float, args.device));
    let raw = Tensor::rand([batch, 3, height, width], (Kind::Float, args.device));
    let boxes = random_ground_truth(batch, args.objects, height, width, args.classes, args.device);
    let targets = LocalTargets { images: &images, raw_images: &raw, target: &boxes };
    let step = |net: &mut LocalNetwork| -> Result<()> {
        net.train_step(&images, &targets, 0.01)
            .map_err(|f| anyhow::anyhow!("loss of module {} is {} on random input", f.module, f.value))?;
        if let Device::Cuda(index) = args.device {
            tch::Cuda::synchronize(index as i64);
        }
        Ok(())
    };
    for _ in 0..args.warmup {
        step(&mut net)?;
    }
    let rss_reset = args.device == Device::Cpu && memory::reset_peak_rss().is_ok();
    let (mut peak, mut peak_above_start) = (0, 0);
    let mut seconds = Vec::with_capacity(args.steps);
    for _ in 0..args.steps {
        let meter = PeakMeter::start(args.device)?;
        let started = Instant::now();
        step(&mut net)?;
        seconds.push(started.elapsed().as_secs_f64());
        let measured = meter.peak()?;
        peak = peak.max(measured.tensor_peak_bytes);
        peak_above_start = peak_above_start.max(measured.tensor_peak_above_start_bytes());
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    Ok(Measurement {
        net: network.name(),
        method: args.method.name().to_owned(),
        k: args.k,
        split: format!("{:?}", args.split.detect_split()).to_lowercase(),
        split_points: net.split().points(network.as_ref()).iter().map(|p| p.to_string()).collect(),
        module_memory_bytes: net.module_memory_bytes().map(<[u64]>::to_vec),
        batch_size: args.batch_size,
        height,
        width,
        classes: args.classes,
        objects: args.objects,
        fpn_width: args.fpn_width,
        head_convs: args.head_convs,
        aux_head_convs: args.aux_head_convs,
        glcan_global_width: config.aux.glcan.global_width,
        device: memory::device_name(args.device),
        threads: tch::get_num_threads(),
        cpu_isa: glcan_core::cpu_kernels::current_kernels().label(),
        kernel_fingerprint: glcan_core::kernel_probe::fingerprint(),
        dtype: "float32",
        steps: args.steps,
        peak_bytes: peak,
        peak_above_start_bytes: peak_above_start,
        peak_rss_bytes: if rss_reset { memory::peak_rss_bytes().ok() } else { None },
        images_per_s: args.batch_size as f64 / median,
        step_seconds_median: median,
    })
}
