//! The trainer end to end on a small real subset of Fashion-MNIST (fetched by `make data`):
//! every method learns, runs are deterministic, a stopped run resumes to the same result,
//! no gradient crosses a module boundary, and bad configs are refused.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use glcan_core::aux::glcan::{Fusion, GlcanConfig, GlobalInit};
use glcan_core::aux::{LocalTargets, Method};
use glcan_core::memory_format::{is_channels_last, MemoryFormat};
use glcan_core::optim::{OptimizerConfig, Schedule};
use glcan_core::train::{
    train_classifier, Classification, EpochMetrics, LocalNetwork, OptimizerScope, Progress, TrainConfig, TrainOutcome,
};
use glcan_core::Error;
use glcan_data::augment::Augmentation;
use glcan_data::loader::{BatchLoader, ClassificationCollate, LoaderConfig};
use tch::Device;

mod support;

use support::{fashion_subset, network, Data};

/// Tests in this binary take turns: the trainer seeds libtorch's global random generator,
/// and two runs drawing from it at once would each see the other's draws. One libtorch
/// thread keeps reductions in a fixed order, for bit-exact comparisons.
fn exclusive() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    tch::set_num_threads(1);
    turn
}

fn config(method: Method, k: usize, epochs: usize) -> TrainConfig {
    TrainConfig { seed: 7, ..TrainConfig::new(method, k, epochs, 64, 0.05) }
}

fn losses(metrics: &EpochMetrics) -> Vec<f64> {
    metrics.module_losses.split(';').map(|v| v.parse().unwrap()).collect()
}

#[test]
fn every_method_lowers_its_losses_and_learns() {
    let _turn = exclusive();
    let data = fashion_subset();
    for (method, k) in [
        (Method::E2e, 1),
        (Method::GreedySl, 2),
        (Method::Dgl, 2),
        (Method::InfoproSoftmax, 2),
        (Method::InfoproContrast, 2),
        (Method::Glcan, 2),
        (Method::Glcan, 4),
    ] {
        let outcome = train_classifier(&network(), &data, &config(method, k, 3), Device::Cpu, None, false, &mut ()).unwrap();
        let (first, last) = (losses(&outcome.epochs[0]), losses(outcome.last()));
        assert_eq!(first.len(), k);
        for module in 0..k {
            assert!(last[module] < first[module], "{method} K={k}: module {module} loss went from {} to {}", first[module], last[module]);
        }
        eprintln!("{method} K={k}: losses {first:?} -> {last:?}, test accuracy {:.1}%", outcome.last().test_metric);
        // Chance is 10%; 24 steps on 512 images already reach well past it.
        assert!(outcome.last().test_metric > 25.0, "{method} K={k}: test accuracy {:.1}%", outcome.last().test_metric);
    }
}

#[test]
fn same_seed_same_run() {
    let _turn = exclusive();
    let data = fashion_subset();
    let config = config(Method::Glcan, 2, 2);
    let a = train_classifier(&network(), &data, &config, Device::Cpu, None, false, &mut ()).unwrap();
    let b = train_classifier(&network(), &data, &config, Device::Cpu, None, false, &mut ()).unwrap();
    let summary = |o: &glcan_core::train::TrainOutcome| {
        o.epochs.iter().map(|e| (e.module_losses.clone(), e.test_metric, e.test_loss)).collect::<Vec<_>>()
    };
    assert_eq!(summary(&a), summary(&b));
    let other = TrainConfig { seed: 8, ..config };
    let c = train_classifier(&network(), &data, &other, Device::Cpu, None, false, &mut ()).unwrap();
    assert_ne!(summary(&a), summary(&c), "a different seed gives a different run");
}

/// Stops the run after `after` epochs.
struct StopAfter {
    after: usize,
    seen: usize,
}

impl Progress for StopAfter {
    fn epoch(&mut self, _metrics: &EpochMetrics, _epochs: usize) {
        self.seen += 1;
    }
    fn keep_going(&mut self) -> bool {
        self.seen < self.after
    }
}

