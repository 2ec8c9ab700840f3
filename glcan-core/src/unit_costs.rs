//! Measured activation memory of each unit: the cost that a memory-balanced split
//! (InfoPro's `--balanced_memory`, automated here) balances across local modules.
//!
//! A unit's cost is the growth of live tensor bytes when a batch goes through it with
//! autograd on: its output plus everything it saves for the backward pass. Temporaries
//! freed inside the unit do not count; they do not accumulate over a module.

use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

use crate::memory;
use crate::models::UnitNetwork;
use crate::{Error, Result};

/// Bytes retained by each unit of `network` for a batch of `batch` images of `channels` x
/// `network.input_size()`^2 on `device`. On the CPU the counting allocator must have been
/// installed at start-up ([`memory::install_counting_allocator`]).
pub fn activation_bytes(network: &dyn UnitNetwork, batch: i64, channels: i64, device: Device) -> Result<Vec<u64>> {
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
        network.units().iter().enumerate().map(|(i, spec)| network.build_unit(store.root() / i, spec)).collect();
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
