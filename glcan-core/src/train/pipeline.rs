//! The pipelined schedule: one worker thread per local module, linked by bounded channels.
//!
//! Module k works on batch t while module k+1 works on batch t-1. A worker owns its module
//! (units, aux net or real head, optimizer) for the length of a run of batches: it takes a
//! message from its left neighbour (the previous module's output **detached**, the taps the
//! real head reads, the images, the targets, the learning rate, the losses so far), does
//! forward, local loss and backward, hands its detached output on, then steps its own
//! optimizer. No gradient crosses a module boundary, so a module's input never depends on
//! a later module, and the run ends with the weights of the sequential schedule with
//! per-module optimizers, bit for bit at equal intra-op threads (`tests/pipeline.rs`).
//!
//! **What an aux net reads of another module** (GLCAN's EMA global branch follows later real
//! units): the sequential schedule with per-module stepping updates module k's EMA after its
//! step on batch t, when every later module j has done its step on batch t-1 and nothing of
//! batch t. Here each such j sends, after each of its steps, a copy of the followed
//! variables (weights and BatchNorm statistics) to k, and k's EMA update after batch t reads
//! j's copy from batch t-1 (at the first batch of a run: j's variables as the run began).
//! Same snapshot, same bits; k waits for it when j lags two batches behind.
//!
//! **Intra-op threads.** libtorch's CPU kernels parallelise with OpenMP (the wheel's ATen
//! parallel backend). OpenMP keeps the thread count (`nthreads-var`) per thread, and
//! `at::set_num_threads` sets it for the calling thread, besides a process-wide value (and
//! MKL's process-wide count). A thread's first parallel operator initialises its count from
//! that process-wide value, once: a worker that sets its count before that first operator
//! loses it to whatever another thread set last. Each worker therefore runs the
//! initialisation first and then sets its count ([`set_thread_count`]); the caller's count
//! is set back after the run (`pipeline_threads_are_per_worker` in `tests/pipeline.rs`).
//!
//! Memory: each worker tags the CPU tensor bytes it allocates ([`crate::memory::ThreadTag`]),
//! so a peak per worker is measured beside the process total.

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::time::Instant;

use tch::Tensor;

use super::local_network::{step_module, LocalModule, LocalNetwork, NonFiniteLoss, Objective};
use crate::aux::LocalTargets;
use crate::memory;
use crate::{Error, Result};

/// Batches that may wait between two neighbouring modules, besides the one each works on.
pub(super) const CHANNEL_CAPACITY: usize = 1;

/// One training batch entering the pipeline (on the run's device; each worker moves what it
/// reads to its module's device).
pub struct PipelineBatch {
    pub images: Tensor,
    /// The images on the [0, 1] scale (InfoPro's reconstruction target), or the images.
    pub raw_images: Tensor,
    pub target: Tensor,
    pub lr: f64,
}

/// What a pipelined run of batches measured.
#[derive(Debug, Clone, Default)]
pub struct PipelineStats {
    /// Per module, per batch: seconds its worker computed (forward, loss, backward, step),
    /// waits for its neighbours left out.
    pub busy_seconds: Vec<Vec<f64>>,
    /// Seconds from the first batch entering the pipeline to the last worker's end.
    pub wall_seconds: f64,
    /// Intra-op threads of each worker.
    pub worker_threads: usize,
    /// Per module: peak bytes of the CPU tensors its worker allocated and still held (the
    /// counting allocator's thread tags; 0 when it is not installed).
    pub worker_peak_bytes: Vec<u64>,
}

impl PipelineStats {
    /// Each module's busy seconds over the wall time of the run (1 - its share of the
    /// pipeline bubble and of waiting on its neighbours).
    pub fn busy_fractions(&self) -> Vec<f64> {
        self.busy_seconds.iter().map(|b| if self.wall_seconds > 0.0 { b.iter().sum::<f64>() / self.wall_seconds } else { 0.0 }).collect()
    }
}

