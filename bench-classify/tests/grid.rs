//! The grid runner end to end on a tiny real subset: one row per run, failures recorded
//! without stopping the grid, completed runs skipped on a second invocation.

use std::process::Command;

use glcan_store::{read_rows, RunStatus};

fn grid(config: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bench-classify"))
        .args(["grid", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .expect("the binary runs")
}

const PRESET: &str = r#"
preset = "tiny"
datasets = ["fashion-mnist"]
networks = ["resnet8"]
methods = ["e2e", "dgl", "glcan"]
ks = [2]
seeds = [0, 1]
epochs = 1
batch_size = 32
lr = 0.05
train_subset = 128
test_subset = 64
threads = 1
"#;

#[test]
fn grid_writes_rows_and_skips_completed_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, PRESET).unwrap();
    let out = dir.path().join("out");
    let first = grid(&config, &out);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let rows = read_rows(&out.join("results.csv")).unwrap();
    assert_eq!(rows.len(), 6, "e2e, dgl and glcan at two seeds");
    for row in &rows {
        assert_eq!(row.status, RunStatus::Ok);
        assert_eq!((row.train_images, row.test_images), (128, 64));
        assert_eq!(row.threads, 1, "the preset pins libtorch's threads");
        assert_eq!(row.git_commit, env!("GLCAN_GIT_COMMIT"), "the commit the binary was built from");
        assert!(row.test_accuracy.unwrap() >= 0.0 && row.step_peak_bytes > 0, "{row:?}");
        let run_dir = out.join(&row.run_dir);
        for file in ["config.json", "env.json", "metrics.csv", "checkpoint.ot"] {
            assert!(run_dir.join(file).exists(), "{} lacks {file}", run_dir.display());
        }
    }
    // The speed pass: one row per configuration (the first seed's runs), in one file.
    let speed = Command::new(env!("CARGO_BIN_EXE_bench-classify"))
        .args(["grid", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap(), "--speed-pass"])
        .args(["--speed-windows", "2", "--speed-steps", "1"])
        .output()
        .unwrap();
    assert!(speed.status.success(), "{}", String::from_utf8_lossy(&speed.stderr));
    let timed = glcan_store::read_speed(&out.join(glcan_store::SPEED_FILE)).unwrap();
    let configurations: Vec<(String, usize)> = timed.iter().map(|r| (r.method.clone(), r.k)).collect();
    assert_eq!(configurations, [("e2e".to_string(), 1), ("dgl".into(), 2), ("glcan".into(), 2)]);
    for row in &timed {
        assert!(row.images_per_s_low <= row.images_per_s && row.images_per_s <= row.images_per_s_high, "{row:?}");
        assert_eq!((row.threads, row.windows, row.steps_per_window, row.batch_size), (1, 2, 1, 32));
    }

    // The report: tables with every method, the timed throughput compared, a chart with content.
    let context = reports::tables::ReportContext { command: "grid test".into(), machine: "test machine".into() };
    let built = reports::report::build(&out, &dir.path().join("report"), &context).unwrap();
    let readme = std::fs::read_to_string(&built.readme).unwrap();
    for method in ["E2E", "DGL", "GLCAN"] {
        assert!(readme.contains(method), "the report names {method}:\n{readme}");
    }
    assert!(readme.contains("### Training throughput\n") && readme.contains("(`grid --speed-pass`)"), "{readme}");
    assert!(readme.contains("### Test error against peak memory"), "{readme}");
    assert!(built.warnings.is_empty(), "{:?}", built.warnings);
    let png = built.images.iter().find(|p| p.extension().is_some_and(|e| e == "png")).expect("a PNG chart");
    let pixels = image::open(png).unwrap().to_rgb8();
    let first = pixels.get_pixel(0, 0);
    assert!(pixels.pixels().any(|p| p != first), "{} is blank", png.display());

    // A second invocation finds everything done.
    let second = grid(&config, &out);
    assert!(second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("0 runs done (0 failed), 6 already complete"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(read_rows(&out.join("results.csv")).unwrap().len(), 6);
}

#[test]
fn a_failing_run_is_recorded_and_the_grid_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("diverging.toml");
    // lr = 1e12 makes the local methods' losses blow up; the runs fail one by one.
    std::fs::write(&config, PRESET.replace("lr = 0.05", "lr = 1e12").replace("seeds = [0, 1]", "seeds = [0]")).unwrap();
    let out = dir.path().join("out");
    let output = grid(&config, &out);
    assert!(!output.status.success(), "failed runs make the grid exit non-zero");
    let rows = read_rows(&out.join("results.csv")).unwrap();
    assert_eq!(rows.len(), 3, "every run is recorded");
    let failed: Vec<_> = rows.iter().filter(|r| r.status == RunStatus::Failed).collect();
    assert!(!failed.is_empty());
    assert!(failed.iter().all(|r| r.error.contains("diverged")), "{failed:?}");
}

/// `module_schedule = "pipelined"` in a preset: rows and config.json record it, and every
/// run scores what the sequential grid scores (the schedules end with the same weights).
#[test]
fn a_pipelined_grid_records_its_schedule_and_matches_the_sequential_grid() {
    let dir = tempfile::tempdir().unwrap();
    let preset = PRESET.replace("seeds = [0, 1]", "seeds = [0]");
    let sequential = dir.path().join("sequential.toml");
    std::fs::write(&sequential, &preset).unwrap();
    let pipelined = dir.path().join("pipelined.toml");
    std::fs::write(&pipelined, format!("{preset}module_schedule = \"pipelined\"\n")).unwrap();
    let mut results = Vec::new();
    for (config, name) in [(&sequential, "seq"), (&pipelined, "pipe")] {
        let out = dir.path().join(name);
        let run = grid(config, &out);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        results.push((out.clone(), read_rows(&out.join("results.csv")).unwrap()));
    }
    let (seq, pipe) = (&results[0].1, &results[1].1);
    assert_eq!(seq.len(), 3);
    assert_eq!(pipe.len(), 3);
    for (a, b) in seq.iter().zip(pipe) {
        assert_eq!((a.module_schedule.as_str(), b.module_schedule.as_str()), ("sequential", "pipelined"));
        assert_eq!((a.method.as_str(), a.k), (b.method.as_str(), b.k));
        assert_eq!(a.test_accuracy, b.test_accuracy, "{} K={}: the schedules end with the same weights", a.method, a.k);
        assert_ne!(a.config_hash, b.config_hash, "a pipelined run is another configuration");
        let config = std::fs::read_to_string(results[1].0.join(&b.run_dir).join("config.json")).unwrap();
        assert!(
            config.contains("\"module_schedule\": \"pipelined\"") && config.contains("\"optimizer_scope\": \"per-module\""),
            "{config}"
        );
    }
}