/// Every method, each way GLCAN builds its global branch, both optimizer scopes, both
/// optimizers and the channels-last layout: the GLCAN-EMA case is the detection presets'
/// recipe (top-down fusion, EMA momentum 0.9, Adam, cosine with warm-up) on the
/// classification network, kept last for the test that takes it off the end.
fn resume_cases() -> Vec<(&'static str, TrainConfig)> {
    let glcan = |global_init, global_width| {
        let mut config = config(Method::Glcan, 2, 2);
        config.aux.glcan = GlcanConfig { global_init, global_width, ..GlcanConfig::default() };
        config
    };
    let mut ema = glcan(GlobalInit::Ema, 1.0);
    ema.aux.glcan.fusion = Fusion::TopDown;
    ema.aux.glcan.ema_momentum = 0.9;
    ema.optimizer = OptimizerConfig::edsr_adam();
    ema.schedule = Schedule::Cosine { warmup_epochs: 0.2 };
    ema.lr = 0.003;
    vec![
        ("e2e", config(Method::E2e, 1, 2)),
        ("greedy-sl", config(Method::GreedySl, 2, 2)),
        ("dgl per-module", TrainConfig { optimizer_scope: OptimizerScope::PerModule, ..config(Method::Dgl, 2, 2) }),
        ("infopro-softmax", config(Method::InfoproSoftmax, 2, 2)),
        ("infopro-contrast", config(Method::InfoproContrast, 2, 2)),
        ("predsim", config(Method::PredSim, 2, 2)),
        ("auglocal", config(Method::AugLocal, 2, 2)),
        ("glcan scratch", glcan(GlobalInit::Scratch, 0.5)),
        ("glcan copy", glcan(GlobalInit::Copy, 1.0)),
        ("dgl channels-last", TrainConfig { memory_format: MemoryFormat::ChannelsLast, ..config(Method::Dgl, 2, 2) }),
        ("glcan ema top-down adam", ema),
    ]
}

/// Every (name, tensor) of the checkpoint in `dir`.
fn checkpoint(dir: &Path) -> Vec<(String, tch::Tensor)> {
    tch::Tensor::load_multi(dir.join("checkpoint.ot")).unwrap()
}

/// Trains `config` straight through, and again stopped after epoch 1 and resumed (in a
/// fresh network) to the end: every epoch's figures and every tensor of the final state
/// (weights, BatchNorm statistics, aux nets, EMA branch, optimizer state) must be equal bit
/// for bit. Returns the resumed run's directory.
fn assert_resumes_exactly(label: &str, data: &Data, config: &TrainConfig) -> tempfile::TempDir {
    assert_eq!(config.epochs, 2);
    let straight_dir = tempfile::tempdir().unwrap();
    let straight = train_classifier(&network(), data, config, Device::Cpu, Some(straight_dir.path()), false, &mut ()).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let stopped = train_classifier(&network(), data, config, Device::Cpu, Some(dir.path()), false, &mut StopAfter { after: 1, seen: 0 });
    assert!(matches!(stopped, Err(Error::Stopped { epoch: 1 })), "{label}: {stopped:?}");
    // Starting afresh over a checkpoint is refused; resuming continues it.
    let refused = train_classifier(&network(), data, config, Device::Cpu, Some(dir.path()), false, &mut ()).unwrap_err();
    assert!(refused.to_string().contains("resume"), "{label}: {refused}");
    let resumed = train_classifier(&network(), data, config, Device::Cpu, Some(dir.path()), true, &mut ()).unwrap();

    let figures = |o: &TrainOutcome| {
        o.epochs.iter().map(|e| (e.epoch, e.lr, e.module_losses.clone(), e.test_metric, e.test_loss)).collect::<Vec<_>>()
    };
    assert_eq!(figures(&resumed), figures(&straight), "{label}: epochs differ after resume");
    assert_eq!(resumed.final_evaluation.metric, straight.final_evaluation.metric, "{label}");
    let metrics = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 3, "{label}: header and two epochs");

    let (a, b) = (checkpoint(straight_dir.path()), checkpoint(dir.path()));
    let names: Vec<&str> = a.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, b.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), "{label}");
    for ((name, ta), (_, tb)) in a.iter().zip(&b) {
        assert!(ta.equal(tb), "{label}: {name} differs after resume");
    }
    // The state covers what the run's future depends on.
    let has = |pattern: &str| names.iter().any(|n| n.contains(pattern));
    assert!(has("running_mean") && has("running_var"), "{label}: BatchNorm statistics are saved");
    assert!(has("/opt/#steps") && has("/opt/units.0.conv.weight#0"), "{label}: optimizer state is saved");
    if matches!(config.optimizer, OptimizerConfig::Adam { .. }) {
        assert!(has("/opt/units.0.conv.weight#1"), "{label}: Adam's second moments are saved");
    }
    if config.method == Method::Glcan && config.aux.glcan.global_init == GlobalInit::Ema {
        assert!(has("m0/aux-state/ema-global."), "{label}: the EMA global branch is saved");
    }
    dir
}

