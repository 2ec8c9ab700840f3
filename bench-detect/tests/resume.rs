//! A detection run with the presets' GLCAN recipe (EMA global branch, top-down fusion,
//! Adam, warm-up) stopped after epoch 1 and resumed ends exactly where an uninterrupted run
//! does: every epoch's figures and every tensor of the final checkpoint, bit for bit.

use std::path::Path;

use bench_detect::grid::{Detect, Point, RunParts};
use glcan_core::aux::Method;
use glcan_core::train::{train_local, EpochMetrics, Progress, TrainOutcome};
use glcan_core::Error;
use glcan_runner::{Grid, Run, Suite};
use tch::Device;

const PRESET: &str = r#"
preset = "test"
dataset = "digits"
network = "resnet10-w8"
methods = ["glcan"]
ks = [2]
seeds = [0]
epochs = 2
batch_size = 8
lr = 0.003
image_size = 64
[digits]
train = 24
test = 8
canvas = 64
max_digits = 2
[detector]
fpn_width = 16
head_convs = 1
anchor_scale = 2.0
[aux.glcan]
fusion = "top-down"
global_init = "ema"
global_width = 1.0
ema_momentum = 0.9
[optimizer]
kind = "adam"
beta1 = 0.9
beta2 = 0.999
eps = 1e-8
weight_decay = 0.0
[schedule]
kind = "cosine"
warmup_epochs = 0.2
"#;

/// Stops the run after its first epoch.
struct StopAfterFirst;

impl Progress for StopAfterFirst {
    fn keep_going(&mut self) -> bool {
        false
    }
}

fn checkpoint(dir: &Path) -> Vec<(String, tch::Tensor)> {
    tch::Tensor::load_multi(dir.join("checkpoint.ot")).unwrap()
}

#[test]
fn a_stopped_glcan_ema_detection_run_resumes_bit_for_bit() {
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let mnist = glcan_core::paths::data_root().join("mnist");
    assert!(mnist.exists(), "this test reads real MNIST from {} (run `make data`)", mnist.display());
    std::os::unix::fs::symlink(std::fs::canonicalize(&mnist).unwrap(), data_dir.join("mnist")).unwrap();
    let preset = dir.path().join("p.toml");
    std::fs::write(&preset, PRESET).unwrap();
    let grid = Grid::load::<Detect>(&preset, &[]).unwrap();
    let run = Run { point: Point {}, method: Method::Glcan, k: 2, seed: 0 };
    let config = grid.train_config::<Detect>(&run, Detect::network(&grid.suite, &run.point).unwrap().as_ref()).unwrap();
    let RunParts { network, task, data } = RunParts::new(&grid, &data_dir, run.seed, config.eval_batch_size).unwrap();
    let network = network.as_ref();
    let train = |run_dir: &Path, resume: bool, progress: &mut dyn Progress| {
        train_local(network, &task, &data, &config, Device::Cpu, Some(run_dir), resume, progress)
    };

    let (straight_dir, stopped_dir) = (dir.path().join("straight"), dir.path().join("stopped"));
    let straight = train(&straight_dir, false, &mut ()).unwrap();
    let stopped = train(&stopped_dir, false, &mut StopAfterFirst);
    assert!(matches!(stopped, Err(Error::Stopped { epoch: 1 })), "{stopped:?}");
    let resumed = train(&stopped_dir, true, &mut ()).unwrap();

    let figures = |o: &TrainOutcome| {
        o.epochs.iter().map(|e: &EpochMetrics| (e.lr, e.module_losses.clone(), e.test_metric, e.test_loss)).collect::<Vec<_>>()
    };
    assert_eq!(figures(&resumed), figures(&straight));
    let (a, b) = (checkpoint(&straight_dir), checkpoint(&stopped_dir));
    assert!(a.iter().any(|(name, _)| name.starts_with("m0/aux-state/ema-global.")), "the EMA global branch is in the checkpoint");
    assert_eq!(a.len(), b.len());
    for ((name_a, ta), (name_b, tb)) in a.iter().zip(&b) {
        assert_eq!(name_a, name_b);
        assert!(ta.equal(tb), "{name_a} differs after resume");
    }
}
