//! Command-line pieces shared by the subcommands.

use anyhow::Result;
use glcan_core::aux::Method;
use glcan_core::split::SplitStrategy;
use glcan_core::train::{ModuleSchedule, OptimizerScope, TrainConfig};
use tch::Device;

/// How to choose the split points (`--split`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitArg {
    /// InfoPro's published points for ResNet-32/110 at K = 2, 4, 8, 16; even elsewhere.
    Published,
    /// InfoPro's memory-balanced ResNet-110 points (K = 2, 3, 4).
    PublishedBalanced,
    /// Nearly equal numbers of units per module.
    Even,
    /// Points minimising the largest module's measured activation memory.
    MemoryBalanced,
    /// Points minimising the slowest module's measured step time (units, aux net or head,
    /// forward and backward): the pace of a pipeline.
    TimeBalanced,
}

impl SplitArg {
    pub fn strategy(self) -> SplitStrategy {
        match self {
            SplitArg::Published => SplitStrategy::Published,
            SplitArg::PublishedBalanced => SplitStrategy::PublishedBalanced,
            SplitArg::Even => SplitStrategy::Even,
            SplitArg::MemoryBalanced => SplitStrategy::MemoryBalanced,
            SplitArg::TimeBalanced => SplitStrategy::TimeBalanced,
        }
    }
}

/// `--schedule`: how the modules share a training step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScheduleArg {
    /// Module after module, in one thread.
    Sequential,
    /// One worker thread per module, linked by bounded channels; each steps its own optimizer.
    /// Launched by torchrun or srun with K ranks: one module per process, linked by c10d.
    Pipelined,
}

/// The module schedule's flags, shared by `train` and `measure`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScheduleArgs {
    /// sequential, or pipelined (module k on batch t while module k+1 is on batch t-1; the
    /// same final weights as sequential with per-module optimizers). Sets the config's
    /// `module_schedule` (`schedule` is the learning-rate schedule).
    #[arg(long = "schedule", value_enum, default_value = "sequential")]
    pub schedule: ScheduleArg,
    /// Pipelined: each module's device, comma-separated, K of them (cpu,cpu or
    /// cuda:0,cuda:1); default: --device for every module.
    #[arg(long, value_delimiter = ',')]
    pub module_devices: Vec<String>,
    /// Pipelined: libtorch intra-op threads of each worker; default: the threads
    /// (OMP_NUM_THREADS, else the cores) divided by K, or all of them for a rank's one module.
    #[arg(long)]
    pub worker_threads: Option<usize>,
}

impl ScheduleArgs {
    /// `config` with these settings; pipelined runs step per module.
    pub fn apply(&self, config: TrainConfig) -> TrainConfig {
        let module_schedule = match self.schedule {
            ScheduleArg::Sequential => ModuleSchedule::Sequential,
            ScheduleArg::Pipelined => ModuleSchedule::Pipelined,
        };
        let optimizer_scope = if module_schedule.is_sequential() { config.optimizer_scope } else { OptimizerScope::PerModule };
        TrainConfig {
            module_schedule,
            optimizer_scope,
            module_devices: self.module_devices.clone(),
            worker_threads: self.worker_threads,
            ..config
        }
    }
}

/// `--split-point [s,u]`: a module ends after unit u of stage s.
pub fn parse_unit_id(text: &str) -> Result<glcan_core::models::UnitId> {
    let inner = text
        .trim()
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| anyhow::anyhow!("{text:?}: expected [stage,unit], e.g. [2,1]"))?;
    let (stage, unit) = inner.split_once(',').ok_or_else(|| anyhow::anyhow!("{text:?}: expected [stage,unit], e.g. [2,1]"))?;
    Ok(glcan_core::models::UnitId::new(stage.trim().parse()?, unit.trim().parse()?))
}

/// `--method`: one of e2e, greedy-sl, dgl, infopro-softmax, infopro-contrast, glcan, predsim,
/// auglocal.
pub fn parse_method(name: &str) -> Result<Method> {
    Ok(Method::from_name(name)?)
}

/// `--device`: `cpu`, `cuda` (device 0) or `cuda:N`; CUDA must be available.
pub fn parse_device(name: &str) -> Result<Device> {
    Ok(glcan_core::run_env::parse_device(name)?)
}
