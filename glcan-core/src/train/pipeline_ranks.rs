//! The pipelined schedule across processes: rank r of a c10d group ([`crate::c10d`]) trains
//! module r, as `torchrun --nproc-per-node K` or Slurm's `srun` start them.
//!
//! Every rank builds the whole network from the same seed and reads the same batches in the
//! same order, so only what a module hands to the next one travels: module r-1's detached
//! output, the taps the real head reads, and the losses so far. Each rank runs the very
//! worker of the threaded pipeline ([`super::pipeline`]) for its module, fed from the wire
//! instead of a channel, so a rank run ends with the weights of the threaded (and of the
//! sequential per-module) schedule, bit for bit at equal intra-op threads
//! (`tests/pipeline_ranks.rs`). GLCAN's EMA global branch, which reads later modules'
//! weights after every step, is refused: those weights live in other processes.
//!
//! On the wire, per batch and in order, from rank r-1 to rank r: a header (int64: a magic
//! number, the step, the loss count, the tensor count, then per tensor its unit position
//! or -1 for the module input, its kind and its shape), the tensors (contiguous), and the
//! losses (float64).

use std::sync::mpsc;
use std::time::Instant;

use tch::{Device, Kind, Tensor};

use super::local_network::LocalNetwork;
use super::pipeline::{feed, followed_variables, Message, PipelineBatch, PipelineStats, PipelineStop, Worker, WorkerEnd, CHANNEL_CAPACITY};
use crate::c10d::ProcessGroup;
use crate::memory;
use crate::{Error, Result};

const HEADER_LEN: usize = 64;
/// "glcan" in ASCII: marks a message header.
const MAGIC: i64 = 0x0067_6c63_616e;
const TAG_HEADER: u32 = 1;
const TAG_TENSOR: u32 = 2;
const TAG_LOSSES: u32 = 3;
/// The kinds a module output may have, by their wire code (the index).
const KINDS: [Kind; 4] = [Kind::Float, Kind::Double, Kind::Half, Kind::BFloat16];

/// Trains this rank's module of `net` on `batches` (the same on every rank) at `threads`
/// intra-op threads; `on_step(step, losses)` runs as each batch leaves this rank's module,
/// with the losses of modules 0..=rank. The group must have one rank per module.
pub fn run_rank(
    net: &mut LocalNetwork,
    group: &ProcessGroup,
    threads: usize,
    batches: impl Iterator<Item = Result<PipelineBatch>>,
    mut on_step: impl FnMut(usize, &[f64]) -> Result<()>,
) -> std::result::Result<PipelineStats, PipelineStop> {
    let fail = |e: Error| Err(PipelineStop::Failed(e));
    let k = net.modules.len();
    if let Some(m) = net.modules.iter().position(|m| !followed_variables(m).is_empty()) {
        return fail(Error::config(
            "aux.glcan.global_init",
            format!("module {m}'s aux net follows later modules' weights (ema), which live in other processes: not supported across ranks"),
        ));
    }
    if group.world_size() != k {
        return fail(Error::config(
            "WORLD_SIZE",
            format!("K = {k} modules need {k} ranks, one module each; the group has {}", group.world_size()),
        ));
    }
    if threads == 0 {
        return fail(Error::config("worker_threads", "must be at least 1"));
    }
    let rank = group.rank();
    let last = rank + 1 == k;
    let memory_format = net.memory_format;
    let caller_threads = tch::get_num_threads();
    let tags = memory::ThreadTag::reset_peaks(k);
    let started = Instant::now();
    let mut busy = Vec::new();
    let mut stop: Option<PipelineStop> = None;
    let end = std::thread::scope(|scope| {
        let (to_worker, input) = mpsc::sync_channel::<Message>(CHANNEL_CAPACITY);
        let (results_to, results) = mpsc::channel::<(usize, Vec<f64>)>();
        let (output, from_worker) = match last {
            true => (None, None),
            false => {
                let (to, from) = mpsc::sync_channel::<Message>(CHANNEL_CAPACITY);
                (Some(to), Some(from))
            }
        };
        let head_inputs = &net.head_inputs;
        let module = &mut net.modules[rank];
        let worker = Worker::plain(rank, module, head_inputs, input, output, last.then(|| results_to.clone()), threads);
        let busy = &mut busy;
        let worker = std::thread::Builder::new()
            .name(format!("glcan-rank-{rank}"))
            .spawn_scoped(scope, move || worker.run(busy))
            .expect("spawn the rank's worker");
        // Not the last rank: a thread hands each output on to rank + 1 as the worker makes it.
        let sender = from_worker.map(|from_worker| {
            let results_to = results_to.clone();
            std::thread::Builder::new()
                .name(format!("glcan-rank-{rank}-send"))
                .spawn_scoped(scope, move || -> Result<()> {
                    for message in from_worker {
                        send_message(group, &message, rank + 1)?;
                        let _ = results_to.send((message.step, message.losses));
                    }
                    Ok(())
                })
                .expect("spawn the rank's sender")
        });
        drop(results_to);
        let message_of = |step: usize, batch: PipelineBatch| {
            let (input, tapped, losses) = if rank == 0 {
                (batch.images.shallow_clone(), Vec::new(), Vec::with_capacity(k))
            } else {
                receive_message(group, rank - 1, step)?
            };
            Ok(Message {
                step,
                lr: batch.lr,
                // The layout the previous module's output had in this process's twin.
                input: memory_format.apply(&input),
                tapped,
                images: batch.images,
                raw_images: batch.raw_images,
                target: batch.target,
                losses,
            })
        };
        stop = feed(batches, message_of, to_worker, &results, &mut on_step);
        if let Some(Err(e)) = sender.map(|s| s.join().expect("the rank's sender panicked")) {
            stop.get_or_insert(PipelineStop::Failed(e));
        }
        worker.join().expect("the rank's worker panicked")
    });
    let wall_seconds = started.elapsed().as_secs_f64();
    tch::set_num_threads(caller_threads);
    if let WorkerEnd::Diverged(step, fault) = end {
        return Err(PipelineStop::Diverged { step, fault });
    }
    if let Some(stop) = stop {
        return Err(stop);
    }
    let mut busy_seconds: Vec<Vec<f64>> = vec![Vec::new(); k];
    busy_seconds[rank] = busy;
    Ok(PipelineStats { busy_seconds, wall_seconds, worker_threads: threads, worker_peak_bytes: tags.peaks() })
}

