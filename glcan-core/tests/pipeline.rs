//! The pipelined schedule (one worker thread per module) on a small real subset of
//! Fashion-MNIST (fetched by `make data`): it ends with the weights of the sequential
//! schedule with per-module optimizers, bit for bit at one intra-op thread, for every
//! method at K = 1, 2 and 4 and each way GLCAN builds its global branch; it stops a
//! diverging run as the sequential one does, resumes bit for bit, measures each worker's
//! memory, sets intra-op threads per worker, and refuses bad settings.

use std::path::Path;
use std::sync::{Barrier, Mutex, MutexGuard};

use glcan_core::aux::glcan::{Fusion, GlcanConfig, GlobalInit};
use glcan_core::aux::Method;
use glcan_core::optim::{OptimizerConfig, Schedule};
use glcan_core::train::pipeline::{self, PipelineBatch};
use glcan_core::train::{
    train_classifier, Classification, EpochMetrics, LocalNetwork, ModuleSchedule, OptimizerScope, Progress, TrainConfig, TrainOutcome,
};
use glcan_core::{memory, Error};
use tch::{Device, Kind, Tensor};

mod support;

use support::{fashion_subset, network, Data};

/// Tests in this binary take turns (the trainer seeds libtorch's global generator), at one
/// intra-op thread, with the counting allocator installed (first thing, before any other
/// libtorch operator of this binary runs).
fn exclusive() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    memory::install_counting_allocator().unwrap();
    tch::set_num_threads(1);
    turn
}

/// The sequential twin: per-module optimizers, 2 epochs of 8 batches.
fn sequential(method: Method, k: usize) -> TrainConfig {
    TrainConfig { seed: 7, optimizer_scope: OptimizerScope::PerModule, ..TrainConfig::new(method, k, 2, 64, 0.05) }
}

fn pipelined(config: &TrainConfig) -> TrainConfig {
    TrainConfig { module_schedule: ModuleSchedule::Pipelined, worker_threads: Some(1), ..config.clone() }
}

fn glcan(k: usize, global_init: GlobalInit, global_width: f64) -> TrainConfig {
    let mut config = sequential(Method::Glcan, k);
    config.aux.glcan = GlcanConfig { global_init, global_width, ..GlcanConfig::default() };
    config
}

/// The detection presets' GLCAN recipe (EMA global branch, top-down fusion, momentum 0.9,
/// Adam, cosine with warm-up) on the classification network.
fn glcan_ema_detection_recipe(k: usize) -> TrainConfig {
    let mut config = glcan(k, GlobalInit::Ema, 1.0);
    config.aux.glcan.fusion = Fusion::TopDown;
    config.aux.glcan.ema_momentum = 0.9;
    config.optimizer = OptimizerConfig::edsr_adam();
    config.schedule = Schedule::Cosine { warmup_epochs: 0.2 };
    config.lr = 0.003;
    config
}

fn checkpoint(dir: &Path) -> Vec<(String, Tensor)> {
    Tensor::load_multi(dir.join("checkpoint.ot")).unwrap()
}

fn figures(outcome: &TrainOutcome) -> Vec<(usize, f64, String, f64, f64)> {
    outcome.epochs.iter().map(|e| (e.epoch, e.lr, e.module_losses.clone(), e.test_metric, e.test_loss)).collect()
}

/// Runs `config` sequentially and pipelined: equal epochs' figures and equal checkpoints
/// (weights, BatchNorm statistics, aux nets, EMA branches, optimizer state), bit for bit.
fn assert_same_run(label: &str, data: &Data, config: &TrainConfig) {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = train_classifier(&network(), data, config, Device::Cpu, Some(a_dir.path()), false, &mut ()).unwrap();
    let b = train_classifier(&network(), data, &pipelined(config), Device::Cpu, Some(b_dir.path()), false, &mut ()).unwrap();
    assert_eq!(figures(&a), figures(&b), "{label}: epochs differ between the schedules");
    let (a, b) = (checkpoint(a_dir.path()), checkpoint(b_dir.path()));
    assert_eq!(a.len(), b.len(), "{label}");
    for ((name, ta), (other, tb)) in a.iter().zip(&b) {
        assert_eq!(name, other, "{label}");
        assert!(ta.equal(tb), "{label}: {name} differs between the sequential and the pipelined schedule");
    }
    if config.aux.glcan.global_init == GlobalInit::Ema && config.method == Method::Glcan {
        assert!(a.iter().any(|(name, _)| name.starts_with("m0/aux-state/ema-global.")), "{label}: module 0 follows later modules");
    }
}

