//! A grid: the preset fields every suite shares ([`Common`]), the suite's own section, and
//! the runs they describe.

use std::path::Path;

use anyhow::{bail, Context, Result};
use glcan_core::aux::{AuxConfig, Method};
use glcan_core::cpu_kernels::CpuIsa;
use glcan_core::models::InitMode;
use glcan_core::optim::{OptimizerConfig, Schedule};
use glcan_core::split;
use glcan_core::train::{ModuleSchedule, OptimizerScope, TrainConfig};
use glcan_store::RunConfig;
use serde::{Deserialize, Serialize};

use crate::suite::Suite;

/// The preset fields of every suite: what runs, and the training recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Common {
    /// Name of the preset, recorded in every result row.
    pub preset: String,
    pub methods: Vec<Method>,
    /// K values for the local methods; `e2e` always runs once, at K = 1.
    pub ks: Vec<usize>,
    pub seeds: Vec<u64>,
    pub epochs: usize,
    pub batch_size: usize,
    /// Base learning rate (the schedule scales it).
    pub lr: f64,
    #[serde(default)]
    pub aux: AuxConfig,
    /// The suite's paper recipe when absent ([`Suite::default_optimizer`]).
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub schedule: Schedule,
    /// Where the parameters start: `reference` (default: as the papers' code starts them) or
    /// `tch` (tch's defaults, as runs made before the setting). Always serialised, so it is
    /// part of every run's config hash.
    #[serde(default)]
    pub init: InitMode,
    /// CPU kernels: `avx2` (default: the same numbers and peak memory on every x86-64 CPU
    /// with AVX2, as committed baselines and reports need) or `native` (this CPU's fastest).
    #[serde(default)]
    pub cpu_isa: CpuIsa,
    #[serde(default = "default_device")]
    pub device: String,
    /// libtorch intra-op threads for every run (the machine's default when absent). The
    /// smoke and quick presets pin it so their numbers do not follow the machine's cores.
    #[serde(default)]
    pub threads: Option<usize>,
    /// `sequential` (default) or `pipelined`: one worker thread per module, each stepping
    /// its own optimizer (the runs then use `optimizer_scope = per-module`, which ends with
    /// the same weights). Named apart from `schedule`, the learning-rate schedule. Left out
    /// of the preset's serialisation when sequential, so existing runs keep their hashes.
    #[serde(default, skip_serializing_if = "ModuleSchedule::is_sequential")]
    pub module_schedule: ModuleSchedule,
    /// Pipelined only: the device of each module, K of them (`["cuda:0", "cuda:1"]`);
    /// empty: every module on `device`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub module_devices: Vec<String>,
    /// Pipelined only: intra-op threads of each worker; absent: `threads` (or the machine's
    /// cores) divided by K.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_threads: Option<usize>,
}

fn default_device() -> String {
    "cpu".to_owned()
}

/// The lists of [`Common`] a grid iterates over.
const ITERATED: [&str; 3] = ["methods", "ks", "seeds"];

/// A resolved preset: the common fields and the suite's section `T`, which serialise as
/// one table (what a run's `config.json` records and its config hash covers).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grid<T> {
    #[serde(flatten)]
    pub common: Common,
    #[serde(flatten)]
    pub suite: T,
}

/// One run of a grid: its point, method, K and seed. It serialises as the run's identity.
#[derive(Debug, Clone, Serialize)]
pub struct Run<P> {
    #[serde(flatten)]
    pub point: P,
    pub method: Method,
    pub k: usize,
    pub seed: u64,
}

impl<T: Serialize + serde::de::DeserializeOwned + Clone + std::fmt::Debug> Grid<T> {
    /// Reads the preset at `path` (its bases merged in, then `overrides` applied: see
    /// `glcan_core::preset`), pins the CPU kernels it asks for, and checks every field and
    /// every run before any data loads; errors name the file and the field or run.
    pub fn load<S: Suite<Section = T>>(path: &Path, overrides: &[String]) -> Result<Self> {
        // Its errors name the file already.
        let grid = Self::read::<S>(path, overrides)?;
        // Before `check` builds any network: the first tensor fixes the kernels.
        glcan_core::cpu_kernels::pin(grid.common.cpu_isa).with_context(|| format!("preset {}", path.display()))?;
        grid.check::<S>().with_context(|| format!("invalid preset {}", path.display()))?;
        Ok(grid)
    }

