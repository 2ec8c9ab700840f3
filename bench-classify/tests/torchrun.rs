//! `bench-classify train` launched by torchrun (the venv's, from the torch wheel) on a tiny
//! real subset. Pipelined: one module per rank over c10d; the last rank writes the run, and
//! it is the run one process makes with the threaded pipelined schedule, bit for bit.
//! Sequential: the ranks are data-parallel replicas.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tch::Tensor;

const TRAIN: [&str; 20] = [
    "train",
    "--dataset",
    "fashion-mnist",
    "--train-subset",
    "256",
    "--test-subset",
    "128",
    "--net",
    "resnet8",
    "--epochs",
    "2",
    "--batch-size",
    "64",
    "--lr",
    "0.05",
    "--schedule",
    "pipelined",
    "--worker-threads",
    "1",
    "--seed=3",
];

fn torchrun() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/torchrun");
    assert!(path.exists(), "{} is missing: run `make setup`", path.display());
    path
}

fn check(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn same_run(method: &str, k: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (ranked, single) = (dir.path().join("ranks"), dir.path().join("one"));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let method_args = ["--method".to_string(), method.to_string(), "--k".to_string(), k.to_string()];
    let output = Command::new(torchrun())
        .args(["--nproc-per-node", &k.to_string(), "--master-port", &port.to_string(), "--no-python"])
        .arg(env!("CARGO_BIN_EXE_bench-classify"))
        .args(TRAIN)
        .args(&method_args)
        .arg("--run-dir")
        .arg(&ranked)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap();
    check(&output, &format!("torchrun {method} K={k}"));
    let output = Command::new(env!("CARGO_BIN_EXE_bench-classify"))
        .args(TRAIN)
        .args(&method_args)
        .arg("--run-dir")
        .arg(&single)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap();
    check(&output, &format!("one process {method} K={k}"));

    let columns = |dir: &Path| -> Vec<String> {
        // epoch, lr, module losses, test metric, test loss: the figures, not the timings.
        let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        text.lines().map(|l| l.split(',').take(5).collect::<Vec<_>>().join(",")).collect()
    };
    assert_eq!(columns(&ranked), columns(&single), "{method} K={k}: the epochs' figures");
    let (a, b) = (Tensor::load_multi(ranked.join("checkpoint.ot")).unwrap(), Tensor::load_multi(single.join("checkpoint.ot")).unwrap());
    assert_eq!(a.len(), b.len());
    for ((name, x), (other, y)) in a.iter().zip(&b) {
        assert_eq!(name, other);
        assert!(x.equal(y), "{method} K={k}: {name} differs between ranks and one process");
    }
}

#[test]
fn torchrun_ranks_train_the_run_one_process_trains() {
    same_run("dgl", 2);
    same_run("glcan", 2);
}

/// With the sequential schedule the ranks are data-parallel replicas: the last one writes
/// the run; a batch that does not split evenly over them is refused.
#[test]
fn ranks_with_the_sequential_schedule_are_replicas() {
    let launch = |batch_size: &str, run_dir: &Path| {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // The run without `--schedule pipelined --worker-threads 1`.
        let mut args: Vec<&str> = TRAIN[..15].to_vec();
        args[12] = batch_size;
        Command::new(torchrun())
            .args(["--nproc-per-node", "2", "--master-port", &port.to_string(), "--no-python"])
            .arg(env!("CARGO_BIN_EXE_bench-classify"))
            .args(args)
            .args(["--method", "dgl", "--k", "2", "--run-dir"])
            .arg(run_dir)
            .env("OMP_NUM_THREADS", "1")
            .output()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let output = launch("64", &dir.path().join("replicas"));
    check(&output, "two replicas");
    let metrics = std::fs::read_to_string(dir.path().join("replicas/metrics.csv")).unwrap();
    let last = metrics.lines().last().unwrap().split(',').collect::<Vec<_>>();
    assert_eq!(last[0], "2", "two epochs: {metrics}");
    assert!(last[3].parse::<f64>().unwrap().is_finite(), "the last rank evaluated: {metrics}");
    assert!(dir.path().join("replicas/checkpoint.ot").exists());

    let output = launch("63", &dir.path().join("odd"));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("does not split evenly over 2 replicas"), "{stderr}");
}

/// `measure --schedule pipelined` under torchrun times one module per rank; each rank
/// reports its own module's busy fraction, and the last rank's images/s is the pipeline's.
#[test]
fn torchrun_measures_the_pipeline_across_ranks() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let output = Command::new(torchrun())
        .args(["--nproc-per-node", "2", "--master-port", &port.to_string(), "--no-python"])
        .arg(env!("CARGO_BIN_EXE_bench-classify"))
        .args(["measure", "--net", "resnet8", "--batch-size", "16", "--method", "dgl", "--k", "2"])
        .args(["--schedule", "pipelined", "--warmup", "1", "--steps", "3"])
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap();
    check(&output, "measure across ranks");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut ranks: Vec<serde_json::Value> = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    ranks.sort_by_key(|m| m["rank"].as_u64());
    assert_eq!(ranks.len(), 2, "{stdout}");
    for (r, m) in ranks.iter().enumerate() {
        assert_eq!(m["rank"], r, "{m}");
        let busy = m["module_busy_fraction"].as_array().unwrap();
        let own = busy[r].as_f64().unwrap();
        assert!(own > 0.0 && own <= 1.0, "{m}");
        assert!(busy[1 - r].is_null(), "another rank's module is not timed here: {m}");
        assert!(m["images_per_s"].as_f64().unwrap() > 0.0, "{m}");
    }
}