#[test]
fn pipelined_ends_with_the_sequential_weights_for_every_method() {
    let _turn = exclusive();
    let data = fashion_subset();
    assert_same_run("e2e (one worker)", &data, &sequential(Method::E2e, 1));
    for k in [2, 4] {
        for method in [Method::GreedySl, Method::Dgl, Method::InfoproSoftmax, Method::InfoproContrast, Method::Glcan] {
            assert_same_run(&format!("{method} K={k}"), &data, &sequential(method, k));
        }
    }
}

/// GLCAN's copy and EMA global branches read the real later units: the EMA after module k's
/// step on batch t reads module j's variables after j's step on batch t-1, in both schedules.
#[test]
fn pipelined_glcan_copy_and_ema_read_the_same_snapshot() {
    let _turn = exclusive();
    let data = fashion_subset();
    for k in [2, 4] {
        assert_same_run(&format!("glcan copy K={k}"), &data, &glcan(k, GlobalInit::Copy, 1.0));
        assert_same_run(&format!("glcan ema K={k}"), &data, &glcan(k, GlobalInit::Ema, 1.0));
        assert_same_run(&format!("glcan ema detection recipe K={k}"), &data, &glcan_ema_detection_recipe(k));
    }
}

/// Stops the run after `after` epochs.
struct StopAfter {
    after: usize,
    seen: usize,
    steps: usize,
}

impl Progress for StopAfter {
    fn step(&mut self, _epoch: usize, _step: usize, _steps: usize, losses: &[f64]) {
        assert!(!losses.is_empty());
        self.steps += 1;
    }
    fn epoch(&mut self, _metrics: &EpochMetrics, _epochs: usize) {
        self.seen += 1;
    }
    fn keep_going(&mut self) -> bool {
        self.seen < self.after
    }
}