/// Why a pipelined run stopped before its last batch.
#[derive(Debug)]
pub enum PipelineStop {
    /// The loss of a module was not finite on batch `step` (0-based in the run): the first
    /// (batch, module) in the order the sequential schedule meets them.
    Diverged { step: usize, fault: NonFiniteLoss },
    /// Reading the data, or the caller's `on_step`, failed.
    Failed(Error),
}

/// What travels from module k to module k+1.
pub(super) struct Message {
    pub(super) step: usize,
    pub(super) lr: f64,
    /// The previous module's output, detached (the images, for module 0).
    pub(super) input: Tensor,
    /// Outputs of units the real head reads, detached, as (position, output).
    pub(super) tapped: Vec<(usize, Tensor)>,
    pub(super) images: Tensor,
    pub(super) raw_images: Tensor,
    pub(super) target: Tensor,
    /// The losses of the modules so far on this batch.
    pub(super) losses: Vec<f64>,
}

/// How a worker ended.
pub(super) enum WorkerEnd {
    /// Its input channel closed: every batch done.
    Done,
    Diverged(usize, NonFiniteLoss),
    /// A neighbour stopped (divergence or an error further along).
    Cut,
}

/// Snapshots of followed variables between an owner module and an earlier module's aux net.
struct Feed {
    from: Receiver<Vec<Tensor>>,
    /// The mirrors (in the aux net's followed order) that each snapshot fills, in order.
    mirrors: Vec<usize>,
}

struct Publish {
    to: Sender<Vec<Tensor>>,
    /// The owner's variables, in the order the subscriber's feed expects them.
    sources: Vec<Tensor>,
}

pub(super) struct Worker<'a> {
    index: usize,
    module: &'a mut LocalModule,
    head_inputs: &'a [usize],
    input: Receiver<Message>,
    output: Option<SyncSender<Message>>,
    results: Option<Sender<(usize, Vec<f64>)>>,
    mirrors: Vec<Tensor>,
    feeds: Vec<Feed>,
    publishes: Vec<Publish>,
    threads: usize,
}

impl<'a> Worker<'a> {
    /// A worker that follows no other module's variables: it reads `input`, hands its
    /// output to `output`, or (the last module) its losses to `results`.
    pub(super) fn plain(
        index: usize,
        module: &'a mut LocalModule,
        head_inputs: &'a [usize],
        input: Receiver<Message>,
        output: Option<SyncSender<Message>>,
        results: Option<Sender<(usize, Vec<f64>)>>,
        threads: usize,
    ) -> Self {
        Worker {
            index,
            module,
            head_inputs,
            input,
            output,
            results,
            mirrors: Vec::new(),
            feeds: Vec::new(),
            publishes: Vec::new(),
            threads,
        }
    }

    pub(super) fn run(mut self, busy: &mut Vec<f64>) -> WorkerEnd {
        set_thread_count(self.threads);
        let _tag = memory::ThreadTag::set(self.index + 1);
        let end = self.work(busy);
        // Gradients of a step that did not finish are dropped, as the sequential schedule does.
        self.module.optimizer.zero_grad();
        end
    }