/// Channels-last conv weights stay channels-last through optimizer steps and a checkpoint
/// round trip (the optimizer's momentum buffers follow them), and the network computes the
/// contiguous network's losses up to float rounding (the kernels sum in another order).
#[test]
fn channels_last_survives_steps_and_checkpoints() {
    let _turn = exclusive();
    let images = tch::Tensor::randn([8, 1, 28, 28], (tch::Kind::Float, Device::Cpu));
    let labels = tch::Tensor::randint(10, [8], (tch::Kind::Int64, Device::Cpu));
    let targets = LocalTargets { images: &images, raw_images: &images, target: &labels };
    let build = |memory_format| {
        tch::manual_seed(3);
        let config = TrainConfig { memory_format, ..config(Method::Dgl, 2, 1) };
        LocalNetwork::build(&network(), &Classification, &config, 1, 28, Device::Cpu).unwrap()
    };
    let (mut plain, mut last) = (build(MemoryFormat::Contiguous), build(MemoryFormat::ChannelsLast));
    for _ in 0..3 {
        let (a, b) = (plain.train_step(&images, &targets, 0.05).unwrap(), last.train_step(&images, &targets, 0.05).unwrap());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-4 * x.abs().max(1.0), "losses {a:?} vs {b:?}");
        }
    }
    let four_d = |net: &LocalNetwork| net.state().into_iter().filter(|(_, t)| t.dim() == 4).collect::<Vec<_>>();
    let saved = four_d(&last);
    assert!(saved.iter().any(|(name, _)| name.contains("/opt/")), "momentum buffers are in the state");
    for (name, t) in &saved {
        assert!(is_channels_last(t), "{name} left channels-last after the steps");
    }
    // (A 1x1 or single-channel kernel has strides that fit both layouts.)
    assert!(four_d(&plain).iter().any(|(_, t)| !is_channels_last(t)), "the contiguous run stays NCHW");
    let mut restored = build(MemoryFormat::ChannelsLast);
    let copies = last.state().into_iter().map(|(name, t)| (name, t.copy())).collect();
    restored.load_state(copies, Path::new("checkpoint.ot")).unwrap();
    for ((name, a), (_, b)) in four_d(&restored).iter().zip(&saved) {
        assert!(is_channels_last(a) && a.equal(b), "{name} after loading the checkpoint");
    }
}

#[test]
fn every_method_resumes_bit_for_bit() {
    let _turn = exclusive();
    let data = fashion_subset();
    for (label, config) in resume_cases() {
        assert_resumes_exactly(label, &data, &config);
    }
}

#[test]
fn a_checkpoint_without_the_ema_branch_is_refused_by_name() {
    let _turn = exclusive();
    let data = fashion_subset();
    let (label, config) = resume_cases().pop().unwrap();
    let dir = assert_resumes_exactly(label, &data, &config);
    let file = dir.path().join("checkpoint.ot");
    let fresh = || LocalNetwork::build(&network(), &Classification, &config, 1, 28, Device::Cpu).unwrap();
    fresh().load_state(checkpoint(dir.path()), &file).unwrap();
    for (entry, fault) in
        [("m0/aux-state/ema-global.", "lacks entry m0/aux-state/ema-global."), ("m1/opt/#steps", "lacks entry m1/opt/#steps")]
    {
        let saved: Vec<_> = checkpoint(dir.path()).into_iter().filter(|(name, _)| !name.starts_with(entry)).collect();
        let message = fresh().load_state(saved, &file).unwrap_err().to_string();
        assert!(message.contains(&file.display().to_string()) && message.contains(fault), "{message}");
    }
    let mut saved = checkpoint(dir.path());
    let (name, tensor) = saved.iter_mut().find(|(name, _)| name.starts_with("m0/aux-state/")).unwrap();
    *tensor = tensor.narrow(0, 0, 1);
    let name = name.clone();
    let message = fresh().load_state(saved, &file).unwrap_err().to_string();
    assert!(message.contains(&format!("{name} has shape")), "{message}");

    // A run directory is tied to its configuration.
    let other = TrainConfig { lr: 0.01, ..config };
    let message = train_classifier(&network(), &data, &other, Device::Cpu, Some(dir.path()), true, &mut ()).unwrap_err().to_string();
    assert!(message.contains("config.json") && message.contains("different configuration"), "{message}");
}

