//! A network cut into K local modules, each with its own variables, aux net and optimizer.
//!
//! The training step is the whole idea of local learning, kept short on purpose:
//! for each module, take the previous output **detached**, forward, compute the local loss
//! (aux net, or the real head for the last module), backward, and move on. No gradient
//! crosses a module boundary, and only one module's autograd graph is alive at a time.
//!
//! What the real head computes and how it is scored is the [`Task`]'s business, so the same
//! network trains classifiers, detectors and super-resolvers.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

use super::task::{NetworkHead, Task};
use super::{OptimizerScope, TrainConfig};
use crate::aux::{self, AuxContext, AuxNet, LocalTargets, Method};
use crate::memory_format::{self, MemoryFormat};
use crate::models::UnitNetwork;
use crate::optim::Optimizer;
use crate::saved_state::SavedState;
use crate::split::{self, ModuleSplit, SplitStrategy};
use crate::unit_costs;
use crate::{Error, Result};

/// One local module: consecutive units, and either an aux net or (last module) the head.
#[derive(Debug)]
pub struct LocalModule {
    pub store: nn::VarStore,
    pub units: Range<usize>,
    blocks: Vec<Box<dyn ModuleT>>,
    pub(super) objective: Objective,
    pub(super) optimizer: Optimizer,
}

#[derive(Debug)]
pub(super) enum Objective {
    Aux(Box<dyn AuxNet>),
    Head(Box<dyn NetworkHead>),
}

impl LocalModule {
    /// Copies of the gradients of the module's trainable variables (undefined ones left out).
    pub fn gradients(&self) -> Vec<(String, Tensor)> {
        let mut grads: Vec<_> = self
            .store
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad() && t.grad().defined())
            .map(|(n, t)| (n, t.grad().copy()))
            .collect();
        grads.sort_by(|a, b| a.0.cmp(&b.0));
        grads
    }

    /// The aux net's state outside the store (empty for the last module, which has the head).
    fn aux_private_state(&self) -> Vec<(String, Tensor)> {
        match &self.objective {
            Objective::Aux(aux) => aux.private_state(),
            Objective::Head(_) => Vec::new(),
        }
    }

    /// The module's output for input `x`.
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        self.blocks.iter().fold(x.shallow_clone(), |h, block| block.forward_t(&h, train))
    }

    /// The device of the module's variables.
    pub fn device(&self) -> Device {
        self.store.device()
    }

    /// The module's local loss for its output `h` (aux net), or the real head's loss on the
    /// `tapped` unit outputs it reads (last module).
    pub(super) fn local_loss(&self, h: &Tensor, head_inputs: &[usize], tapped: &[(usize, Tensor)], targets: &LocalTargets) -> Tensor {
        match &self.objective {
            Objective::Aux(aux) => aux.loss(h, targets, true),
            Objective::Head(head) => head.loss(&head.forward(&head_features(head_inputs, tapped), true), targets),
        }
    }

    /// The module's output for input `x`; the outputs of its units at the positions in
    /// `taps` are pushed onto `tapped` as (position, output).
    pub(super) fn forward_tapped(&self, x: &Tensor, train: bool, taps: &[usize], tapped: &mut Vec<(usize, Tensor)>) -> Tensor {
        let mut h = x.shallow_clone();
        for (position, block) in self.units.clone().zip(&self.blocks) {
            h = block.forward_t(&h, train);
            if taps.contains(&position) {
                tapped.push((position, h.shallow_clone()));
            }
        }
        h
    }
}

/// Why a step failed: which module's loss was not finite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NonFiniteLoss {
    pub module: usize,
    pub value: f64,
}

/// The K modules of one network.
#[derive(Debug)]
pub struct LocalNetwork {
    pub(super) modules: Vec<LocalModule>,
    split: ModuleSplit,
    scope: OptimizerScope,
    uses_raw_images: bool,
    /// Positions of the units the real head reads, in the order it reads them.
    pub(super) head_inputs: Vec<usize>,
    /// Time-balanced split: each module's measured step seconds at the chosen points.
    module_step_seconds: Option<Vec<f64>>,
    /// Memory-balanced split: each module's measured bytes (units' activations plus its aux
    /// net's or head's) at the chosen points.
    module_memory_bytes: Option<Vec<u64>>,
    /// The layout of the 4-D weights and of the batches fed to the first module.
    pub(super) memory_format: MemoryFormat,
}