    fn work(&mut self, busy: &mut Vec<f64>) -> WorkerEnd {
        let module = &mut *self.module;
        let device = module.device();
        while let Ok(message) = self.input.recv() {
            let started = Instant::now();
            let Message { step, lr, input, tapped, images, raw_images, target, mut losses } = message;
            let x = input.to_device(device).detach();
            let mut tapped: Vec<(usize, Tensor)> = tapped.into_iter().map(|(p, t)| (p, t.to_device(device))).collect();
            let (images, raw_images, target) = (images.to_device(device), raw_images.to_device(device), target.to_device(device));
            let h = module.forward_tapped(&x, true, self.head_inputs, &mut tapped);
            let targets = LocalTargets { images: &images, raw_images: &raw_images, target: &target };
            let loss = module.local_loss(&h, self.head_inputs, &tapped, &targets);
            let value = loss.double_value(&[]);
            if !value.is_finite() {
                return WorkerEnd::Diverged(step, NonFiniteLoss { module: self.index, value });
            }
            loss.backward();
            losses.push(value);
            let mut spent = started.elapsed().as_secs_f64();
            match (&self.output, &self.results) {
                (Some(output), _) => {
                    tapped.iter_mut().for_each(|(_, t)| *t = t.detach());
                    let next = Message { step, lr, input: h.detach(), tapped, images, raw_images, target, losses };
                    if output.send(next).is_err() {
                        return WorkerEnd::Cut;
                    }
                }
                (None, Some(results)) => {
                    if results.send((step, losses)).is_err() {
                        return WorkerEnd::Cut;
                    }
                }
                (None, None) => unreachable!("the last worker reports results"),
            }
            // The EMA after batch t reads the owners' variables after their step on t-1.
            if step > 0 {
                for feed in &self.feeds {
                    let Ok(snapshot) = feed.from.recv() else { return WorkerEnd::Cut };
                    tch::no_grad(|| {
                        for (&i, value) in feed.mirrors.iter().zip(&snapshot) {
                            self.mirrors[i].shallow_clone().copy_(value);
                        }
                    });
                }
            }
            let resumed = Instant::now();
            step_module(module, lr);
            for publish in &self.publishes {
                // A subscriber that stopped needs no more snapshots.
                let _ = publish.to.send(tch::no_grad(|| publish.sources.iter().map(|t| t.detach().copy()).collect()));
            }
            spent += resumed.elapsed().as_secs_f64();
            busy.push(spent);
        }
        WorkerEnd::Done
    }
}

/// The variables an aux net follows, mirrored for the run, and how snapshots reach them.
struct FollowPlan {
    mirrors: Vec<Vec<Tensor>>,
    feeds: Vec<Vec<Feed>>,
    publishes: Vec<Vec<Publish>>,
}

impl FollowPlan {
    /// Points every aux net that follows later modules' variables at private mirrors
    /// holding their current values, and lays the snapshot channels.
    fn new(net: &mut LocalNetwork) -> Result<Self> {
        let k = net.modules.len();
        let mut plan = FollowPlan {
            mirrors: Vec::new(),
            feeds: (0..k).map(|_| Vec::new()).collect(),
            publishes: (0..k).map(|_| Vec::new()).collect(),
        };
        for m in 0..k {
            let followed = followed_variables(&net.modules[m]);
            let mut mirrors = Vec::with_capacity(followed.len());
            let mut by_owner: Vec<(usize, Vec<usize>, Vec<Tensor>)> = Vec::new();
            for (i, (position, name)) in followed.iter().enumerate() {
                let (owner, variable) = real_variable(net, *position, name)?;
                if owner <= m {
                    return Err(Error::config("module_schedule", format!("module {m}'s aux net follows unit {position} of module {owner}; the pipelined schedule follows later modules only")));
                }
                mirrors.push(tch::no_grad(|| variable.detach().to_device(net.modules[m].device()).copy()));
                match by_owner.iter_mut().find(|(o, _, _)| *o == owner) {
                    Some((_, indices, sources)) => {
                        indices.push(i);
                        sources.push(variable);
                    }
                    None => by_owner.push((owner, vec![i], vec![variable])),
                }
            }
            for (owner, indices, sources) in by_owner {
                let (to, from) = mpsc::channel();
                plan.feeds[m].push(Feed { from, mirrors: indices });
                plan.publishes[owner].push(Publish { to, sources });
            }
            if let Objective::Aux(aux) = &mut net.modules[m].objective {
                if !mirrors.is_empty() {
                    aux.set_followed_sources(mirrors.iter().map(Tensor::shallow_clone).collect());
                }
            }
            plan.mirrors.push(mirrors);
        }
        Ok(plan)
    }
}

