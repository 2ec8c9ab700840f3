//! The pipelined schedule across processes: K real processes, one module each, linked by
//! c10d over 127.0.0.1 as `torchrun` starts them (RANK, WORLD_SIZE, MASTER_ADDR,
//! MASTER_PORT), end with the weights and losses of the threaded pipeline (itself equal to
//! the sequential per-module schedule, `tests/pipeline.rs`), bit for bit at one intra-op
//! thread. Each test starts this test binary K times, running only the ignored `rank` test,
//! whose case GLCAN_RANKS_CASE names.

use std::time::Duration;

use glcan_core::aux::glcan::{GlcanConfig, GlobalInit};
use glcan_core::aux::Method;
use glcan_core::c10d::{ProcessGroup, Rendezvous};
use glcan_core::models::ResNetCifar;
use glcan_core::train::pipeline::{self, PipelineBatch};
use glcan_core::train::pipeline_ranks::run_rank;
use glcan_core::train::{Classification, LocalNetwork, ModuleSchedule, OptimizerScope, TrainConfig};
use tch::{Device, Kind, Tensor};

mod ranks;

const CASE: &str = "GLCAN_RANKS_CASE";
const OUT: &str = "GLCAN_RANKS_OUT";

fn config(method: Method, k: usize) -> TrainConfig {
    TrainConfig {
        seed: 7,
        optimizer_scope: OptimizerScope::PerModule,
        module_schedule: ModuleSchedule::Pipelined,
        worker_threads: Some(1),
        ..TrainConfig::new(method, k, 1, 32, 0.05)
    }
}

fn parse_case(case: &str) -> (Method, usize) {
    let (method, k) = case.rsplit_once('-').expect("method-k");
    (Method::from_name(method).expect("a method"), k.parse().expect("K"))
}

/// The network (ResNet-8, Fashion-MNIST-shaped), seeded, and six seeded batches of images
/// on the [0, 1] scale (InfoPro reconstructs them): the same in every process.
fn network_and_batches(method: Method, k: usize) -> (LocalNetwork, Vec<PipelineBatch>) {
    tch::set_num_threads(1);
    tch::manual_seed(0);
    let net =
        LocalNetwork::build(&ResNetCifar::new(8, 1, 10, 28).unwrap(), &Classification, &config(method, k), 1, 28, Device::Cpu).unwrap();
    tch::manual_seed(1);
    let batches = (0..6)
        .map(|_| {
            let images = Tensor::rand([32, 1, 28, 28], (Kind::Float, Device::Cpu));
            PipelineBatch {
                raw_images: images.shallow_clone(),
                images,
                target: Tensor::randint(10, [32], (Kind::Int64, Device::Cpu)),
                lr: 0.05,
            }
        })
        .collect();
    (net, batches)
}

#[test]
#[ignore = "one rank of the multi-process tests below, which start it"]
fn rank() {
    let (method, k) = parse_case(&std::env::var(CASE).expect("started by a multi-process test"));
    let out = std::path::PathBuf::from(std::env::var(OUT).unwrap());
    let rendezvous = Rendezvous::from_env(|name| std::env::var(name).ok(), Duration::from_secs(30)).unwrap().unwrap();
    let (mut net, batches) = network_and_batches(method, k);
    let group = ProcessGroup::connect(&rendezvous).unwrap();
    let mut losses = Vec::new();
    run_rank(&mut net, &group, 1, batches.into_iter().map(Ok), |_, l| {
        losses.extend_from_slice(l);
        Ok(())
    })
    .unwrap();
    let r = group.rank();
    net.modules()[r].store.save(out.join(format!("module{r}.ot"))).unwrap();
    Tensor::from_slice(&losses).save(out.join(format!("losses{r}.ot"))).unwrap();
}

/// Runs `case` on K processes and in one process (threads), and compares every module's
/// variables and the losses each rank saw.
fn assert_ranks_match_threads(case: &str) {
    let (method, k) = parse_case(case);
    let dir = tempfile::tempdir().unwrap();
    ranks::run_all(k, &[(CASE, case.to_owned()), (OUT, dir.path().display().to_string())], case);
    let (mut net, batches) = network_and_batches(method, k);
    let mut losses = Vec::new();
    pipeline::run(&mut net, 1, batches.into_iter().map(Ok), |_, l| {
        losses.push(l.to_vec());
        Ok(())
    })
    .unwrap();
    for (r, module) in net.modules().iter().enumerate() {
        let mut threaded: Vec<(String, Tensor)> = module.store.variables().into_iter().collect();
        threaded.sort_by(|a, b| a.0.cmp(&b.0));
        let mut ranked = Tensor::load_multi(dir.path().join(format!("module{r}.ot"))).unwrap();
        ranked.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(threaded.len(), ranked.len(), "{case} module {r}");
        for ((name, a), (other, b)) in threaded.iter().zip(&ranked) {
            assert_eq!(name, other, "{case} module {r}");
            assert!(a.equal(b), "{case}: module {r}'s {name} differs between processes and threads");
        }
        // Rank r saw the losses of modules 0..=r on every batch.
        let seen = Vec::<f64>::try_from(Tensor::load(dir.path().join(format!("losses{r}.ot"))).unwrap()).unwrap();
        let expected: Vec<f64> = losses.iter().flat_map(|l| l[..=r].to_vec()).collect();
        assert_eq!(seen, expected, "{case}: rank {r}'s losses");
    }
}

#[test]
fn two_ranks_end_with_the_threaded_pipelines_weights() {
    for case in ["dgl-2", "infopro-contrast-2", "glcan-2"] {
        assert_ranks_match_threads(case);
    }
}

#[test]
fn four_ranks_end_with_the_threaded_pipelines_weights() {
    assert_ranks_match_threads("glcan-4");
}

#[test]
fn a_group_of_the_wrong_size_and_followed_weights_are_refused() {
    let port = ranks::free_port();
    let alone = Rendezvous { host: "127.0.0.1".into(), port, rank: 0, world_size: 1, timeout: Duration::from_secs(5) };
    let group = ProcessGroup::connect(&alone).unwrap();
    let refusal = |config: &TrainConfig| {
        tch::manual_seed(0);
        let mut net = LocalNetwork::build(&ResNetCifar::new(8, 1, 10, 28).unwrap(), &Classification, config, 1, 28, Device::Cpu).unwrap();
        match run_rank(&mut net, &group, 1, std::iter::empty(), |_, _| Ok(())) {
            Err(pipeline::PipelineStop::Failed(e)) => e.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    };
    let message = refusal(&config(Method::Dgl, 2));
    assert!(message.contains("K = 2 modules need 2 ranks"), "{message}");
    let mut ema = config(Method::Glcan, 2);
    ema.aux.glcan = GlcanConfig { global_init: GlobalInit::Ema, global_width: 1.0, ..GlcanConfig::default() };
    let message = refusal(&ema);
    assert!(message.contains("aux.glcan.global_init") && message.contains("other processes"), "{message}");
}
