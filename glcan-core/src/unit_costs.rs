//! Measured activation memory of each unit: the cost that a memory-balanced split
//! (InfoPro's `--balanced_memory`, automated here) balances across local modules; and
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
pub fn activation_bytes(network: &dyn UnitNetwork, batch: i64, channels: i64, device: Device, init: InitMode) -> Result<Vec<u64>> {
    let live_bytes = || -> Result<u64> {
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
    };
    let store = nn::VarStore::new(device);
    let units: Vec<Box<dyn ModuleT>> =
        network.units().iter().enumerate().map(|(i, spec)| network.build_unit(store.root() / i, spec, init)).collect();
    let size = network.input_size();
    let mut h = Tensor::randn([batch, channels, size, size], (Kind::Float, device));
    // Everything stays alive until the end, as it does inside a module before its backward.
    let mut alive = Vec::with_capacity(units.len());
    let mut costs = Vec::with_capacity(units.len());
    for unit in &units {
        let before = live_bytes()?;
        let out = unit.forward_t(&h, true);
        costs.push(live_bytes()?.saturating_sub(before));
        alive.push(std::mem::replace(&mut h, out));
    }
    Ok(costs)
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
    let target = task.timing_target(batch, device).ok_or_else(|| {
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
    let real_unit_variables = |position: usize| -> Vec<(String, Tensor)> {
        let prefix = format!("units.{position}.");
        store.variables().into_iter().filter_map(|(name, t)| name.strip_prefix(&prefix).map(|rest| (rest.to_owned(), t))).collect()
    };
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
            let ctx = AuxContext {
                network,
                module: 0,
                num_modules: k,
                last_unit: e,
                image_channels: channels,
                image_size: size,
                real_unit_variables: Some(&real_unit_variables),
                task_head: task.aux_task_head(),
                init,
            };
            let aux_net = aux::build(method, aux_config, local.root() / "aux", &ctx)?;
            *seconds = time(&mut || aux_net.loss(&h, &targets, true).backward());
        }
    }
    Ok((unit_seconds, end_seconds))
}

/// Timed runs of each step (after one warm-up) whose median [`step_seconds`] keeps.
pub const TIMING_REPEATS: usize = 3;
