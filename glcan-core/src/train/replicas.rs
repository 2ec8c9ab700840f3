//! Data-parallel replicas: a run launched as R ranks with the sequential schedule trains R
//! copies of the whole network, each on its 1/R share of every batch, and averages each
//! module's gradients over the replicas (a c10d all-reduce) before that module steps, as
//! DDP does and as InfoPro trains ImageNet on 8 GPUs. Every replica starts from the seed's
//! weights and applies the same averaged gradients, so the weights stay equal; BatchNorm's
//! running statistics are each replica's own (as DDP without SyncBatchNorm), and the last
//! rank's are the ones it evaluates and checkpoints.
//!
//! [`accumulated_step`] is the one-process twin: the R shares' gradients summed by autograd
//! in one process, averaged, then stepped. Two replicas end with its weights bit for bit
//! (a sum of two addends does not depend on their order; `tests/replicas.rs`).

use tch::Tensor;

use super::local_network::{step_module, LocalModule, LocalNetwork, NonFiniteLoss};
use crate::aux::LocalTargets;
use crate::c10d::ProcessGroup;
use crate::train::OptimizerScope;
use crate::{Error, Result};

/// Rows `[rank B / R, (rank + 1) B / R)` of a batch of `B` rows: this replica's share.
pub fn share(batch: &Tensor, rank: usize, replicas: usize) -> Result<Tensor> {
    let rows = batch.size()[0];
    let r = replicas as i64;
    if rows % r != 0 {
        return Err(Error::config("batch_size", format!("a batch of {rows} does not split evenly over {replicas} replicas")));
    }
    Ok(batch.narrow(0, rank as i64 * rows / r, rows / r))
}

/// One training step of this replica on its share: each module's gradients averaged over
/// the group before it steps. The outer error is a failed all-reduce (a replica died or
/// timed out); the inner one a non-finite loss on this replica.
pub fn train_step(
    net: &mut LocalNetwork,
    group: &ProcessGroup,
    images: &Tensor,
    targets: &LocalTargets,
    lr: f64,
) -> Result<std::result::Result<Vec<f64>, NonFiniteLoss>> {
    let replicas = group.world_size() as f64;
    let average = |module: &mut LocalModule| -> Result<()> {
        let mut grads = gradients(module);
        group.all_reduce_sum(&mut grads)?;
        write_back(module, &grads, replicas);
        Ok(())
    };
    step_after(net, images, targets, lr, average)
}

/// The one-process twin of R replicas: forward and backward on each of the R `shares`
/// (their gradients summed by autograd), then every module's gradients divided by R and
/// stepped as [`train_step`] steps them.
pub fn accumulated_step(
    net: &mut LocalNetwork,
    shares: &[(Tensor, LocalTargets)],
    lr: f64,
) -> std::result::Result<Vec<f64>, NonFiniteLoss> {
    let replicas = shares.len() as f64;
    let (last, earlier) = shares.split_last().expect("at least one share");
    for (images, targets) in earlier {
        net.forward_backward(images, targets, |_, _| {})?;
    }
    let divide = |module: &mut LocalModule| -> Result<()> {
        let grads = gradients(module);
        write_back(module, &grads, replicas);
        Ok(())
    };
    match step_after(net, &last.0, &last.1, lr, divide) {
        Ok(losses) => losses,
        Err(_) => unreachable!("dividing gradients cannot fail"),
    }
}

/// Forward and backward of one batch; `prepare` runs on each module's gradients before
/// it steps (right after its backward pass with per-module optimizers, after all of them
/// with a shared one).
fn step_after(
    net: &mut LocalNetwork,
    images: &Tensor,
    targets: &LocalTargets,
    lr: f64,
    mut prepare: impl FnMut(&mut LocalModule) -> Result<()>,
) -> Result<std::result::Result<Vec<f64>, NonFiniteLoss>> {
    let per_module = net.optimizer_scope() == OptimizerScope::PerModule;
    let mut failed: Option<Error> = None;
    let losses = net.forward_backward(images, targets, |_, module| {
        if per_module && failed.is_none() {
            match prepare(module) {
                Ok(()) => step_module(module, lr),
                Err(e) => failed = Some(e),
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    if let (Ok(_), false) = (&losses, per_module) {
        for module in net.modules_mut() {
            prepare(module)?;
            step_module(module, lr);
        }
    }
    if losses.is_err() {
        net.modules_mut().iter_mut().for_each(|m| m.optimizer.zero_grad());
    }
    Ok(losses)
}

/// The module's defined gradients, contiguous and on the CPU (Gloo's side; copies where a
/// weight is channels-last or on a GPU), in the store's name order: the same list on every
/// replica.
fn gradients(module: &LocalModule) -> Vec<Tensor> {
    trainable(module).iter().map(|t| t.grad().to_device(tch::Device::Cpu).contiguous()).collect()
}

/// `grads / replicas` into the module's gradients (the order of [`gradients`]).
fn write_back(module: &LocalModule, grads: &[Tensor], replicas: f64) {
    tch::no_grad(|| {
        for (variable, sum) in trainable(module).iter().zip(grads) {
            variable.grad().copy_(&(sum / replicas));
        }
    });
}

fn trainable(module: &LocalModule) -> Vec<Tensor> {
    let mut variables: Vec<(String, Tensor)> =
        module.store.variables().into_iter().filter(|(_, t)| t.requires_grad() && t.grad().defined()).collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    variables.into_iter().map(|(_, t)| t).collect()
}
