//! Measured activation memory of each unit and of each module's local loss (its aux net or
//! the real head): the cost that a memory-balanced split (InfoPro's `--balanced_memory`,
//! automated here) balances across local modules; and
//! measured step times of each unit and each aux net, which a time-balanced split balances.
//!
//! A unit's cost is the growth of live tensor bytes when a batch goes through it with
//! autograd on: its output plus everything it saves for the backward pass. Temporaries
//! freed inside the unit do not count; they do not accumulate over a module.

use std::time::Instant;

use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

use crate::aux::{self, AuxConfig, AuxContext, LocalTargets, Method};
use crate::memory;
use crate::models::{InitMode, UnitNetwork};
use crate::train::Task;
use crate::{Error, Result};

/// Bytes retained by each unit of `network` for a batch of `batch` images of `channels` x
/// `network.input_size()`^2 on `device`. On the CPU the counting allocator must have been
/// installed at start-up ([`memory::install_counting_allocator`]). The units start as `init`
/// says: the values do not change the bytes, but the draws advance the random generator as
/// the run's own units will.
///
/// Each unit is measured alone, its graph dropped before the next: the figures are those
/// of a whole forward pass kept alive (what a module holds before its backward), but the
/// measurement's own peak is one unit's, not the network's.
pub fn activation_bytes(network: &dyn UnitNetwork, batch: i64, channels: i64, device: Device, init: InitMode) -> Result<Vec<u64>> {
    let store = nn::VarStore::new(device);
    let units: Vec<Box<dyn ModuleT>> =
        network.units().iter().enumerate().map(|(i, spec)| network.build_unit(store.root() / i, spec, init)).collect();
    let size = network.input_size();
    let mut h = Tensor::randn([batch, channels, size, size], (Kind::Float, device));
    let mut costs = Vec::with_capacity(units.len());
    for unit in &units {
        let before = live_bytes(device)?;
        let out = unit.forward_t(&h, true);
        costs.push(live_bytes(device)?.saturating_sub(before));
        // Inside a module every later unit's input requires a gradient.
        h = out.detach().set_requires_grad(true);
    }
    Ok(costs)
}