impl LocalNetwork {
    /// Builds the modules of `network` for `task` as `config` says, for images of
    /// `image_channels` x `image_size`^2, on `device` (each module on its own device when
    /// `config.module_devices` names them). Call `tch::manual_seed` first for reproducible
    /// weights.
    pub fn build(
        network: &dyn UnitNetwork,
        task: &dyn Task,
        config: &TrainConfig,
        image_channels: i64,
        image_size: i64,
        device: Device,
    ) -> Result<Self> {
        config.validate()?;
        let head_inputs = task.head_inputs(network);
        if let Some(&bad) = head_inputs.iter().find(|&&p| p >= network.units().len()) {
            return Err(Error::config(
                "task",
                format!("the head reads unit {bad}, but {} has {} units", network.name(), network.units().len()),
            ));
        }
        let (mut module_step_seconds, mut module_memory_bytes) = (None, None);
        let split = match &config.split {
            // One module has nothing to balance: no costs to measure.
            SplitStrategy::MemoryBalanced if config.k == 1 => split::split(network, 1, &SplitStrategy::Even)?,
            SplitStrategy::MemoryBalanced => {
                let (units, ends) = unit_costs::module_memory_bytes(
                    network,
                    task,
                    config.method,
                    &config.aux,
                    config.k,
                    config.batch_size as i64,
                    image_channels,
                    device,
                    config.init,
                )?;
                let (split, costs) = split::balanced_split(network, config.k, &units, &ends)?;
                module_memory_bytes = Some(costs);
                split
            }
            SplitStrategy::TimeBalanced => {
                // Timed at the threads a module will have: a worker's when pipelined.
                let caller = tch::get_num_threads();
                if !config.module_schedule.is_sequential() {
                    super::pipeline::set_thread_count(super::pipeline::worker_threads(config.worker_threads, config.k));
                }
                let timed = unit_costs::step_seconds(
                    network,
                    task,
                    config.method,
                    &config.aux,
                    config.init,
                    config.k,
                    config.batch_size as i64,
                    image_channels,
                    device,
                );
                tch::set_num_threads(caller);
                let (units, ends) = timed?;
                let (split, costs) = split::time_balanced_split(network, config.k, &units, &ends)?;
                module_step_seconds = Some(costs);
                split
            }
            strategy => split::split(network, config.k, strategy)?,
        };
        let devices = module_devices(config, device)?;
        let stores: Vec<nn::VarStore> = devices.iter().map(|&d| nn::VarStore::new(d)).collect();
        let module_of = |position: usize| split.modules.iter().position(|m| m.contains(&position)).expect("every unit is in a module");
        let mut blocks: Vec<Vec<Box<dyn ModuleT>>> = Vec::new();
        for (m, range) in split.modules.iter().enumerate() {
            blocks.push(
                range.clone().map(|i| network.build_unit(stores[m].root() / "units" / i, &network.units()[i], config.init)).collect(),
            );
        }
        let real_unit_variables = |position: usize| -> Vec<(String, Tensor)> {
            let prefix = format!("units.{position}.");
            stores[module_of(position)]
                .variables()
                .into_iter()
                .filter_map(|(name, t)| name.strip_prefix(&prefix).map(|rest| (rest.to_owned(), t)))
                .collect()
        };
        let mut objectives = Vec::new();
        for (m, range) in split.modules.iter().enumerate() {
            if m + 1 == split.k() {
                objectives.push(Objective::Head(task.build_head(network, stores[m].root() / "head", config.init)));
            } else {
                let ctx = AuxContext {
                    network,
                    module: m,
                    num_modules: split.k(),
                    last_unit: range.end - 1,
                    image_channels,
                    image_size,
                    real_unit_variables: Some(&real_unit_variables),
                    task_head: task.aux_task_head(),
                    init: config.init,
                };
                objectives.push(Objective::Aux(aux::build(config.method, &config.aux, stores[m].root() / "aux", &ctx)?));
            }
        }
        if config.memory_format == MemoryFormat::ChannelsLast {
            // In place, so that the layers, the store and the optimizers share the result.
            for store in &stores {
                for (_, mut variable) in store.variables() {
                    memory_format::to_channels_last_(&mut variable)?;
                }
            }
        }
        let mut modules = Vec::new();
        for (((store, blocks), objective), range) in stores.into_iter().zip(blocks).zip(objectives).zip(&split.modules) {
            let optimizer = Optimizer::new(config.optimizer.clone(), &store)?;
            modules.push(LocalModule { store, units: range.clone(), blocks, objective, optimizer });
        }
        let uses_raw_images = matches!(config.method, Method::InfoproSoftmax | Method::InfoproContrast);
        Ok(LocalNetwork {
            modules,
            split,
            scope: config.optimizer_scope,
            uses_raw_images,
            head_inputs,
            module_step_seconds,
            module_memory_bytes,
            memory_format: config.memory_format,
        })
    }

