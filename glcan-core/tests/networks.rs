//! The networks beside the ResNets (DenseNet-BC-100-12, VGG-13/19 with BN, WRN-28-10), as
//! chains of cuttable units: their layouts, their parameter counts against the published
//! ones, a forward pass unit by unit in which every cut's tensor has the shape its spec
//! promises (what an aux net attached there is built for), and one local-learning step of
//! every method with aux nets attached at a split.

use glcan_core::aux::{LocalTargets, Method};
use glcan_core::models::InitMode;
use glcan_core::models::{DenseNetBc, NetworkName, UnitId, UnitKind, UnitNetwork, Vgg, WideResNet};
use glcan_core::split::{self, SplitStrategy};
use glcan_core::train::{Classification, LocalNetwork, TrainConfig};
use tch::nn;
use tch::{Device, Kind, Tensor};

/// Trainable parameters of `network` built whole (units and head).
fn parameters(network: &dyn UnitNetwork) -> i64 {
    let vs = nn::VarStore::new(Device::Cpu);
    let _model = glcan_core::models::Chain::build(network, vs.root(), InitMode::Reference);
    vs.trainable_variables().iter().map(Tensor::numel).sum::<usize>() as i64
}

/// Runs a random batch through the units one by one, checking each output against its spec
/// (channels, and the side `resolution_after` gives), then the head's logits.
fn forward_by_units(network: &dyn UnitNetwork, batch: i64) {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let units: Vec<_> = network
        .units()
        .iter()
        .enumerate()
        .map(|(i, spec)| network.build_unit(vs.root() / "units" / i, spec, InitMode::Reference))
        .collect();
    let head = network.build_head(vs.root() / "head", InitMode::Reference);
    let (channels, size) = (network.units()[0].in_channels, network.input_size());
    let mut h = Tensor::randn([batch, channels, size, size], (Kind::Float, Device::Cpu));
    for (position, (unit, spec)) in units.iter().zip(network.units()).enumerate() {
        h = unit.forward_t(&h, true);
        let side = network.resolution_after(position);
        assert_eq!(h.size(), [batch, spec.out_channels, side, side], "{} unit {}", network.name(), spec.id);
    }
    let logits = head.forward_t(&h, true);
    assert_eq!(logits.size(), [batch, network.num_classes()], "{}", network.name());
    assert!(bool::try_from(logits.isfinite().all()).unwrap(), "{}", network.name());
}

/// Each unit reads what the previous one writes.
fn assert_chained(network: &dyn UnitNetwork) {
    for pair in network.units().windows(2) {
        assert_eq!(pair[1].in_channels, pair[0].out_channels, "{} unit {}", network.name(), pair[1].id);
    }
}

#[test]
fn densenet_bc_100_units_widths_and_parameters() {
    let net = DenseNetBc::new(3, 10, 32).unwrap();
    assert_chained(&net);
    let units = net.units();
    assert_eq!(units.len(), 1 + 16 + 17 + 17);
    assert_eq!(units.iter().filter(|u| u.kind == UnitKind::DenseLayer).count(), 48);
    let transitions: Vec<(UnitId, i64, i64)> =
        units.iter().filter(|u| u.kind == UnitKind::DenseTransition).map(|u| (u.id, u.in_channels, u.out_channels)).collect();
    assert_eq!(transitions, [(UnitId::new(2, 0), 216, 108), (UnitId::new(3, 0), 300, 150)]);
    assert_eq!(units.last().unwrap().out_channels, 342);
    assert_eq!(net.resolution_after(units.len() - 1), 8);
    // Huang et al. report 0.8 M; exactly 769,162 at 10 classes (the count every CIFAR
    // reimplementation of DenseNet-BC-100-12 prints).
    assert_eq!(parameters(&net), 769_162);
    forward_by_units(&net, 2);
}

#[test]
fn vgg13_and_vgg19_units_and_torchvision_parameter_counts() {
    for (depth, units, torchvision) in [(13, 10, 133_053_736), (19, 16, 143_678_248)] {
        let net = Vgg::new(depth, 3, 1000, 224).unwrap();
        assert_chained(&net);
        assert_eq!(net.units().len(), units);
        assert_eq!(net.units()[0].id, UnitId::new(0, 0));
        // Pooled units open stages 2 to 5: strides 2 there, 224 / 16 = 14 px at the end.
        let pooled: Vec<UnitId> = net.units().iter().filter(|u| u.stride == 2).map(|u| u.id).collect();
        assert_eq!(pooled, (2..=5).map(|s| UnitId::new(s, 0)).collect::<Vec<_>>());
        assert_eq!(net.resolution_after(units - 1), 14);
        // torchvision's vgg13_bn / vgg19_bn (its documented num_params).
        assert_eq!(parameters(&net), torchvision, "vgg{depth}");
    }
    assert!(Vgg::new(16, 3, 10, 224).unwrap_err().to_string().contains("13 or 19"));
}

