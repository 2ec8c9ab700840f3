//! Training: the local network ([`LocalNetwork`]), its configuration, and the one trainer
//! every suite hands its data to ([`trainer`]).

pub mod config_file;
pub mod local_network;
pub mod pipeline;
pub mod pipeline_ranks;
pub mod replicas;
pub mod task;
pub mod trainer;

pub use config_file::write_grid_run_config;
pub use local_network::{LocalModule, LocalNetwork};
pub use task::{Classification, NetworkHead, Task};
pub use trainer::{
    train_classifier, train_local, ClassificationData, EpochMetrics, Evaluation, LogProgress, Progress, TaskData, TrainBatch, TrainOutcome,
};

use crate::aux::{AuxConfig, Method};
use crate::memory_format::MemoryFormat;
use crate::models::InitMode;
use crate::optim::{OptimizerConfig, Schedule};
use crate::split::SplitStrategy;
use crate::{Error, Result};

/// When the optimizers step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerScope {
    /// After every module has done its backward pass: one optimizer over all parameters,
    /// as InfoPro trains.
    Shared,
    /// Each module right after its own backward pass, as DGL trains. (With SGD both give
    /// the same weights; per-module stepping frees gradients sooner.)
    PerModule,
}

/// How the K modules of a network share the work of a training step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModuleSchedule {
    /// Module after module in one thread, each batch through the whole network before the
    /// next (the default).
    #[default]
    Sequential,
    /// One worker thread per module, linked by bounded channels: module k works on batch t
    /// while module k+1 works on batch t-1, each stepping its own optimizer. It ends with
    /// the weights of the sequential schedule with `optimizer_scope = per-module`
    /// (see [`pipeline`]). In a process launched as one of K ranks (torchrun, srun), the
    /// process trains module `rank` and the modules are linked by c10d ([`pipeline_ranks`]).
    Pipelined,
}

impl ModuleSchedule {
    pub fn name(self) -> &'static str {
        match self {
            ModuleSchedule::Sequential => "sequential",
            ModuleSchedule::Pipelined => "pipelined",
        }
    }

    pub fn is_sequential(&self) -> bool {
        *self == ModuleSchedule::Sequential
    }
}

impl std::fmt::Display for ModuleSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ModuleSchedule {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "sequential" => Ok(ModuleSchedule::Sequential),
            "pipelined" => Ok(ModuleSchedule::Pipelined),
            other => Err(Error::config("module_schedule", format!("unknown schedule {other:?}: sequential or pipelined"))),
        }
    }
}

/// Everything a training run needs besides its data and network. Defaults are InfoPro's
/// recipe (SGD, Nesterov 0.9, weight decay 1e-4, cosine schedule, published split points).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub method: Method,
    /// Number of local modules; 1 (end-to-end) exactly when `method` is `e2e`.
    pub k: usize,
    #[serde(default)]
    pub split: SplitStrategy,
    #[serde(default)]
    pub aux: AuxConfig,
    #[serde(default = "OptimizerConfig::infopro_sgd")]
    pub optimizer: OptimizerConfig,
    #[serde(default = "default_scope")]
    pub optimizer_scope: OptimizerScope,
    pub epochs: usize,
    pub batch_size: usize,
    #[serde(default = "default_eval_batch_size")]
    pub eval_batch_size: usize,
    /// Base learning rate (the schedule scales it).
    pub lr: f64,
    #[serde(default)]
    pub schedule: Schedule,
    #[serde(default)]
    pub seed: u64,
    /// Where the parameters start: `reference` (the papers' code, the default) or `tch`
    /// (tch's defaults, as runs made before the setting). Always written to `config.json`;
    /// a file without it was written before the setting and reads as `tch`.
    #[serde(default)]
    pub init: InitMode,
    /// Sequential (default) or pipelined modules. (`schedule` is the learning-rate schedule.)
    /// Left out of `config.json` when sequential, so that run folders written before the
    /// setting existed still match their config and resume.
    #[serde(default, skip_serializing_if = "ModuleSchedule::is_sequential")]
    pub module_schedule: ModuleSchedule,
    /// Pipelined only: the device of each module (`cpu`, `cuda:1`, ...), K of them; empty:
    /// every module on the run's device.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub module_devices: Vec<String>,
    /// Pipelined only: libtorch intra-op threads of each worker; absent: the run's threads
    /// divided by K (at least 1), so that workers x threads fit the cores (across ranks, a
    /// process's one worker takes all of its threads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_threads: Option<usize>,
    /// `contiguous` (NCHW, the default) or `channels_last` (NHWC conv weights and batches:
    /// faster CPU convolutions). Left out of `config.json` when contiguous, so that existing
    /// run folders and config hashes stay as they were.
    #[serde(default, skip_serializing_if = "MemoryFormat::is_contiguous")]
    pub memory_format: MemoryFormat,
}