/// Sends the module input, taps and losses of `message` to rank `to`.
fn send_message(group: &ProcessGroup, message: &Message, to: usize) -> Result<()> {
    let tensors: Vec<(i64, &Tensor)> =
        std::iter::once((-1, &message.input)).chain(message.tapped.iter().map(|(p, t)| (*p as i64, t))).collect();
    let mut header = vec![MAGIC, message.step as i64, message.losses.len() as i64, tensors.len() as i64];
    for (position, tensor) in &tensors {
        let code = KINDS.iter().position(|&k| k == tensor.kind()).ok_or_else(|| {
            Error::config("module output", format!("kind {:?} cannot travel between ranks (float32/64, half, bfloat16 can)", tensor.kind()))
        })?;
        let size = tensor.size();
        header.extend([*position, code as i64, size.len() as i64]);
        header.extend(size);
    }
    if header.len() > HEADER_LEN {
        return Err(Error::config("module output", format!("{} taps do not fit one message header", tensors.len() - 1)));
    }
    header.resize(HEADER_LEN, 0);
    group.send(&Tensor::from_slice(&header), to, TAG_HEADER)?;
    for (_, tensor) in &tensors {
        group.send(&tensor.to_device(Device::Cpu), to, TAG_TENSOR)?;
    }
    group.send(&Tensor::from_slice(&message.losses), to, TAG_LOSSES)
}

type Received = (Tensor, Vec<(usize, Tensor)>, Vec<f64>);

/// Receives from rank `from` what its module handed on for batch `step`.
fn receive_message(group: &ProcessGroup, from: usize, step: usize) -> Result<Received> {
    let mut header = Tensor::zeros([HEADER_LEN as i64], (Kind::Int64, Device::Cpu));
    group.recv(&mut header, from, TAG_HEADER)?;
    let header = Vec::<i64>::try_from(&header).map_err(Error::from)?;
    let bad = |what: String| Error::Distributed {
        what: format!("rank {} reading rank {from}'s message for batch {step}", from + 1),
        cause: what,
    };
    if header[0] != MAGIC || header[1] != step as i64 {
        return Err(bad(format!("header {:?}… is not batch {step}'s (the ranks read different batches?)", &header[..2])));
    }
    let (losses, count) = (header[2] as usize, header[3] as usize);
    let mut at = 4;
    let mut tensors = Vec::with_capacity(count);
    for _ in 0..count {
        let (position, code, ndim) = (header[at], header[at + 1] as usize, header[at + 2] as usize);
        let size = header.get(at + 3..at + 3 + ndim).ok_or_else(|| bad("a truncated header".into()))?.to_vec();
        at += 3 + ndim;
        let kind = *KINDS.get(code).ok_or_else(|| bad(format!("unknown kind code {code}")))?;
        let mut tensor = Tensor::empty(size, (kind, Device::Cpu));
        group.recv(&mut tensor, from, TAG_TENSOR)?;
        tensors.push((position, tensor));
    }
    let mut loss_values = Tensor::zeros([losses as i64], (Kind::Double, Device::Cpu));
    group.recv(&mut loss_values, from, TAG_LOSSES)?;
    let losses = Vec::<f64>::try_from(&loss_values).map_err(Error::from)?;
    let mut tensors = tensors.into_iter();
    let input = match tensors.next() {
        Some((-1, input)) => input,
        _ => return Err(bad("the message has no module input".into())),
    };
    Ok((input, tensors.map(|(p, t)| (p as usize, t)).collect(), losses))
}