    /// The common fields, then the rest of the table as the suite's section, which refuses
    /// any field that neither knows.
    fn read<S: Suite<Section = T>>(path: &Path, overrides: &[String]) -> Result<Self> {
        let malformed = |e: &dyn std::fmt::Display| anyhow::anyhow!("{}: malformed preset: {e}", path.display());
        let mut table = glcan_core::preset::load_table(path, overrides)?;
        if !table.contains_key("optimizer") {
            table.insert("optimizer".into(), toml::Value::try_from(S::default_optimizer())?);
        }
        let mut theirs = Vec::new();
        let common: Result<Common, _> =
            serde_ignored::deserialize(toml::Value::Table(table.clone()), |field| theirs.push(field.to_string()));
        let section: toml::Table = table.into_iter().filter(|(key, _)| theirs.contains(key)).collect();
        let suite: Result<T, _> = section.try_into();
        // Both parts are read to the end, so a misspelt field is named even when it leaves a
        // required one missing.
        match (common, suite) {
            (Ok(common), Ok(suite)) => Ok(Grid { common, suite }),
            (Err(e), Ok(_)) => Err(malformed(&e)),
            (Ok(_), Err(e)) => Err(malformed(&e)),
            (Err(e), Err(f)) => Err(malformed(&format!("{}; {f}", e.to_string().trim_end()))),
        }
    }

    /// Every field and every run, once: the methods against the suite, the aux options,
    /// each run's training config and split.
    fn check<S: Suite<Section = T>>(&self) -> Result<()> {
        let common = &self.common;
        for (field, empty) in [("methods", common.methods.is_empty()), ("seeds", common.seeds.is_empty())] {
            if empty {
                bail!("{field} is empty");
            }
        }
        for method in &common.methods {
            method.check_suite(S::BINARY, S::METHODS)?;
        }
        if common.methods.iter().any(|&m| m != Method::E2e) && common.ks.is_empty() {
            bail!("ks is empty but local methods are listed");
        }
        if common.threads == Some(0) {
            bail!("threads is 0: give at least 1, or leave it out for the machine's default");
        }
        S::check(&self.suite)?;
        for point in S::points(&self.suite) {
            let network = S::network(&self.suite, &point).with_context(|| format!("point {}", S::point_id(&self.suite, &point)))?;
            for &method in &common.methods {
                for k in method.module_counts(&common.ks) {
                    let run = Run { point: point.clone(), method, k, seed: common.seeds[0] };
                    let config =
                        self.train_config::<S>(&run, network.as_ref()).with_context(|| format!("run {}", self.run_id::<S>(&run)))?;
                    config.validate().with_context(|| format!("run {}", self.run_id::<S>(&run)))?;
                    split::check(network.as_ref(), k, &config.split).with_context(|| format!("run {}", self.run_id::<S>(&run)))?;
                }
            }
        }
        Ok(())
    }

    /// Every run of the grid, in order: point, method, K, seed.
    pub fn runs<S: Suite<Section = T>>(&self) -> Vec<Run<S::Point>> {
        let common = &self.common;
        let mut runs = Vec::new();
        for point in S::points(&self.suite) {
            for &method in &common.methods {
                for k in method.module_counts(&common.ks) {
                    for &seed in &common.seeds {
                        runs.push(Run { point: point.clone(), method, k, seed });
                    }
                }
            }
        }
        runs
    }

    /// `fashion-mnist-resnet8-glcan-k4-s0`: point, method, K, seed.
    pub fn run_id<S: Suite<Section = T>>(&self, run: &Run<S::Point>) -> String {
        format!("{}-{}-k{}-s{}", S::point_id(&self.suite, &run.point), run.method, run.k, run.seed)
    }

    /// The run's resolved config and its hash: the preset less the iterated lists, plus the
    /// run's identity.
    pub fn run_config<S: Suite<Section = T>>(&self, run: &Run<S::Point>) -> Result<RunConfig> {
        let iterated: Vec<&str> = ITERATED.iter().chain(S::ITERATED).copied().collect();
        RunConfig::new(self, &iterated, run).with_context(|| format!("run {}", self.run_id::<S>(run)))
    }

    /// The trainer's config of `run` on `network`.
    pub fn train_config<S: Suite<Section = T>>(
        &self,
        run: &Run<S::Point>,
        network: &dyn glcan_core::models::UnitNetwork,
    ) -> Result<TrainConfig> {
        let common = &self.common;
        Ok(TrainConfig {
            method: run.method,
            k: run.k,
            split: S::split(&self.suite, network, run.k)?,
            aux: common.aux.clone(),
            optimizer: common.optimizer.clone(),
            // The pipelined schedule steps each module on its own, as the per-module scope does.
            // With SGD or Adam both scopes give the same weights, save GLCAN's EMA branch: in
            // the shared scope it sees later modules' BatchNorm statistics one batch later.
            optimizer_scope: if common.module_schedule.is_sequential() { OptimizerScope::Shared } else { OptimizerScope::PerModule },
            epochs: common.epochs,
            batch_size: common.batch_size,
            eval_batch_size: S::eval_batch_size(&self.suite),
            lr: common.lr,
            schedule: common.schedule.clone(),
            seed: run.seed,
            init: common.init,
            module_schedule: common.module_schedule,
            module_devices: common.module_devices.clone(),
            worker_threads: common.worker_threads,
            // Presets do not choose a layout yet: grids train in PyTorch's default NCHW.
            memory_format: Default::default(),
        })
    }
}
