//! `bench-detect grid` end to end on a handful of generated digit canvases: E2E, DGL and
//! GLCAN each train a few steps and leave an `ok` result row with AP figures, a measured
//! step peak, the run files and the picture of predictions; a second call skips them.

use std::path::Path;
use std::process::Command;

use glcan_store::{read_rows, RunStatus};

const PRESET: &str = r#"
preset = "test"
dataset = "digits"
network = "resnet10-w8"
methods = ["e2e", "dgl", "glcan"]
ks = [2]
seeds = [0]
epochs = 1
batch_size = 8
lr = 0.001
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
"#;

fn grid(preset: &Path, out: &Path, data: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bench-detect"))
        .args(["grid", "--config", preset.to_str().unwrap(), "--out", out.to_str().unwrap(), "--data-dir", data.to_str().unwrap()])
        .output()
        .expect("the binary runs")
}

#[test]
fn e2e_dgl_and_glcan_each_leave_a_result_row() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mnist = glcan_core::paths::data_root().join("mnist");
    assert!(mnist.exists(), "this test reads real MNIST from {} (run `make data`)", mnist.display());
    std::os::unix::fs::symlink(std::fs::canonicalize(&mnist).unwrap(), data.join("mnist")).unwrap();
    let preset = dir.path().join("p.toml");
    std::fs::write(&preset, PRESET).unwrap();
    let out = dir.path().join("out");
    let run = grid(&preset, &out, &data);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let rows = read_rows(&out.join("results.csv")).unwrap();
    let methods: Vec<(&str, usize)> = rows.iter().map(|r| (r.method.as_str(), r.k)).collect();
    assert_eq!(methods, [("e2e", 1), ("dgl", 2), ("glcan", 2)]);
    for row in &rows {
        assert_eq!(row.status, RunStatus::Ok, "{}", row.error);
        assert_eq!(row.suite, "detect");
        let (ap, ap50) = (row.ap.unwrap(), row.ap50.unwrap());
        assert!((0.0..=1.0).contains(&ap) && (0.0..=1.0).contains(&ap50) && ap <= ap50 + 1e-12, "{ap} {ap50}");
        assert!(row.step_peak_bytes > 0, "the counting allocator measured the step");
        assert_eq!((row.train_images, row.test_images), (24, 8));
        let run_dir = out.join(&row.run_dir);
        for file in ["config.json", "env.json", "detector.json", "metrics.csv", "evaluation.json", "predictions.png"] {
            assert!(run_dir.join(file).exists(), "{} lacks {file}", run_dir.display());
        }
    }
    let again = grid(&preset, &out, &data);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("0 runs done (0 failed), 3 already complete"));
}

#[test]
fn a_bad_preset_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("p.toml");
    std::fs::write(&preset, PRESET.replace("lr = 0.001", "learning_rate = 0.001")).unwrap();
    let run = grid(&preset, &dir.path().join("out"), dir.path());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success() && stderr.contains("learning_rate") && stderr.contains("p.toml"), "{stderr}");
}

#[test]
fn a_second_grid_on_a_folder_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("p.toml");
    std::fs::write(&preset, PRESET).unwrap();
    let out = dir.path().join("out");
    let held = glcan_store::OutLock::acquire(&out).unwrap();
    let output = grid(&preset, &out, &dir.path().join("no-data"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let expected = format!("{} is in use by another grid (pid {}; lock file {})", out.display(), std::process::id(), held.path().display());
    assert!(stderr.contains(&expected), "{stderr}");
}