#[test]
fn vgg_forward_at_every_cut() {
    // 64 px keeps the test quick; the classifier's adaptive pool still gives 7x7.
    forward_by_units(&Vgg::new(13, 3, 10, 64).unwrap(), 2);
    forward_by_units(&Vgg::new(19, 3, 10, 64).unwrap(), 2);
    // An odd side: the pools round up, as the bookkeeping does.
    forward_by_units(&Vgg::new(13, 1, 10, 28).unwrap(), 1);
}

#[test]
fn wrn_28_10_units_widths_and_parameters() {
    let net = WideResNet::new(28, 10, 3, 10, 32).unwrap();
    assert_eq!(net.name(), "wrn-28-10");
    assert_chained(&net);
    let widths: Vec<i64> = net.units().iter().map(|u| u.out_channels).collect();
    assert_eq!(widths, [16, 160, 160, 160, 160, 320, 320, 320, 320, 640, 640, 640, 640]);
    assert_eq!(net.units()[5].id, UnitId::new(2, 0));
    assert_eq!(net.units()[5].stride, 2);
    // Zagoruyko & Komodakis report 36.5 M (36,479,194 at 10 classes).
    assert_eq!(parameters(&net), 36_479_194);
    forward_by_units(&net, 1);
    assert!(WideResNet::new(27, 10, 3, 10, 32).is_err());
    assert!(net.clone().with_dropout(1.0).is_err());
}

#[test]
fn wrn_dropout_acts_in_training_only() {
    tch::manual_seed(0);
    let net = WideResNet::new(10, 1, 3, 10, 8).unwrap().with_dropout(0.5).unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let block = net.build_unit(vs.root(), &net.units()[2], InitMode::Reference); // 16 -> 16, identity shortcut
    let xs = Tensor::randn([2, 16, 8, 8], (Kind::Float, Device::Cpu));
    let same = |a: Tensor, b: Tensor| bool::try_from(a.eq_tensor(&b).all()).unwrap();
    assert!(same(block.forward_t(&xs, false), block.forward_t(&xs, false)), "evaluation is deterministic");
    assert!(!same(block.forward_t(&xs, true), block.forward_t(&xs, true)), "dropout draws masks");
}

#[test]
fn the_names_build_these_networks() {
    for (name, units) in [("densenet-bc-100", 51), ("vgg13", 10), ("vgg19", 16), ("wrn-28-10", 13)] {
        let net = name.parse::<NetworkName>().unwrap().build(3, 10, 32).unwrap();
        assert_eq!((net.name(), net.units().len()), (name.to_owned(), units));
    }
}

/// One training step of every local method at K = 4 (InfoPro published no split for these
/// networks: an even split), with a batch of `batch` images of the network's input size.
fn step_every_method(network: &dyn UnitNetwork, batch: i64) {
    let split = split::split(network, 4, &SplitStrategy::Published).unwrap();
    assert_eq!(split, split::split(network, 4, &SplitStrategy::Even).unwrap(), "{}: no published points", network.name());
    let (channels, size) = (network.units()[0].in_channels, network.input_size());
    let images = Tensor::randn([batch, channels, size, size], (Kind::Float, Device::Cpu));
    let raw = Tensor::rand([batch, channels, size, size], (Kind::Float, Device::Cpu));
    let labels = Tensor::from_slice(&[0i64, 1, 2, 1][..batch as usize]);
    for method in [Method::GreedySl, Method::Dgl, Method::InfoproSoftmax, Method::InfoproContrast, Method::Glcan] {
        tch::manual_seed(0);
        let config = TrainConfig::new(method, 4, 1, batch as usize, 0.01);
        let mut net = LocalNetwork::build(network, &Classification, &config, channels, size, Device::Cpu)
            .unwrap_or_else(|e| panic!("{} {method}: {e}", network.name()));
        let losses = net
            .train_step(&images, &LocalTargets { images: &images, raw_images: &raw, target: &labels }, 0.01)
            .unwrap_or_else(|e| panic!("{} {method}: {e:?}", network.name()));
        assert_eq!(losses.len(), 4);
        assert!(losses.iter().all(|l| l.is_finite()), "{} {method}: {losses:?}", network.name());
    }
}

#[test]
fn aux_nets_attach_at_densenet_cuts() {
    // Even K = 4 cuts after units 12, 25 and 38: the last inside block 3, where GLCAN's
    // global branch is a narrowed copy of the next dense layer.
    let net = DenseNetBc::new(3, 10, 32).unwrap();
    let cut = split::split(&net, 4, &SplitStrategy::Even).unwrap().points(&net);
    assert_eq!(cut, [UnitId::new(1, 11), UnitId::new(2, 8), UnitId::new(3, 4)]);
    step_every_method(&net, 2);
}

#[test]
fn aux_nets_attach_at_vgg_and_wrn_cuts() {
    step_every_method(&Vgg::new(13, 3, 10, 32).unwrap(), 2);
    // WRN-16-2: the same block kinds as WRN-28-10 at a cost two CPU cores bear per method.
    step_every_method(&WideResNet::new(16, 2, 3, 10, 32).unwrap(), 2);
}
