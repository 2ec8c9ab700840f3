//! `bench-sr grid` end to end on real photos of the pool (`make data` fetches them; the test
//! fails rather than skips without them): a tiny EDSR trained for a few steps with E2E, the
//! plain local baseline and GLCAN, the bicubic row, the crops, re-invocation, and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use glcan_core::paths::data_root;
use glcan_store::{read_rows, RunStatus};

fn bench_sr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bench-sr")).args(args).output().expect("the binary runs")
}

/// A data folder whose `sr-pool/` holds two training photos and one test photo of the real pool.
fn small_pool(dir: &Path) -> PathBuf {
    let pool = data_root().join("sr-pool");
    assert!(pool.is_dir(), "{} is missing: run `make data` first", pool.display());
    let data = dir.join("data");
    let small = data.join("sr-pool");
    std::fs::create_dir_all(&small).unwrap();
    for name in ["skimage-camera.png", "skimage-coffee.png", "skimage-rocket.jpg"] {
        std::fs::copy(pool.join(name), small.join(name)).unwrap();
    }
    std::fs::write(small.join("train.txt"), "skimage-camera.png\nskimage-coffee.png\n").unwrap();
    std::fs::write(small.join("test.txt"), "skimage-rocket.jpg\n").unwrap();
    data
}

const PRESET: &str = r#"preset = "tiny"
train = "sr-pool"
tests = ["sr-pool"]
scales = [2]
input_skip = "bicubic"
methods = ["e2e", "dgl", "glcan"]
ks = [2]
seeds = [0]
epochs = 1
steps_per_epoch = 3
batch_size = 2
lr_patch = 12
lr = 0.0005
crop_images = 1
crop_size = 32
[edsr]
n_resblocks = 2
n_feats = 8
"#;

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_tiny_grid_trains_every_method_and_records_rows_and_crops() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_pool(dir.path());
    let preset = dir.path().join("tiny.toml");
    std::fs::write(&preset, PRESET).unwrap();
    let out = dir.path().join("out");
    let run = || bench_sr(&["grid", "--config", arg(&preset), "--out", arg(&out), "--data-dir", arg(&data)]);
    let first = run();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(stderr.contains("4 runs done (0 failed)"), "{stderr}");

    let rows = read_rows(&out.join("results.csv")).unwrap();
    let methods: Vec<(&str, usize)> = rows.iter().map(|r| (r.method.as_str(), r.k)).collect();
    assert_eq!(methods, [("bicubic", 1), ("e2e", 1), ("dgl", 2), ("glcan", 2)]);
    let bicubic = &rows[0];
    for row in &rows {
        assert_eq!(
            (row.suite.as_str(), row.dataset.as_str(), row.network.as_str(), row.status),
            ("sr", "sr-pool", "edsr-2b8f-x2", RunStatus::Ok),
            "{row:?}"
        );
        assert_eq!(row.test_images, 1);
        let (psnr, ssim) = (row.psnr_y.unwrap(), row.ssim_y.unwrap());
        assert!(psnr.is_finite() && psnr > 15.0 && (0.0..=1.0).contains(&ssim), "{row:?}");
        assert!(row.test_accuracy.is_none());
        assert!(out.join(&row.run_dir).join("crops/skimage-rocket.png").is_file(), "{}", row.run_dir);
    }
    assert!(out.join(&bicubic.run_dir).join("hr/skimage-rocket.png").is_file());
    // Bicubic up-scaling of this photo, as `bench-sr bicubic` scores it.
    let pool = data.join("sr-pool");
    let single = bench_sr(&["bicubic", "--hr-dir", arg(&pool), "--list", arg(&pool.join("test.txt")), "--scale", "2"]);
    let summary: serde_json::Value = serde_json::from_str(String::from_utf8(single.stdout).unwrap().lines().last().unwrap()).unwrap();
    assert!((summary["psnr_y"].as_f64().unwrap() - bicubic.psnr_y.unwrap()).abs() < 1e-9);
    assert_eq!((bicubic.step_peak_bytes, bicubic.train_images), (0, 0));
    for row in &rows[1..] {
        assert_eq!((row.train_images, row.epochs, row.batch_size), (2, 1, 2));
        assert!(row.step_peak_bytes > 0 && row.images_per_s > 0.0 && row.network_parameters > 0, "{row:?}");
        let metrics = std::fs::read_to_string(out.join(&row.run_dir).join("metrics.csv")).unwrap();
        assert_eq!(metrics.lines().count(), 2, "a header and one epoch");
        let preset: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join(&row.run_dir).join("preset.json")).unwrap()).unwrap();
        assert_eq!((preset["edsr"]["n_feats"].as_i64(), preset["input_skip"].as_str()), (Some(8), Some("bicubic")));
    }

    // A second invocation finds everything done.
    let second = run();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success() && stderr.contains("0 runs done (0 failed), 4 already complete"), "{stderr}");
    assert_eq!(read_rows(&out.join("results.csv")).unwrap().len(), 4);
}

#[test]
fn bad_presets_and_data_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_pool(dir.path());
    let preset = dir.path().join("p.toml");
    let out = dir.path().join("out");
    let cases: Vec<(String, Option<&str>, Vec<&str>)> = vec![
        (PRESET.replace("scales = [2]", "scales = [5]"), None, vec!["p.toml", "edsr.scale"]),
        (PRESET.to_owned(), Some("train.txt"), vec!["train.txt"]),
        (PRESET.replace("lr_patch = 12", "lr_patch = 5000"), None, vec!["lr_patch", "5000"]),
        (PRESET.replace("tests = [\"sr-pool\"]", "tests = [\"set5\"]"), None, vec!["sr-benchmarks", "Set5"]),
    ];
    for (text, remove, expected) in cases {
        std::fs::write(&preset, text).unwrap();
        if let Some(name) = remove {
            std::fs::remove_file(data.join("sr-pool").join(name)).unwrap();
        }
        let output = bench_sr(&["grid", "--config", arg(&preset), "--out", arg(&out), "--data-dir", arg(&data)]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        for needle in expected {
            assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        if let Some(name) = remove {
            std::fs::write(data.join("sr-pool").join(name), "skimage-camera.png\nskimage-coffee.png\n").unwrap();
        }
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn measure_prints_the_step_peak_of_a_local_network() {
    let output = bench_sr(&[
        "measure",
        "--method",
        "glcan",
        "--k",
        "2",
        "--n-resblocks",
        "2",
        "--n-feats",
        "8",
        "--batch-size",
        "2",
        "--lr-patch",
        "12",
        "--steps",
        "1",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((json["net"].as_str(), json["method"].as_str(), json["k"].as_u64()), (Some("edsr-2b8f-x2"), Some("glcan"), Some(2)));
    assert!(json["peak_bytes"].as_u64().unwrap() > 0 && json["images_per_s"].as_f64().unwrap() > 0.0, "{json}");
    let bad = bench_sr(&["measure", "--method", "glcan", "--k", "1"]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && stderr.contains("K >= 2") && !stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_second_grid_on_a_folder_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("tiny.toml");
    std::fs::write(&preset, PRESET).unwrap();
    let out = dir.path().join("out");
    let held = glcan_store::OutLock::acquire(&out).unwrap();
    let output = bench_sr(&["grid", "--config", arg(&preset), "--out", arg(&out), "--data-dir", arg(&dir.path().join("no-data"))]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let expected = format!("{} is in use by another grid (pid {}; lock file {})", out.display(), std::process::id(), held.path().display());
    assert!(stderr.contains(&expected), "{stderr}");
}
