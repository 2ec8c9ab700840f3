//! Training: the local network ([`LocalNetwork`]), its configuration, and the one trainer
//! every suite hands its data to ([`trainer`]).

pub mod config_file;
pub mod local_network;
pub mod task;
pub mod trainer;

pub use config_file::write_grid_run_config;
pub use local_network::{LocalModule, LocalNetwork};
pub use task::{Classification, NetworkHead, Task};
pub use trainer::{
    train_classifier, train_local, ClassificationData, EpochMetrics, Evaluation, LogProgress, Progress, TaskData, TrainBatch, TrainOutcome,
};

use crate::aux::{AuxConfig, Method};
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