#[test]
fn a_stopped_pipelined_run_resumes_bit_for_bit() {
    let _turn = exclusive();
    let data = fashion_subset();
    let config = pipelined(&glcan_ema_detection_recipe(4));
    let straight_dir = tempfile::tempdir().unwrap();
    let straight = train_classifier(&network(), &data, &config, Device::Cpu, Some(straight_dir.path()), false, &mut ()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut progress = StopAfter { after: 1, seen: 0, steps: 0 };
    let stopped = train_classifier(&network(), &data, &config, Device::Cpu, Some(dir.path()), false, &mut progress);
    assert!(matches!(stopped, Err(Error::Stopped { epoch: 1 })), "{stopped:?}");
    assert_eq!(progress.steps, 8, "progress sees every step of the epoch");
    let resumed = train_classifier(&network(), &data, &config, Device::Cpu, Some(dir.path()), true, &mut ()).unwrap();
    assert_eq!(figures(&resumed), figures(&straight));
    for ((name, a), (_, b)) in checkpoint(straight_dir.path()).iter().zip(&checkpoint(dir.path())) {
        assert!(a.equal(b), "{name} differs after resume");
    }
    let recorded = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    assert!(recorded.contains("\"module_schedule\": \"pipelined\""), "{recorded}");
    // The memory meter measures the pipelined epoch (all modules' state and activations).
    assert!(straight.step_peak_bytes() > 0);
}

#[test]
fn a_diverging_pipelined_run_stops_where_the_sequential_one_does() {
    let _turn = exclusive();
    let data = fashion_subset();
    for k in [2, 4] {
        // An absurd learning rate blows the weights up within a few steps.
        let bad = TrainConfig { lr: 1e12, ..sequential(Method::Dgl, k) };
        let a = train_classifier(&network(), &data, &bad, Device::Cpu, None, false, &mut ()).unwrap_err();
        let b = train_classifier(&network(), &data, &pipelined(&bad), Device::Cpu, None, false, &mut ()).unwrap_err();
        assert!(matches!(a, Error::Diverged { .. }), "{a}");
        assert_eq!(a.to_string(), b.to_string(), "K = {k}");
    }
}

/// Two threads set their intra-op counts (1, then 2) and run an operator; returns the count
/// each then sees. With `initialise_first`, each runs ATen's lazy per-thread initialisation
/// before setting its count (what the pipeline's workers do).
fn counts_seen(initialise_first: bool) -> Vec<i32> {
    let barrier = Barrier::new(2);
    std::thread::scope(|scope| {
        let handles: Vec<_> = [1, 2]
            .into_iter()
            .map(|n| {
                let barrier = &barrier;
                scope.spawn(move || {
                    if initialise_first {
                        pipeline::set_thread_count(n);
                    } else {
                        tch::set_num_threads(n as i32);
                    }
                    barrier.wait(); // both have set theirs
                    let _ = Tensor::ones([64, 64], (Kind::Float, Device::Cpu)).matmul(&Tensor::ones([64, 64], (Kind::Float, Device::Cpu)));
                    tch::get_num_threads()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// libtorch's OpenMP thread count is per thread: a worker's count holds for that worker and
/// leaves its neighbours' and the caller's alone, once ATen's lazy initialisation of the
/// thread has run (without it, the first operator resets a thread's count to the one the
/// last `set_num_threads` of any thread left).
#[test]
fn pipeline_threads_are_per_worker() {
    let _turn = exclusive();
    tch::set_num_threads(2);
    assert_eq!(counts_seen(true), vec![1, 2], "each worker keeps its own intra-op thread count");
    let trap = counts_seen(false);
    assert!(trap == vec![1, 1] || trap == vec![2, 2], "the first operator of a thread takes the last count set by any thread: {trap:?}");
    // The pipeline sets its workers' counts and gives the caller back its own.
    tch::manual_seed(0);
    let config = pipelined(&sequential(Method::Dgl, 2));
    let mut net = LocalNetwork::build(&network(), &Classification, &config, 1, 28, Device::Cpu).unwrap();
    let stats = pipeline::run(&mut net, 1, random_batches(3), |_, _| Ok(())).unwrap();
    assert_eq!(tch::get_num_threads(), 2);
    assert_eq!(stats.worker_threads, 1);
    tch::set_num_threads(1);
}

fn random_batches(count: usize) -> impl Iterator<Item = glcan_core::Result<PipelineBatch>> {
    (0..count).map(|_| {
        let images = Tensor::randn([32, 1, 28, 28], (Kind::Float, Device::Cpu));
        Ok(PipelineBatch {
            raw_images: images.shallow_clone(),
            images,
            target: Tensor::randint(10, [32], (Kind::Int64, Device::Cpu)),
            lr: 0.01,
        })
    })
}

#[test]
fn each_worker_reports_its_busy_time_and_peak_memory() {
    let _turn = exclusive();
    tch::manual_seed(0);
    let config = pipelined(&sequential(Method::Dgl, 4));
    let mut net = LocalNetwork::build(&network(), &Classification, &config, 1, 28, Device::Cpu).unwrap();
    let mut seen = Vec::new();
    let stats = pipeline::run(&mut net, 1, random_batches(5), |step, losses| {
        assert_eq!(losses.len(), 4);
        seen.push(step);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, vec![0, 1, 2, 3, 4], "steps leave the pipeline in order");
    assert_eq!(stats.busy_seconds.iter().map(Vec::len).collect::<Vec<_>>(), vec![5; 4]);
    let busy = stats.busy_fractions();
    assert!(busy.iter().all(|&f| f > 0.0 && f <= 1.0), "{busy:?}");
    assert_eq!(stats.worker_peak_bytes.len(), 4);
    assert!(stats.worker_peak_bytes.iter().all(|&b| b > 0), "{:?}", stats.worker_peak_bytes);
    // Module 0 holds the stem's activations at 28 x 28: above the last module's head.
    assert!(stats.worker_peak_bytes[0] > stats.worker_peak_bytes[3], "{:?}", stats.worker_peak_bytes);
}

#[test]
fn bad_pipeline_settings_are_refused_before_training() {
    let _turn = exclusive();
    let data = fashion_subset();
    let dgl = pipelined(&sequential(Method::Dgl, 2));
    let cases = [
        (TrainConfig { module_devices: vec!["cpu".into()], ..dgl.clone() }, "1 devices for K = 2 modules"),
        (TrainConfig { module_devices: vec!["cpu".into(), "tpu".into()], ..dgl.clone() }, "unknown device \"tpu\""),
        (TrainConfig { module_devices: vec!["cpu".into(), "cuda:7".into()], ..dgl.clone() }, "cuda:7 requested"),
        (TrainConfig { worker_threads: Some(0), ..dgl.clone() }, "worker_threads"),
        (TrainConfig { optimizer_scope: OptimizerScope::Shared, ..dgl.clone() }, "optimizer_scope = \"per-module\""),
        (TrainConfig { module_devices: vec!["cpu".into(); 2], ..sequential(Method::Dgl, 2) }, "needs module_schedule = \"pipelined\""),
        (TrainConfig { worker_threads: Some(1), ..sequential(Method::Dgl, 2) }, "need module_schedule = \"pipelined\""),
    ];
    for (config, expected) in cases {
        let message = train_classifier(&network(), &data, &config, Device::Cpu, None, false, &mut ()).unwrap_err().to_string();
        assert!(message.contains(expected), "expected {expected:?} in: {message}");
    }
    // All modules on the CPU, named: the same run as without names.
    let named = TrainConfig { module_devices: vec!["cpu".into(); 2], epochs: 1, ..dgl.clone() };
    let a = train_classifier(&network(), &data, &named, Device::Cpu, None, false, &mut ()).unwrap();
    let b = train_classifier(&network(), &data, &TrainConfig { epochs: 1, ..dgl }, Device::Cpu, None, false, &mut ()).unwrap();
    assert_eq!(figures(&a), figures(&b));
}

/// `split = "time_balanced"`: the trainer times the modules, records the points it chose in
/// `split.json`, and a resumed run takes them from there (a new timing could choose others).
#[test]
fn a_time_balanced_run_records_its_split_and_resumes_with_it() {
    let _turn = exclusive();
    let data = fashion_subset();
    let config = pipelined(&TrainConfig { split: glcan_core::split::SplitStrategy::TimeBalanced, ..sequential(Method::Dgl, 2) });
    let dir = tempfile::tempdir().unwrap();
    let mut progress = StopAfter { after: 1, seen: 0, steps: 0 };
    let stopped = train_classifier(&network(), &data, &config, Device::Cpu, Some(dir.path()), false, &mut progress);
    assert!(matches!(stopped, Err(Error::Stopped { epoch: 1 })), "{stopped:?}");
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("split.json")).unwrap()).unwrap();
    assert_eq!(record["points"].as_array().unwrap().len(), 1, "{record}");
    let seconds = record["module_step_seconds"].as_array().unwrap();
    assert!(seconds.len() == 2 && seconds.iter().all(|s| s.as_f64().unwrap() > 0.0), "{record}");
    // Another split in the record: the resume must use it (the checkpoint then fits only it).
    let other = if record["points"][0]["stage"] == 1 {
        serde_json::json!([{"stage": 2, "index": 0}])
    } else {
        serde_json::json!([{"stage": 1, "index": 0}])
    };
    let edited = serde_json::json!({"points": other, "module_step_seconds": record["module_step_seconds"]});
    std::fs::write(dir.path().join("split.json"), edited.to_string()).unwrap();
    let message = train_classifier(&network(), &data, &config, Device::Cpu, Some(dir.path()), true, &mut ()).unwrap_err().to_string();
    assert!(message.contains("checkpoint.ot"), "a split other than the checkpoint's is refused: {message}");
    std::fs::write(dir.path().join("split.json"), record.to_string()).unwrap();
    let resumed = train_classifier(&network(), &data, &config, Device::Cpu, Some(dir.path()), true, &mut ()).unwrap();
    assert_eq!(resumed.epochs.len(), 2);
    // Without its record the resume is refused by name.
    std::fs::remove_file(dir.path().join("split.json")).unwrap();
    let message = train_classifier(&network(), &data, &config, Device::Cpu, Some(dir.path()), true, &mut ()).unwrap_err().to_string();
    assert!(message.contains("split.json"), "{message}");
}
