//! The `bench-classify` binary end to end: its JSON output, its run directory, its errors.

use std::process::Command;

fn bench_classify(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bench-classify")).args(args).output().expect("the binary runs")
}

#[test]
fn measure_prints_one_json_object_with_a_measured_peak() {
    let out = bench_classify(&[
        "measure",
        "--net",
        "resnet8",
        "--method",
        "dgl",
        "--k",
        "2",
        "--batch-size",
        "8",
        "--steps",
        "1",
        "--warmup",
        "1",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["k"], 2);
    assert_eq!(json["split_points"].as_array().unwrap().len(), 1);
    // The activations of 8 images of 16 x 32 x 32 floats alone exceed 0.5 MB.
    assert!(json["peak_bytes"].as_u64().unwrap() > 500_000, "{json}");
    assert!(json["images_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn memory_balanced_split_runs_from_the_command_line() {
    let out = bench_classify(&[
        "measure",
        "--net",
        "resnet20",
        "--method",
        "glcan",
        "--k",
        "3",
        "--split",
        "memory-balanced",
        "--batch-size",
        "4",
        "--steps",
        "1",
        "--warmup",
        "0",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["split_points"].as_array().unwrap().len(), 2);
}

#[test]
fn train_writes_a_run_directory_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let out = bench_classify(&[
        "train",
        "--dataset",
        "fashion-mnist",
        "--net",
        "resnet8",
        "--method",
        "glcan",
        "--k",
        "2",
        "--epochs",
        "1",
        "--train-subset",
        "256",
        "--test-subset",
        "128",
        "--batch-size",
        "32",
        "--lr",
        "0.05",
        "--run-dir",
        run_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["epoch"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("epoch 1/1"), "one progress line per epoch");
    for file in ["config.json", "metrics.csv", "checkpoint.ot"] {
        assert!(run_dir.join(file).exists(), "{file}");
    }
}

#[test]
fn bad_arguments_are_clear_errors() {
    for (args, expected) in [
        (vec!["measure", "--net", "resnet33"], "a CIFAR ResNet has 6m + 2 layers"),
        (vec!["measure", "--method", "glcan", "--k", "1"], "glcan needs K >= 2"),
        (vec!["measure", "--net", "resnet8", "--method", "dgl", "--k", "9"], "K = 9 local modules, but resnet8 has only 4 units"),
        (vec!["measure", "--method", "backprop"], "unknown method"),
        (vec!["measure", "--device", "cuda:7"], "CUDA device"),
        (vec!["train", "--dataset", "cifar10", "--data-dir", "/nonexistent"], "cifar-10-batches-bin"),
    ] {
        let out = bench_classify(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