/// The memory a memory-balanced split balances: `(unit_bytes, end_bytes)`, where
/// `unit_bytes` are [`activation_bytes`] and `end_bytes[e]` is what the local loss of a
/// module ending at unit e retains for its backward: the aux net of `method` (or, at the
/// last unit, the real head of `task`) run on that unit's output with autograd on, measured
/// the same way as a unit (growth of live tensor bytes; its weights, allocated before, do
/// not count: every aux net's weights are alive during every module's step, wherever the
/// cuts lie). An aux net's forward, loss and saved tensors live beside its module's units,
/// so a cut where the aux net is heavy (an up-sampler to the HR image, a detection head at
/// high resolution) costs its module that much more.
///
/// Aux nets ending at units of the same stage, channels and resolution are the same net
/// (their global branch copies the same later units): each such kind is measured once.
/// With K = 1 every end but the head's costs 0 (there is nothing to cut).
#[allow(clippy::too_many_arguments)]
pub fn module_memory_bytes(
    network: &dyn UnitNetwork,
    task: &dyn Task,
    method: Method,
    aux_config: &AuxConfig,
    k: usize,
    batch: i64,
    channels: i64,
    device: Device,
    init: InitMode,
) -> Result<(Vec<u64>, Vec<u64>)> {
    let target = task
        .timing_target(network, batch, device)
        .ok_or_else(|| Error::config("split", "memory_balanced measures the local losses on a target, which this task cannot make up"))?;
    let store = nn::VarStore::new(device);
    let units: Vec<Box<dyn ModuleT>> =
        network.units().iter().enumerate().map(|(i, spec)| network.build_unit(store.root() / "units" / i, spec, init)).collect();
    let real_unit_variables = |position: usize| unit_variables(&store, position);
    let size = network.input_size();
    let images = Tensor::randn([batch, channels, size, size], (Kind::Float, device));
    let raw_images = Tensor::rand([batch, channels, size, size], (Kind::Float, device));
    let targets = LocalTargets { images: &images, raw_images: &raw_images, target: &target };
    let last = units.len() - 1;
    let head_inputs = task.head_inputs(network);
    let mut unit_bytes = Vec::with_capacity(units.len());
    let mut end_bytes = vec![0; units.len()];
    let mut measured_kinds: Vec<((usize, i64, i64), u64)> = Vec::new();
    let mut taps: Vec<(usize, Tensor)> = Vec::new();
    let mut h = images.shallow_clone();
    for (e, unit) in units.iter().enumerate() {
        let before = live_bytes(device)?;
        let out = unit.forward_t(&h, true);
        unit_bytes.push(live_bytes(device)?.saturating_sub(before));
        if e == last {
            let local = nn::VarStore::new(device);
            let head = task.build_head(network, local.root() / "head", init);
            let features: Vec<Tensor> =
                head_inputs.iter().map(|&i| if i == e { out.shallow_clone() } else { tapped(&taps, i).shallow_clone() }).collect();
            let before = live_bytes(device)?;
            let loss = head.loss(&head.forward(&features, true), &targets);
            end_bytes[e] = live_bytes(device)?.saturating_sub(before);
            drop(loss);
        } else if k > 1 {
            let spec = &network.units()[e];
            let kind = (spec.id.stage, spec.out_channels, network.resolution_after(e));
            end_bytes[e] = match measured_kinds.iter().find(|(k, _)| *k == kind) {
                Some(&(_, bytes)) => bytes,
                None => {
                    let local = nn::VarStore::new(device);
                    let ctx = probe_context(network, task, k, e, channels, &real_unit_variables, init);
                    let aux_net = aux::build(method, aux_config, local.root() / "aux", &ctx)?;
                    let before = live_bytes(device)?;
                    let loss = aux_net.loss(&out, &targets, true);
                    let bytes = live_bytes(device)?.saturating_sub(before);
                    drop(loss);
                    measured_kinds.push((kind, bytes));
                    bytes
                }
            };
        }
        if head_inputs.contains(&e) {
            taps.push((e, out.detach()));
        }
        h = out.detach().set_requires_grad(true);
    }
    Ok((unit_bytes, end_bytes))
}

fn tapped(taps: &[(usize, Tensor)], position: usize) -> &Tensor {
    &taps.iter().find(|(p, _)| *p == position).expect("the head reads units in forward order").1
}

/// Live tensor bytes on `device` now.
fn live_bytes(device: Device) -> Result<u64> {
    match device {
        Device::Cpu if memory::counting_allocator_installed() => Ok(memory::cpu_current_bytes()),
        Device::Cpu => Err(Error::config(
            "split",
            "memory-balanced splits measure tensor memory: the program must call install_counting_allocator() at start",
        )),
        Device::Cuda(index) => memory::cuda_current_bytes(index)
            .ok_or_else(|| Error::config("split", format!("cannot read the CUDA allocator of device {index}"))),
        other => Err(Error::config("device", format!("memory is not measured on {other:?}"))),
    }
}