#[test]
fn no_gradient_crosses_a_module_boundary() {
    let _turn = exclusive();
    let data = fashion_subset();
    for method in [Method::GreedySl, Method::Dgl, Method::InfoproContrast, Method::Glcan] {
        tch::manual_seed(0);
        let mut net = LocalNetwork::build(&network(), &Classification, &config(method, 4, 1), 1, 28, Device::Cpu).unwrap();
        let loader = BatchLoader::new(
            data.train.clone(),
            ClassificationCollate::new(Augmentation::NONE, data.normalization.clone()),
            LoaderConfig::eval(32),
        )
        .unwrap();
        let batch = loader.epoch(0).next().unwrap().unwrap();
        let raw = batch.images.shallow_clone() * 0.3530 + 0.2860; // back to [0, 1]
        let targets = LocalTargets { images: &batch.images, raw_images: &raw, target: &batch.labels };
        // Snapshot module k's gradients right after its own backward pass; later backward
        // passes (modules k + 1 ..) must leave them exactly as they were.
        let mut snapshots = Vec::new();
        net.forward_backward(&batch.images, &targets, |_, module| snapshots.push(module.gradients())).unwrap();
        for (k, (module, snapshot)) in net.modules().iter().zip(&snapshots).enumerate() {
            let now = module.gradients();
            assert!(!snapshot.is_empty(), "{method}: module {k} got no gradient from its own loss");
            assert_eq!(now.len(), snapshot.len(), "{method}: module {k}");
            for ((name, after), (_, before)) in now.iter().zip(snapshot) {
                assert!(after.equal(before), "{method}: {name} of module {k} received gradient from a later module");
            }
        }
    }
}

#[test]
fn broken_configs_are_refused_before_training() {
    let _turn = exclusive();
    let data = fashion_subset();
    let cases = [
        (TrainConfig { k: 5, ..config(Method::Glcan, 5, 1) }, "K = 5"),
        (config(Method::E2e, 2, 1), "K must be 1"),
        (TrainConfig { batch_size: 0, ..config(Method::Dgl, 2, 1) }, "batch_size"),
        (TrainConfig { batch_size: 1024, ..config(Method::Dgl, 2, 1) }, "exceeds the 512 training images"),
    ];
    for (config, expected) in cases {
        let message = train_classifier(&network(), &data, &config, Device::Cpu, None, false, &mut ()).unwrap_err().to_string();
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn a_diverging_run_stops_with_epoch_step_and_module_and_keeps_its_files() {
    let _turn = exclusive();
    let data = fashion_subset();
    let dir = tempfile::tempdir().unwrap();
    let good = config(Method::Dgl, 2, 1);
    train_classifier(&network(), &data, &good, Device::Cpu, Some(dir.path()), false, &mut ()).unwrap();
    let metrics_before = std::fs::read(dir.path().join("metrics.csv")).unwrap();
    // An absurd learning rate blows the weights up within a few steps.
    let bad = TrainConfig { lr: 1e12, ..good };
    let bad_dir = tempfile::tempdir().unwrap();
    let error = train_classifier(&network(), &data, &bad, Device::Cpu, Some(bad_dir.path()), false, &mut ()).unwrap_err();
    match error {
        Error::Diverged { epoch, module, .. } => assert!(epoch == 1 && module < 2),
        other => panic!("expected divergence, got {other}"),
    }
    assert!(bad_dir.path().join("config.json").exists());
    assert_eq!(std::fs::read(dir.path().join("metrics.csv")).unwrap(), metrics_before, "the earlier run's results are untouched");
}