/// Points the aux nets back at the real variables they follow (the sequential schedule's
/// sources), once a run is over.
fn restore_followed_sources(net: &mut LocalNetwork) -> Result<()> {
    for m in 0..net.modules.len() {
        let followed = followed_variables(&net.modules[m]);
        if followed.is_empty() {
            continue;
        }
        let sources =
            followed.iter().map(|(position, name)| real_variable(net, *position, name).map(|(_, v)| v)).collect::<Result<Vec<_>>>()?;
        if let Objective::Aux(aux) = &mut net.modules[m].objective {
            aux.set_followed_sources(sources);
        }
    }
    Ok(())
}

pub(super) fn followed_variables(module: &LocalModule) -> Vec<(usize, String)> {
    match &module.objective {
        Objective::Aux(aux) => aux.followed_variables(),
        Objective::Head(_) => Vec::new(),
    }
}

/// The module owning unit `position`, and the variable `name` of that unit.
fn real_variable(net: &LocalNetwork, position: usize, name: &str) -> Result<(usize, Tensor)> {
    let owner = net
        .split()
        .modules
        .iter()
        .position(|range| range.contains(&position))
        .ok_or_else(|| Error::config("module_schedule", format!("unit {position} is in no module")))?;
    let full = format!("units.{position}.{name}");
    let variable = net.modules[owner]
        .store
        .variables()
        .remove(&full)
        .ok_or_else(|| Error::config("module_schedule", format!("module {owner} has no variable {full}")))?;
    Ok((owner, variable))
}

/// Trains `net` on `batches` with one worker per module, each at `threads` intra-op
/// threads; `on_step(step, losses)` runs on the caller's thread as each batch leaves the
/// last module, in order. The modules are the caller's again when it returns.
pub fn run(
    net: &mut LocalNetwork,
    threads: usize,
    batches: impl Iterator<Item = Result<PipelineBatch>>,
    mut on_step: impl FnMut(usize, &[f64]) -> Result<()>,
) -> std::result::Result<PipelineStats, PipelineStop> {
    if threads == 0 {
        return Err(PipelineStop::Failed(Error::config("worker_threads", "must be at least 1")));
    }
    let k = net.modules.len();
    let caller_threads = tch::get_num_threads();
    let mut plan = FollowPlan::new(net).map_err(PipelineStop::Failed)?;
    let memory_format = net.memory_format;
    let tags = memory::ThreadTag::reset_peaks(k);
    let started = Instant::now();
    let mut busy: Vec<Vec<f64>> = (0..k).map(|_| Vec::new()).collect();
    let mut stop: Option<PipelineStop> = None;
    let ends: Vec<WorkerEnd> = std::thread::scope(|scope| {
        let head_inputs = &net.head_inputs;
        let (first, mut input) = mpsc::sync_channel::<Message>(CHANNEL_CAPACITY);
        let (results_to, results) = mpsc::channel();
        let mut handles = Vec::with_capacity(k);
        let mut results_to = Some(results_to);
        for ((((index, module), busy), feeds), (publishes, mirrors)) in net
            .modules
            .iter_mut()
            .enumerate()
            .zip(busy.iter_mut())
            .zip(plan.feeds.drain(..))
            .zip(plan.publishes.drain(..).zip(plan.mirrors.drain(..)))
        {
            let (output, next) = if index + 1 < k {
                let (to, from) = mpsc::sync_channel(CHANNEL_CAPACITY);
                (Some(to), Some(from))
            } else {
                (None, None)
            };
            let results = if index + 1 == k { results_to.take() } else { None };
            let worker = Worker { index, module, head_inputs, input, output, results, mirrors, feeds, publishes, threads };
            handles.push(
                std::thread::Builder::new()
                    .name(format!("glcan-module-{index}"))
                    .spawn_scoped(scope, move || worker.run(busy))
                    .expect("spawn a pipeline worker"),
            );
            match next {
                Some(next) => input = next,
                None => break,
            }
        }
        let message_of = |step: usize, batch: PipelineBatch| {
            Ok(Message {
                step,
                lr: batch.lr,
                input: memory_format.apply(&batch.images),
                tapped: Vec::new(),
                images: batch.images,
                raw_images: batch.raw_images,
                target: batch.target,
                losses: Vec::with_capacity(k),
            })
        };
        stop = feed(batches, message_of, first, &results, &mut on_step);
        handles.into_iter().map(|h| h.join().expect("a pipeline worker panicked")).collect()
    });
    let wall_seconds = started.elapsed().as_secs_f64();
    tch::set_num_threads(caller_threads);
    restore_followed_sources(net).map_err(PipelineStop::Failed)?;
    let diverged = ends.iter().filter_map(|end| match end {
        WorkerEnd::Diverged(step, fault) => Some((*step, *fault)),
        _ => None,
    });
    if let Some((step, fault)) = diverged.min_by_key(|(step, fault)| (*step, fault.module)) {
        return Err(PipelineStop::Diverged { step, fault });
    }
    if let Some(stop) = stop {
        return Err(stop);
    }
    debug_assert!(ends.iter().all(|e| matches!(e, WorkerEnd::Done)), "a worker was cut off without a divergence or an error");
    Ok(PipelineStats { busy_seconds: busy, wall_seconds, worker_threads: threads, worker_peak_bytes: tags.peaks() })
}

