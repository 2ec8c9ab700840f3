//! Exact byte counts of the counting CPU allocator (`glcan_core::memory`).
//!
//! This file is a test binary of its own, so no other test allocates tensors in this
//! process; the tests here share the process-wide counters and take turns through `LOCK`.

use std::sync::{Mutex, MutexGuard};

use glcan_core::memory::{
    counting_allocator_installed, cpu_current_bytes, cpu_peak_bytes, install_counting_allocator, peak_rss_bytes, reset_cpu_peak, PeakMeter,
};
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};

static LOCK: Mutex<()> = Mutex::new(());

const F32: u64 = 4;

/// Takes the turn and makes sure the allocator is installed. The first caller also checks
/// that a tensor made before installation is freed by its own deleter, uncounted.
fn counting() -> MutexGuard<'static, ()> {
    let guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !counting_allocator_installed() {
        let early = Tensor::ones([1000], (Kind::Float, Device::Cpu));
        install_counting_allocator().unwrap();
        let installed = cpu_current_bytes();
        drop(early);
        assert_eq!(cpu_current_bytes(), installed, "a block from the default allocator was counted");
    }
    guard
}

fn floats(n: i64) -> Tensor {
    Tensor::zeros([n], (Kind::Float, Device::Cpu))
}

#[test]
fn a_million_floats_count_exactly_four_million_bytes() {
    let _turn = counting();
    let before = cpu_current_bytes();
    let t = floats(1_000_000);
    assert_eq!(cpu_current_bytes(), before + 4_000_000);
    drop(t);
    assert_eq!(cpu_current_bytes(), before);
}

#[test]
fn empty_tensors_count_nothing() {
    let _turn = counting();
    let before = cpu_current_bytes();
    let t = Tensor::zeros([0, 7], (Kind::Float, Device::Cpu));
    assert_eq!(cpu_current_bytes(), before);
    drop(t);
    assert_eq!(cpu_current_bytes(), before);
}

#[test]
fn peak_meter_sees_the_hand_computed_peak() {
    let _turn = counting();
    let meter = PeakMeter::start(Device::Cpu).unwrap();
    let start = cpu_current_bytes();
    let a = floats(1000); // start + 4,000
    let b = floats(2000); // start + 12,000
    drop(a); // start + 8,000
    let c = floats(6000); // start + 32,000: the peak (36,000 if A's free were missed)
    let peak = meter.peak().unwrap();
    assert_eq!(peak.device, "cpu");
    assert_eq!(peak.tensor_start_bytes, start);
    assert_eq!(peak.tensor_peak_bytes, start + (2000 + 6000) * F32);
    assert_eq!(peak.tensor_peak_above_start_bytes(), 32_000);
    assert!(peak.rss_peak_bytes.is_some_and(|rss| rss > 0), "{peak:?}");
    drop((b, c));
    assert_eq!(cpu_current_bytes(), start);
}

#[test]
fn reset_starts_a_new_peak_at_the_current_bytes() {
    let _turn = counting();
    let kept = floats(500);
    drop(floats(100_000));
    assert!(cpu_peak_bytes() >= cpu_current_bytes() + 400_000);
    reset_cpu_peak();
    assert_eq!(cpu_peak_bytes(), cpu_current_bytes());
    let small = floats(10);
    assert_eq!(cpu_peak_bytes(), cpu_current_bytes());
    drop((kept, small));
}