/// Brings every module's state (variables, optimizer state, aux-net state) to the last
/// rank, which alone holds the trained network after this: it evaluates and checkpoints.
/// Every rank calls it at the same point (after an epoch).
pub fn gather_to_last_rank(net: &mut LocalNetwork, group: &ProcessGroup) -> Result<()> {
    let (rank, last) = (group.rank(), group.world_size() - 1);
    let prefix = |r: usize| format!("m{r}/");
    if rank != last {
        let mine: Vec<(String, Tensor)> = net.state().into_iter().filter(|(name, _)| name.starts_with(&prefix(rank))).collect();
        group.send(&Tensor::from_slice(&[mine.len() as i64]), last, TAG_STATE)?;
        for (name, tensor) in &mine {
            send_named(group, name, tensor, last)?;
        }
        return Ok(());
    }
    let mut state: Vec<(String, Tensor)> = net.state().into_iter().filter(|(name, _)| name.starts_with(&prefix(last))).collect();
    for from in 0..last {
        let mut count = Tensor::zeros([1], (Kind::Int64, Device::Cpu));
        group.recv(&mut count, from, TAG_STATE)?;
        for _ in 0..count.int64_value(&[0]) {
            state.push(receive_named(group, from)?);
        }
    }
    net.load_state(state, std::path::Path::new("the other ranks' modules"))
}

const TAG_STATE: u32 = 4;
/// Name length, kind code, dimensions, then the shape.
const NAMED_HEADER_LEN: usize = 16;
/// Kinds of state entries (weights, statistics, step counts), by wire code.
const STATE_KINDS: [Kind; 6] = [Kind::Float, Kind::Double, Kind::Half, Kind::BFloat16, Kind::Int64, Kind::Int];

fn send_named(group: &ProcessGroup, name: &str, tensor: &Tensor, to: usize) -> Result<()> {
    let code = STATE_KINDS
        .iter()
        .position(|&k| k == tensor.kind())
        .ok_or_else(|| Error::config("module state", format!("{name} is {:?}, which cannot travel between ranks", tensor.kind())))?;
    let size = tensor.size();
    let mut header = vec![name.len() as i64, code as i64, size.len() as i64];
    header.extend(size);
    if header.len() > NAMED_HEADER_LEN {
        return Err(Error::config("module state", format!("{name} has too many dimensions to travel")));
    }
    header.resize(NAMED_HEADER_LEN, 0);
    group.send(&Tensor::from_slice(&header), to, TAG_STATE)?;
    group.send(&Tensor::from_slice(name.as_bytes()), to, TAG_STATE)?;
    group.send(&tensor.to_device(Device::Cpu), to, TAG_STATE)
}

fn receive_named(group: &ProcessGroup, from: usize) -> Result<(String, Tensor)> {
    let mut header = Tensor::zeros([NAMED_HEADER_LEN as i64], (Kind::Int64, Device::Cpu));
    group.recv(&mut header, from, TAG_STATE)?;
    let header = Vec::<i64>::try_from(&header).map_err(Error::from)?;
    let bad = |cause: &str| Error::Distributed { what: format!("reading rank {from}'s module state"), cause: cause.to_owned() };
    let (name_len, code, ndim) = (header[0] as usize, header[1] as usize, header[2] as usize);
    let kind = *STATE_KINDS.get(code).ok_or_else(|| bad("unknown kind code"))?;
    let size = header.get(3..3 + ndim).ok_or_else(|| bad("a truncated header"))?.to_vec();
    let mut name = Tensor::zeros([name_len as i64], (Kind::Uint8, Device::Cpu));
    group.recv(&mut name, from, TAG_STATE)?;
    let name = String::from_utf8(Vec::<u8>::try_from(&name).map_err(Error::from)?).map_err(|_| bad("a name that is not UTF-8"))?;
    let mut tensor = Tensor::empty(size, (kind, Device::Cpu));
    group.recv(&mut tensor, from, TAG_STATE)?;
    Ok((name, tensor))
}