    pub fn k(&self) -> usize {
        self.modules.len()
    }

    pub fn split(&self) -> &ModuleSplit {
        &self.split
    }

    /// With a time-balanced split: each module's measured step seconds (units, aux net or
    /// head; forward and backward) at the points chosen.
    pub fn module_step_seconds(&self) -> Option<&[f64]> {
        self.module_step_seconds.as_deref()
    }

    /// With a memory-balanced split: each module's measured bytes (its units' activations
    /// plus its aux net's or the head's) at the points chosen.
    pub fn module_memory_bytes(&self) -> Option<&[u64]> {
        self.module_memory_bytes.as_deref()
    }

    pub fn modules(&self) -> &[LocalModule] {
        &self.modules
    }

    pub(super) fn modules_mut(&mut self) -> &mut [LocalModule] {
        &mut self.modules
    }

    pub fn optimizer_scope(&self) -> OptimizerScope {
        self.scope
    }

    /// Whether the aux nets need the [0, 1] images (InfoPro's reconstruction target).
    pub fn uses_raw_images(&self) -> bool {
        self.uses_raw_images
    }

    /// Number of trainable parameters of the network proper (units and head, no aux nets).
    pub fn network_parameters(&self) -> i64 {
        self.modules
            .iter()
            .flat_map(|m| m.store.variables())
            .filter(|(name, t)| t.requires_grad() && !name.starts_with("aux."))
            .map(|(_, t)| t.numel() as i64)
            .sum()
    }

    /// One training step at learning rate `lr`; returns each module's loss.
    pub fn train_step(&mut self, images: &Tensor, targets: &LocalTargets, lr: f64) -> std::result::Result<Vec<f64>, NonFiniteLoss> {
        let per_module = self.scope == OptimizerScope::PerModule;
        let losses = self.forward_backward(images, targets, |_, module| {
            if per_module {
                step_module(module, lr);
            }
        });
        match losses {
            Ok(losses) => {
                if !per_module {
                    self.modules.iter_mut().for_each(|m| step_module(m, lr));
                }
                Ok(losses)
            }
            Err(fault) => {
                self.modules.iter_mut().for_each(|m| m.optimizer.zero_grad());
                Err(fault)
            }
        }
    }

    /// The local forward and backward passes of one batch, module by module; `after_backward`
    /// runs right after each module's backward pass (per-module stepping, and the
    /// gradient-isolation test, hook in there). Returns each module's loss.
    pub fn forward_backward(
        &mut self,
        images: &Tensor,
        targets: &LocalTargets,
        mut after_backward: impl FnMut(usize, &mut LocalModule),
    ) -> std::result::Result<Vec<f64>, NonFiniteLoss> {
        let last = self.modules.len() - 1;
        let mut input = self.memory_format.apply(images);
        let mut losses = Vec::with_capacity(self.modules.len());
        let mut tapped = Vec::new();
        for (k, module) in self.modules.iter_mut().enumerate() {
            let x = input.detach(); // the module boundary: no gradient flows back past here
            let h = module.forward_tapped(&x, true, &self.head_inputs, &mut tapped);
            let loss = module.local_loss(&h, &self.head_inputs, &tapped, targets);
            let value = loss.double_value(&[]);
            if !value.is_finite() {
                return Err(NonFiniteLoss { module: k, value });
            }
            loss.backward();
            after_backward(k, module);
            losses.push(value);
            if k < last {
                input = h.detach();
                // Taps of this module reach the head detached, like its output.
                tapped.iter_mut().for_each(|(_, t)| *t = t.detach());
            }
        }
        Ok(losses)
    }

