//! AugLocal in the trainer, on the shared real Fashion-MNIST subset: its aux nets sample the
//! right later units and give class logits, no gradient crosses a module boundary, and a
//! seeded run lowers every module's loss.

use glcan_core::models::InitMode;
use std::sync::{Mutex, MutexGuard};

use glcan_core::aux::auglocal::{AugLocalAux, AugLocalConfig};
use glcan_core::aux::{AuxContext, LocalTargets, Method};
use glcan_core::models::UnitNetwork;
use glcan_core::train::{train_classifier, Classification, EpochMetrics, LocalNetwork, TrainConfig};
use glcan_data::augment::Augmentation;
use glcan_data::loader::{BatchLoader, ClassificationCollate, LoaderConfig};
use tch::{nn, Device, Tensor};

mod support;

use support::{fashion_subset, network, Data};

/// One test at a time with one libtorch thread: the trainer seeds the global generator.
fn exclusive() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    tch::set_num_threads(1);
    turn
}

fn config(k: usize, epochs: usize) -> TrainConfig {
    TrainConfig { seed: 7, ..TrainConfig::new(Method::AugLocal, k, epochs, 64, 0.05) }
}

/// The first 32 training images, normalised, and their labels.
fn batch(data: &Data) -> (Tensor, Tensor) {
    let collate = ClassificationCollate::new(Augmentation::NONE, data.normalization.clone());
    let loader = BatchLoader::new(data.train.clone(), collate, LoaderConfig::eval(32)).unwrap();
    let batch = loader.epoch(0).next().unwrap().unwrap();
    (batch.images, batch.labels)
}

#[test]
fn aux_nets_sample_the_later_units_and_give_class_logits() {
    let _turn = exclusive();
    let data = fashion_subset();
    let (images, labels) = batch(&data);
    let net = network(); // ResNet-8: stem, [1,0], [2,0], [3,0]; 28 -> 28, 28, 14, 7 pixels
    let real = nn::VarStore::new(Device::Cpu);
    let units: Vec<_> =
        net.units().iter().enumerate().map(|(i, spec)| net.build_unit(real.root() / i, spec, InitMode::Reference)).collect();
    let aux_store = nn::VarStore::new(Device::Cpu);
    let mut h = images.shallow_clone();
    // K = 4, default knobs (d = 2, d_min = 1, τ = 0.5): depths 2, round(1.75) = 2, 1.5 -> 2.
    for (module, expected) in [vec![2, 3], vec![2, 3], vec![3]].into_iter().enumerate() {
        h = units[module].forward_t(&h, false);
        let ctx = AuxContext {
            network: &net,
            module,
            num_modules: 4,
            last_unit: module,
            image_channels: 1,
            image_size: 28,
            real_unit_variables: None,
            task_head: None,
            init: InitMode::Reference,
        };
        let aux = AugLocalAux::new(aux_store.root() / module, &AugLocalConfig::default(), &ctx).unwrap();
        assert_eq!(aux.sampled(), expected.as_slice(), "module {module}");
        let logits = aux.logits(&h, true);
        assert_eq!(logits.size(), [32, 10], "module {module}");
        assert!(logits.isfinite().all().int64_value(&[]) == 1);
    }

    // In the trainer: K finite losses, one per module, and logits from the real head.
    tch::manual_seed(0);
    let mut local = LocalNetwork::build(&net, &Classification, &config(4, 1), 1, 28, Device::Cpu).unwrap();
    let targets = LocalTargets { images: &images, raw_images: &images, target: &labels };
    let losses = local.forward_backward(&images, &targets, |_, _| {}).unwrap();
    assert_eq!(losses.len(), 4);
    assert!(losses.iter().all(|l| l.is_finite() && *l > 0.0), "{losses:?}");
    assert_eq!(local.predict(&images).size(), [32, 10]);
}

#[test]
fn the_sampled_units_are_fresh_copies() {
    let _turn = exclusive();
    tch::manual_seed(0);
    let local = LocalNetwork::build(&network(), &Classification, &config(2, 1), 1, 28, Device::Cpu).unwrap();
    // The aux net's copies of the later units live in module 0's store under "aux.", with
    // their own tensors; the real units they imitate live in module 1's store.
    let first: Vec<(String, Tensor)> =
        local.modules()[0].store.variables().into_iter().filter(|(n, _)| n.starts_with("aux.units.")).collect();
    assert!(!first.is_empty());
    let real_pointers: Vec<usize> = local.modules()[1].store.variables().values().map(|t| t.data_ptr() as usize).collect();
    for (name, tensor) in &first {
        assert!(!real_pointers.contains(&(tensor.data_ptr() as usize)), "{name} shares storage with a real unit");
    }
}

#[test]
fn no_gradient_crosses_a_module_boundary() {
    let _turn = exclusive();
    let data = fashion_subset();
    let (images, labels) = batch(&data);
    tch::manual_seed(0);
    let mut net = LocalNetwork::build(&network(), &Classification, &config(4, 1), 1, 28, Device::Cpu).unwrap();
    let targets = LocalTargets { images: &images, raw_images: &images, target: &labels };
    // Module k's gradients right after its own backward pass must survive the later ones.
    let mut snapshots = Vec::new();
    net.forward_backward(&images, &targets, |_, module| snapshots.push(module.gradients())).unwrap();
    for (k, (module, snapshot)) in net.modules().iter().zip(&snapshots).enumerate() {
        let now = module.gradients();
        assert!(!snapshot.is_empty(), "module {k} got no gradient from its own loss");
        assert_eq!(now.len(), snapshot.len(), "module {k}");
        for ((name, after), (_, before)) in now.iter().zip(snapshot) {
            assert!(after.equal(before), "{name} of module {k} received gradient from a later module");
        }
    }
}

fn losses(metrics: &EpochMetrics) -> Vec<f64> {
    metrics.module_losses.split(';').map(|v| v.parse().unwrap()).collect()
}

#[test]
fn a_seeded_run_lowers_every_modules_loss() {
    let _turn = exclusive();
    let data = fashion_subset();
    for k in [2, 4] {
        let outcome = train_classifier(&network(), &data, &config(k, 3), Device::Cpu, None, false, &mut ()).unwrap();
        let (first, last) = (losses(&outcome.epochs[0]), losses(outcome.last()));
        assert_eq!(first.len(), k);
        for module in 0..k {
            assert!(last[module] < first[module], "K={k}: module {module} loss went from {} to {}", first[module], last[module]);
        }
        eprintln!("auglocal K={k}: losses {first:?} -> {last:?}, test accuracy {:.1}%", outcome.last().test_metric);
        // Chance is 10%; 24 steps on 512 images reach well past it.
        assert!(outcome.last().test_metric > 25.0, "K={k}: test accuracy {:.1}%", outcome.last().test_metric);
    }
}

#[test]
fn bad_knobs_are_refused_before_training() {
    let _turn = exclusive();
    let data = fashion_subset();
    let mut bad = config(2, 1);
    bad.aux.auglocal.min_depth = 5;
    let message = train_classifier(&network(), &data, &bad, Device::Cpu, None, false, &mut ()).unwrap_err().to_string();
    assert!(message.contains("aux.auglocal.min_depth"), "{message}");
    let parsed: Result<AugLocalConfig, _> = toml::from_str("width = 0.5");
    assert!(parsed.unwrap_err().to_string().contains("unknown field `width`"));
}