/// Timings behind the time-balanced split: seconds of one training step of each unit
/// (forward and backward, its input requiring a gradient as inside a module) and, for each
/// unit e, of the local loss of a module ending there (`end_seconds[e]`: the aux net of
/// `method`, or the real head of `task` at the last unit), forward and backward. Measured on
/// `batch` random images at the calling thread's intra-op threads: the median of
/// [`TIMING_REPEATS`] runs after one warm-up. With K = 1 there is nothing to balance and only
/// the head is timed at the last unit (every other end costs 0).
#[allow(clippy::too_many_arguments)]
pub fn step_seconds(
    network: &dyn UnitNetwork,
    task: &dyn Task,
    method: Method,
    aux_config: &AuxConfig,
    init: InitMode,
    k: usize,
    batch: i64,
    channels: i64,
    device: Device,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let target = task.timing_target(network, batch, device).ok_or_else(|| {
        Error::config("split", "time_balanced times the local losses on a classification target, which this task does not have")
    })?;
    let time = |step: &mut dyn FnMut()| -> f64 {
        let mut run = || {
            let started = Instant::now();
            step();
            if let Device::Cuda(index) = device {
                tch::Cuda::synchronize(index as i64);
            }
            started.elapsed().as_secs_f64()
        };
        run(); // warm-up: allocations, kernel selection
        let mut seconds: Vec<f64> = (0..TIMING_REPEATS).map(|_| run()).collect();
        seconds.sort_by(f64::total_cmp);
        seconds[seconds.len() / 2]
    };
    let store = nn::VarStore::new(device);
    let units: Vec<Box<dyn ModuleT>> =
        network.units().iter().enumerate().map(|(i, spec)| network.build_unit(store.root() / "units" / i, spec, init)).collect();
    let size = network.input_size();
    let images = Tensor::randn([batch, channels, size, size], (Kind::Float, device));
    let raw_images = Tensor::rand([batch, channels, size, size], (Kind::Float, device));
    let mut unit_seconds = Vec::with_capacity(units.len());
    let mut outputs: Vec<Tensor> = Vec::with_capacity(units.len());
    for unit in &units {
        let x = outputs.last().unwrap_or(&images).detach().set_requires_grad(true);
        unit_seconds.push(time(&mut || unit.forward_t(&x, true).mean(Kind::Float).backward()));
        outputs.push(tch::no_grad(|| unit.forward_t(&x, true)));
    }
    let real_unit_variables = |position: usize| unit_variables(&store, position);
    let targets = LocalTargets { images: &images, raw_images: &raw_images, target: &target };
    let last = units.len() - 1;
    let head_inputs = task.head_inputs(network);
    let mut end_seconds = vec![0.0; units.len()];
    for (e, seconds) in end_seconds.iter_mut().enumerate() {
        let local = nn::VarStore::new(device);
        let h = outputs[e].detach().set_requires_grad(true);
        if e == last {
            let head = task.build_head(network, local.root() / "head", init);
            let features: Vec<Tensor> = head_inputs.iter().map(|&i| if i == e { h.shallow_clone() } else { outputs[i].detach() }).collect();
            *seconds = time(&mut || head.loss(&head.forward(&features, true), &targets).backward());
        } else if k > 1 {
            let ctx = probe_context(network, task, k, e, channels, &real_unit_variables, init);
            let aux_net = aux::build(method, aux_config, local.root() / "aux", &ctx)?;
            *seconds = time(&mut || aux_net.loss(&h, &targets, true).backward());
        }
    }
    Ok((unit_seconds, end_seconds))
}

/// The variables of real unit `position` in `store` (built under `units/<position>`), named
/// as inside the unit: what GLCAN's copied global branch reads.
fn unit_variables(store: &nn::VarStore, position: usize) -> Vec<(String, Tensor)> {
    let prefix = format!("units.{position}.");
    store.variables().into_iter().filter_map(|(name, t)| name.strip_prefix(&prefix).map(|rest| (rest.to_owned(), t))).collect()
}

/// The context of the aux net of a module ending at unit `last_unit`, as the memory and
/// time probes build it (one of `k` modules; which one does not change its shape).
fn probe_context<'a>(
    network: &'a dyn UnitNetwork,
    task: &'a dyn Task,
    k: usize,
    last_unit: usize,
    channels: i64,
    real_unit_variables: &'a dyn Fn(usize) -> Vec<(String, Tensor)>,
    init: InitMode,
) -> AuxContext<'a> {
    AuxContext {
        network,
        module: 0,
        num_modules: k,
        last_unit,
        image_channels: channels,
        image_size: network.input_size(),
        real_unit_variables: Some(real_unit_variables),
        task_head: task.aux_task_head(),
        init,
    }
}

/// Timed runs of each step (after one warm-up) whose median [`step_seconds`] keeps.
pub const TIMING_REPEATS: usize = 3;