#[test]
fn concurrent_allocations_balance_out() {
    let _turn = counting();
    let before = cpu_current_bytes();
    let workers: Vec<_> = (0..4i64)
        .map(|w| {
            std::thread::spawn(move || {
                for i in 0..200 {
                    let t = floats(1 + (w * 997 + i * 31) % 5000);
                    let u = &t + 1.0;
                    drop(t);
                    drop(u);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(cpu_current_bytes(), before);
}

/// A conv forward + backward + SGD step: oneDNN convolutions take their buffers through
/// `Allocator::raw_allocate`, which the allocator must satisfy (data pointer == context).
#[test]
fn conv_step_peak_covers_the_tensors_known_alive() {
    let _turn = counting();
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let conv = nn::conv2d(vs.root() / "conv", 3, 16, 3, nn::ConvConfig { padding: 1, ..Default::default() });
    let mut opt = nn::Sgd { momentum: 0.9, ..Default::default() }.build(&vs, 0.1).unwrap();
    let input = Tensor::randn([8, 3, 32, 32], (Kind::Float, Device::Cpu));

    let meter = PeakMeter::start(Device::Cpu).unwrap();
    let output = conv.forward_t(&input, true);
    let loss = output.relu().mean(Kind::Float);
    opt.backward_step(&loss);
    let peak = meter.peak().unwrap();

    // Alive together at the peak: the input, the conv output (kept for backward) and the
    // weights with their gradients.
    let weights = (16 * 3 * 3 * 3 + 16) * F32;
    let known = (8 * 3 * 32 * 32 + 8 * 16 * 32 * 32) * F32 + 2 * weights;
    eprintln!("conv step: {peak}; {} bytes; known alive {known} bytes", peak.tensor_peak_bytes);
    assert!(peak.tensor_peak_bytes >= known, "{peak:?} < {known}");
    assert!(loss.double_value(&[]).is_finite());
}

#[test]
fn process_peak_rss_is_positive() {
    let _turn = counting();
    assert!(peak_rss_bytes().unwrap() > 0);
}

#[test]
fn unit_costs_shrink_with_resolution_and_balance_the_split() {
    let _turn = counting();
    let network = glcan_core::models::ResNetCifar::new(20, 3, 10, 32).unwrap();
    let costs = glcan_core::unit_costs::activation_bytes(&network, 8, 3, Device::Cpu, glcan_core::models::InitMode::Reference).unwrap();
    assert_eq!(costs.len(), 10);
    // A stage-1 block at 16 x 32 x 32 saves far more than a stage-3 block at 64 x 8 x 8.
    assert!(costs[2] > costs[9], "{costs:?}");
    // Its output alone is 8 x 16 x 32 x 32 floats.
    assert!(costs[2] >= 8 * 16 * 32 * 32 * 4, "{costs:?}");
    let (split, _) = glcan_core::split::balanced_split(&network, 2, &costs, &[0; 10]).unwrap();
    let module_cost = |r: &std::ops::Range<usize>| costs[r.clone()].iter().sum::<u64>();
    let even = glcan_core::split::split(&network, 2, &glcan_core::split::SplitStrategy::Even).unwrap();
    let worst = |s: &glcan_core::split::ModuleSplit| s.modules.iter().map(module_cost).max().unwrap();
    assert!(worst(&split) <= worst(&even));
    assert!(split.modules[0].len() < 5, "heavy early units go into a shorter first module: {:?}", split.modules);
}

#[test]
fn installation_is_idempotent() {
    let _turn = counting();
    install_counting_allocator().unwrap();
    assert!(counting_allocator_installed());
}

#[test]
fn module_memory_counts_each_cuts_aux_net_and_the_head() {
    use glcan_core::aux::{AuxConfig, Method};
    let _turn = counting();
    let network = glcan_core::models::ResNetCifar::new(20, 3, 10, 32).unwrap();
    let task = glcan_core::train::Classification;
    let (units, ends) = glcan_core::unit_costs::module_memory_bytes(
        &network,
        &task,
        Method::Dgl,
        &AuxConfig::default(),
        2,
        8,
        3,
        Device::Cpu,
        glcan_core::models::InitMode::Reference,
    )
    .unwrap();
    // The unit figures are those of the activation-only measurement.
    assert_eq!(
        units,
        glcan_core::unit_costs::activation_bytes(&network, 8, 3, Device::Cpu, glcan_core::models::InitMode::Reference).unwrap()
    );
    eprintln!("units {units:?}\nends {ends:?}");
    assert_eq!(ends.len(), 10);
    assert!(ends.iter().all(|&b| b > 0), "every cut's aux net and the head hold memory: {ends:?}");
    // DGL's aux net pools to a fixed size first, then its layers widen with the stage.
    assert!(ends[1] < ends[5] && ends[5] < ends[8], "{ends:?}");
    // The same kind of cut (stage, channels, resolution) costs the same.
    assert_eq!(ends[1], ends[3]);
    let (with_aux, costs) = glcan_core::split::balanced_split(&network, 2, &units, &ends).unwrap();
    let (without, _) = glcan_core::split::balanced_split(&network, 2, &units, &[0; 10]).unwrap();
    eprintln!("with aux nets {:?}, without {:?}, costs {costs:?}", with_aux.modules, without.modules);
    let cost = |end: usize| {
        let first = units[..=end].iter().sum::<u64>() + ends[end];
        first.max(units[end + 1..].iter().sum::<u64>() + ends[9])
    };
    let best = (0..9).map(cost).min().unwrap();
    assert_eq!(*costs.iter().max().unwrap(), best, "the search finds the cheapest cut");
}