fn default_scope() -> OptimizerScope {
    OptimizerScope::Shared
}

fn default_eval_batch_size() -> usize {
    500
}

impl TrainConfig {
    /// `method` at K, `epochs` epochs of `batch_size` at `lr`; every other choice at its default.
    pub fn new(method: Method, k: usize, epochs: usize, batch_size: usize, lr: f64) -> Self {
        TrainConfig {
            method,
            k,
            split: SplitStrategy::default(),
            aux: AuxConfig::default(),
            optimizer: OptimizerConfig::infopro_sgd(),
            optimizer_scope: default_scope(),
            epochs,
            batch_size,
            eval_batch_size: default_eval_batch_size(),
            lr,
            schedule: Schedule::default(),
            seed: 0,
            init: InitMode::Reference,
            module_schedule: ModuleSchedule::Sequential,
            module_devices: Vec::new(),
            worker_threads: None,
            memory_format: MemoryFormat::Contiguous,
        }
    }

    pub fn validate(&self) -> Result<()> {
        match (self.method, self.k) {
            (_, 0) => return Err(Error::config("k", "must be at least 1")),
            (Method::E2e, k) if k != 1 => {
                return Err(Error::config("k", format!("e2e trains the network as one module, so K must be 1, not {k}")))
            }
            (method, 1) if method != Method::E2e => {
                return Err(Error::config("k", format!("{method} needs K >= 2 local modules (K = 1 is e2e)")))
            }
            _ => {}
        }
        self.optimizer.validate()?;
        self.aux.validate()?;
        for (field, value) in [("epochs", self.epochs), ("batch_size", self.batch_size), ("eval_batch_size", self.eval_batch_size)] {
            if value == 0 {
                return Err(Error::config(field, "must be at least 1"));
            }
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::config("lr", format!("must be a positive number, got {}", self.lr)));
        }
        self.validate_schedule()
    }

    /// The pipelined schedule's fields: per-module optimizers, a device per module, threads.
    fn validate_schedule(&self) -> Result<()> {
        if self.module_schedule.is_sequential() {
            if !self.module_devices.is_empty() {
                return Err(Error::config(
                    "module_devices",
                    "a device per module needs module_schedule = \"pipelined\" (the sequential schedule runs on one device)",
                ));
            }
            if self.worker_threads.is_some() {
                return Err(Error::config(
                    "worker_threads",
                    "threads per worker need module_schedule = \"pipelined\" (the sequential schedule has no workers)",
                ));
            }
            return Ok(());
        }
        if self.optimizer_scope != OptimizerScope::PerModule {
            return Err(Error::config(
                "optimizer_scope",
                "module_schedule = \"pipelined\" steps each module on its own: set optimizer_scope = \"per-module\" (its sequential twin)",
            ));
        }
        if !self.module_devices.is_empty() && self.module_devices.len() != self.k {
            return Err(Error::config(
                "module_devices",
                format!("{} devices for K = {} modules: give one per module, or none", self.module_devices.len(), self.k),
            ));
        }
        for name in &self.module_devices {
            crate::run_env::parse_device(name).map_err(|e| Error::config("module_devices", format!("{name:?}: {e}")))?;
        }
        if self.worker_threads == Some(0) {
            return Err(Error::config("worker_threads", "must be at least 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_and_k_must_agree() {
        let config = |method, k| TrainConfig::new(method, k, 1, 8, 0.1);
        assert!(config(Method::E2e, 1).validate().is_ok());
        assert!(config(Method::Glcan, 4).validate().is_ok());
        assert!(config(Method::E2e, 2).validate().unwrap_err().to_string().contains("K must be 1"));
        assert!(config(Method::Dgl, 1).validate().unwrap_err().to_string().contains("dgl needs K >= 2"));
        assert!(config(Method::Dgl, 0).validate().is_err());
        assert!(TrainConfig { lr: f64::NAN, ..config(Method::E2e, 1) }.validate().unwrap_err().to_string().contains("lr"));
    }

    #[test]
    fn toml_states_only_the_differences() {
        let config: TrainConfig = toml::from_str("method = \"glcan\"\nk = 4\nepochs = 3\nbatch_size = 64\nlr = 0.05\n").unwrap();
        assert_eq!(config.method, Method::Glcan);
        assert_eq!(config.split, SplitStrategy::Published);
        assert_eq!(config.eval_batch_size, 500);
        let bad = toml::from_str::<TrainConfig>("method = \"glcan\"\nk = 4\nepochs = 3\nbatch_size = 64\nlr = 0.05\nlearning_rate = 1\n");
        assert!(bad.unwrap_err().to_string().contains("learning_rate"));
    }
}