/// Feeds the first worker: each of `batches` made into a message by `message_of` goes into
/// `first`, and every batch that has left the pipeline meanwhile (`results`) is handed to
/// `on_step`, in order. Ends at the last batch, or at the first failure (of the data,
/// `message_of` or `on_step`), which it returns; then closes `first` (so the workers end)
/// and reports the batches still leaving.
pub(super) fn feed(
    batches: impl Iterator<Item = Result<PipelineBatch>>,
    mut message_of: impl FnMut(usize, PipelineBatch) -> Result<Message>,
    first: SyncSender<Message>,
    results: &Receiver<(usize, Vec<f64>)>,
    mut on_step: impl FnMut(usize, &[f64]) -> Result<()>,
) -> Option<PipelineStop> {
    let mut stop = None;
    let mut report = |step: usize, losses: Vec<f64>, stop: &mut Option<PipelineStop>| {
        if stop.is_none() {
            if let Err(e) = on_step(step, &losses) {
                *stop = Some(PipelineStop::Failed(e));
            }
        }
    };
    'feed: for (step, batch) in batches.enumerate() {
        let message = match batch.and_then(|batch| message_of(step, batch)) {
            Ok(message) => message,
            Err(e) => {
                stop = Some(PipelineStop::Failed(e));
                break;
            }
        };
        if first.send(message).is_err() {
            break; // a worker stopped; its end says why
        }
        while let Ok((step, losses)) = results.try_recv() {
            report(step, losses, &mut stop);
            if stop.is_some() {
                break 'feed;
            }
        }
    }
    drop(first);
    for (step, losses) in results.iter() {
        report(step, losses, &mut stop);
    }
    stop
}

/// Sets the calling thread's intra-op thread count for good. ATen initialises a thread's
/// count lazily, at its first parallel operator, from the process-wide value that the last
/// `set_num_threads` of any thread left; `get_num_threads` runs that initialisation, so it
/// must come first, or the count set here is overwritten by a neighbour's.
pub fn set_thread_count(threads: usize) {
    let _ = tch::get_num_threads();
    tch::set_num_threads(threads as i32);
}

/// Intra-op threads of each worker: `worker_threads`, else the caller's threads divided by
/// K (at least 1).
pub fn worker_threads(worker_threads: Option<usize>, k: usize) -> usize {
    worker_threads.unwrap_or_else(|| (tch::get_num_threads().max(1) as usize / k.max(1)).max(1))
}