    /// The real head's output (logits, HR image, box predictions), in evaluation mode
    /// without autograd.
    pub fn predict(&self, images: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let mut tapped = Vec::new();
            let _output = self.modules.iter().fold(self.memory_format.apply(images), |h, m| {
                m.forward_tapped(&h.to_device(m.device()), false, &self.head_inputs, &mut tapped)
            });
            let last = self.modules.last().expect("K >= 1");
            // From modules on other devices (pipelined), the taps move to the head's.
            tapped.iter_mut().for_each(|(_, t)| *t = t.to_device(last.device()));
            match &last.objective {
                Objective::Head(head) => head.forward(&head_features(&self.head_inputs, &tapped), false),
                Objective::Aux(_) => unreachable!("the last module holds the head"),
            }
        })
    }

    /// Everything the rest of a run depends on, by checkpoint entry name: each module's
    /// variables (weights and BatchNorm running statistics) as `m{k}/{name}`, its optimizer
    /// state (step count, momentum or Adam moments) as `m{k}/opt/{name}`, and its aux net's
    /// state outside the store (GLCAN's EMA global branch) as `m{k}/aux-state/{name}`.
    /// The learning rate and the data order are functions of the epoch and step, so the
    /// epochs done (kept by the trainer) place them.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (k, module) in self.modules.iter().enumerate() {
            let mut variables: Vec<_> = module.store.variables().into_iter().collect();
            variables.sort_by(|a, b| a.0.cmp(&b.0));
            out.extend(variables.into_iter().map(|(name, t)| (format!("m{k}/{name}"), t)));
            out.extend(module.optimizer.state_tensors().into_iter().map(|(name, t)| (format!("m{k}/opt/{name}"), t)));
            out.extend(module.aux_private_state().into_iter().map(|(name, t)| (format!("m{k}/aux-state/{name}"), t)));
        }
        out
    }

    /// Restores what [`Self::state`] produced; `source` names the file in errors. Every
    /// entry this network needs must be there with its shape: a checkpoint of another
    /// configuration or version is refused, naming the missing or mis-shaped entry.
    pub fn load_state(&mut self, saved: Vec<(String, Tensor)>, source: &Path) -> Result<()> {
        let entries: HashMap<String, Tensor> = saved.into_iter().collect();
        let saved = SavedState::new(source, &entries);
        for (k, module) in self.modules.iter_mut().enumerate() {
            let saved = saved.scope(&format!("m{k}/"));
            for (name, mut variable) in module.store.variables() {
                saved.copy_into(&name, &mut variable)?;
            }
            module.optimizer.load_state(&saved.scope("opt/"))?;
            let aux_state = saved.scope("aux-state/");
            for (name, mut tensor) in module.aux_private_state() {
                aux_state.copy_into(&name, &mut tensor)?;
            }
        }
        Ok(())
    }
}

/// The tapped outputs in the order the head reads them.
fn head_features(head_inputs: &[usize], tapped: &[(usize, Tensor)]) -> Vec<Tensor> {
    head_inputs
        .iter()
        .map(|p| tapped.iter().find(|(q, _)| q == p).expect("every head input is a unit of some module").1.shallow_clone())
        .collect()
}

/// The device of each module: `config.module_devices`, or `device` for every module.
fn module_devices(config: &TrainConfig, device: Device) -> Result<Vec<Device>> {
    if config.module_devices.is_empty() {
        return Ok(vec![device; config.k]);
    }
    config.module_devices.iter().map(|name| crate::run_env::parse_device(name)).collect()
}

pub(super) fn step_module(module: &mut LocalModule, lr: f64) {
    module.optimizer.step(lr);
    module.optimizer.zero_grad();
    if let Objective::Aux(aux) = &mut module.objective {
        aux.after_step();
    }
}

/// Top-1 accuracy (%) and mean cross-entropy of `logits` against `labels`.
pub fn accuracy_and_loss(logits: &Tensor, labels: &Tensor) -> (f64, f64) {
    let correct = logits.argmax(1, false).eq_tensor(labels).to_kind(Kind::Float).sum(Kind::Float).double_value(&[]);
    let loss = logits.cross_entropy_loss::<Tensor>(labels, None, tch::Reduction::Sum, -100, 0.0).double_value(&[]);
    (correct, loss)
}
