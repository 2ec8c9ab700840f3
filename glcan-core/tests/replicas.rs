//! Data-parallel replicas across real processes (c10d over 127.0.0.1, started as torchrun
//! would): two replicas, each on half of every batch, end with equal weights, and with the
//! weights of the one-process twin that sums the two halves' gradients before stepping,
//! bit for bit. Each test starts this test binary twice, running only the ignored `rank`
//! test, whose case GLCAN_REPLICAS_CASE names.

use std::time::Duration;

use glcan_core::aux::{LocalTargets, Method};
use glcan_core::c10d::{ProcessGroup, Rendezvous};
use glcan_core::models::ResNetCifar;
use glcan_core::train::replicas::{self, accumulated_step};
use glcan_core::train::{Classification, LocalNetwork, OptimizerScope, TrainConfig};
use tch::{Device, Kind, Tensor};

mod ranks;

const CASE: &str = "GLCAN_REPLICAS_CASE";
const OUT: &str = "GLCAN_REPLICAS_OUT";
const REPLICAS: usize = 2;

/// `method-k-scope`, e.g. `dgl-2-per-module`.
fn config(case: &str) -> TrainConfig {
    let (rest, scope) = case.rsplit_once('-').unwrap();
    let (rest, scope) = match scope {
        "module" => (rest.strip_suffix("-per").unwrap(), OptimizerScope::PerModule),
        "shared" => (rest, OptimizerScope::Shared),
        other => panic!("unknown scope {other}"),
    };
    let (method, k) = rest.rsplit_once('-').unwrap();
    TrainConfig { seed: 7, optimizer_scope: scope, ..TrainConfig::new(Method::from_name(method).unwrap(), k.parse().unwrap(), 1, 32, 0.05) }
}

/// The network, seeded, and four seeded batches of 32: the same in every process.
fn network_and_batches(case: &str) -> (LocalNetwork, Vec<(Tensor, Tensor)>) {
    tch::set_num_threads(1);
    tch::manual_seed(0);
    let net = LocalNetwork::build(&ResNetCifar::new(8, 1, 10, 28).unwrap(), &Classification, &config(case), 1, 28, Device::Cpu).unwrap();
    tch::manual_seed(1);
    let batches = (0..4)
        .map(|_| (Tensor::rand([32, 1, 28, 28], (Kind::Float, Device::Cpu)), Tensor::randint(10, [32], (Kind::Int64, Device::Cpu))))
        .collect();
    (net, batches)
}

/// Every trainable variable as `m{k}/{name}`, sorted.
fn trainable(net: &LocalNetwork) -> Vec<(String, Tensor)> {
    let mut out: Vec<(String, Tensor)> = net
        .modules()
        .iter()
        .enumerate()
        .flat_map(|(k, m)| m.store.variables().into_iter().filter(|(_, t)| t.requires_grad()).map(move |(n, t)| (format!("m{k}/{n}"), t)))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
#[ignore = "one replica of the multi-process tests below, which start it"]
fn rank() {
    let case = std::env::var(CASE).expect("started by a multi-process test");
    let out = std::path::PathBuf::from(std::env::var(OUT).unwrap());
    let rendezvous = Rendezvous::from_env(|name| std::env::var(name).ok(), Duration::from_secs(30)).unwrap().unwrap();
    let (mut net, batches) = network_and_batches(&case);
    let group = ProcessGroup::connect(&rendezvous).unwrap();
    for (images, labels) in &batches {
        let images = replicas::share(images, group.rank(), REPLICAS).unwrap();
        let labels = replicas::share(labels, group.rank(), REPLICAS).unwrap();
        let targets = LocalTargets { images: &images, raw_images: &images, target: &labels };
        replicas::train_step(&mut net, &group, &images, &targets, 0.05).unwrap().unwrap();
    }
    Tensor::save_multi(&trainable(&net), out.join(format!("replica{}.ot", group.rank()))).unwrap();
}

fn assert_replicas_match_the_twin(case: &str) {
    let dir = tempfile::tempdir().unwrap();
    ranks::run_all(REPLICAS, &[(CASE, case.to_owned()), (OUT, dir.path().display().to_string())], case);
    let (mut net, batches) = network_and_batches(case);
    for (images, labels) in &batches {
        let halves: Vec<(Tensor, Tensor)> =
            (0..REPLICAS).map(|r| (replicas::share(images, r, REPLICAS).unwrap(), replicas::share(labels, r, REPLICAS).unwrap())).collect();
        let shares: Vec<(Tensor, LocalTargets)> =
            halves.iter().map(|(i, l)| (i.shallow_clone(), LocalTargets { images: i, raw_images: i, target: l })).collect();
        accumulated_step(&mut net, &shares, 0.05).unwrap();
    }
    let twin = trainable(&net);
    for r in 0..REPLICAS {
        let replica = Tensor::load_multi(dir.path().join(format!("replica{r}.ot"))).unwrap();
        assert_eq!(replica.len(), twin.len(), "{case}");
        for ((name, a), (other, b)) in twin.iter().zip(&replica) {
            assert_eq!(name, other, "{case}");
            assert!(a.equal(b), "{case}: replica {r}'s {name} differs from the one-process twin");
        }
    }
}

#[test]
fn two_replicas_end_with_the_weights_of_the_summed_halves() {
    for case in ["dgl-2-per-module", "glcan-2-shared", "e2e-1-shared"] {
        assert_replicas_match_the_twin(case);
    }
}

#[test]
fn a_batch_that_does_not_split_evenly_is_refused() {
    let message = replicas::share(&Tensor::zeros([5, 3], (Kind::Float, Device::Cpu)), 0, 2).unwrap_err().to_string();
    assert!(message.contains("batch_size") && message.contains("5"), "{message}");
}
