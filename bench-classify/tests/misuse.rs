//! The results store under misuse, end to end through the binary: a second grid on a folder
//! in use, a changed recipe over a finished folder, added seeds, and `train --resume`
//! without a checkpoint; a bad `init`.

use std::path::Path;
use std::process::{Command, Output};

use glcan_store::{append_row, read_rows, OutLock, ResultRow};

fn bench_classify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bench-classify")).args(args).output().expect("the binary runs")
}

fn grid(config: &Path, out: &Path, overrides: &[&str]) -> Output {
    let mut args = vec!["grid", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap()];
    for value in overrides {
        args.extend(["--set", value]);
    }
    bench_classify(&args)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const PRESET: &str = r#"
preset = "tiny"
datasets = ["fashion-mnist"]
networks = ["resnet8"]
methods = ["e2e"]
ks = [2]
seeds = [0]
epochs = 1
batch_size = 32
lr = 0.05
train_subset = 64
test_subset = 32
threads = 1
"#;

#[test]
fn a_second_grid_on_a_folder_in_use_is_refused_and_leaves_its_results() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, PRESET).unwrap();
    let out = dir.path().join("out");
    let results = out.join("results.csv");
    append_row(&results, &ResultRow::unmeasured("classify", "tiny")).unwrap();
    let before = std::fs::read(&results).unwrap();
    // This process plays the first grid.
    let held = OutLock::acquire(&out).unwrap();
    let second = grid(&config, &out, &[]);
    assert!(!second.status.success());
    let expected = format!(
        "error: {} is in use by another grid (pid {}; lock file {}): wait for it to finish or choose another --out",
        out.display(),
        std::process::id(),
        held.path().display()
    );
    assert!(stderr(&second).contains(&expected), "{}", stderr(&second));
    assert!(!stderr(&second).contains("grid [1/1]"), "nothing ran");
    assert_eq!(std::fs::read(&results).unwrap(), before, "results.csv untouched");
    assert!(!out.join("runs").exists());
}

#[test]
fn a_changed_recipe_runs_anew_and_added_seeds_reuse_the_finished_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, PRESET).unwrap();
    let out = dir.path().join("out");
    let results = out.join("results.csv");
    let run = |overrides: &[&str], expected: &str| {
        let output = grid(&config, &out, overrides);
        assert!(output.status.success() && stderr(&output).contains(expected), "{overrides:?}: {}", stderr(&output));
        read_rows(&results).unwrap()
    };

    let first = run(&[], "1 runs done (0 failed), 0 already complete");
    let original = first[0].clone();
    assert_eq!(original.config_hash.len(), 16);
    assert_eq!(original.run_dir, format!("runs/fashion-mnist-resnet8-e2e-k1-s0-{}", &original.config_hash[..8]));
    let recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(&original.run_dir).join("config.json")).unwrap()).unwrap();
    assert_eq!(recorded["config_hash"].as_str(), Some(original.config_hash.as_str()));
    assert_eq!(
        (recorded["preset"]["epochs"].as_u64(), recorded["run"]["seed"].as_u64(), recorded["epochs"].as_u64()),
        (Some(1), Some(0), Some(1))
    );
    assert!(recorded["preset"].get("seeds").is_none(), "the iterated lists are not part of a run's config");

    // More epochs, then fewer training images: each a new run in a new folder.
    let rows = run(&["epochs=2"], "1 runs done (0 failed), 0 already complete");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], original, "the old row stays");
    assert_eq!(rows[1].epochs, 2);
    let rows = run(&["train_subset=96"], "1 runs done (0 failed), 0 already complete");
    assert_eq!((rows.len(), rows[2].train_images), (3, 96));
    let mut dirs: Vec<&str> = rows.iter().map(|r| r.run_dir.as_str()).collect();
    dirs.dedup();
    assert_eq!(dirs.len(), 3, "three recipes, three run directories: {dirs:?}");
    assert!(dirs.iter().all(|d| out.join(d).join("checkpoint.ot").is_file()));

    // An added seed trains only itself; the recipe of before is still done.
    let rows = run(&["seeds=[0, 1]"], "1 runs done (0 failed), 1 already complete");
    assert_eq!((rows.len(), rows[3].seed, rows[3].config_hash != original.config_hash), (4, 1, true));
    run(&["epochs=2"], "0 runs done (0 failed), 1 already complete");
}

#[test]
fn train_resume_without_a_checkpoint_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let output = bench_classify(&[
        "train",
        "--dataset",
        "fashion-mnist",
        "--net",
        "resnet8",
        "--method",
        "e2e",
        "--k",
        "1",
        "--epochs",
        "1",
        "--train-subset",
        "64",
        "--test-subset",
        "32",
        "--batch-size",
        "32",
        "--run-dir",
        run_dir.to_str().unwrap(),
        "--resume",
    ]);
    assert!(!output.status.success());
    let expected = format!("{}: no checkpoint to resume from", run_dir.join("checkpoint.ot").display());
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));
    assert!(!run_dir.exists(), "nothing written");
}

/// The pipelined schedule's settings, refused before any data loads: a device list of the
/// wrong length, an unknown device, threads per worker without the pipeline, a split point
/// that is not `[stage,unit]`; and in a preset, a device list of the wrong length.
#[test]
fn bad_pipeline_settings_are_refused_by_name() {
    let measure = ["measure", "--net", "resnet8", "--channels", "1", "--size", "28", "--method", "dgl", "--k", "2", "--batch-size", "8"];
    for (extra, expected) in [
        (&["--schedule", "pipelined", "--module-devices", "cpu"][..], "1 devices for K = 2 modules"),
        (&["--schedule", "pipelined", "--module-devices", "cpu,gpu"][..], "unknown device \"gpu\""),
        (&["--worker-threads", "1"][..], "worker_threads"),
        (&["--split-point", "2,1"][..], "expected [stage,unit]"),
    ] {
        let output = bench_classify(&[&measure[..], extra].concat());
        assert!(!output.status.success() && stderr(&output).contains(expected), "{extra:?}: {}", stderr(&output));
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, PRESET).unwrap();
    let output = grid(
        &config,
        &dir.path().join("out"),
        &["module_schedule=\"pipelined\"", "module_devices=[\"cpu\", \"cpu\", \"cpu\"]", "methods=[\"dgl\"]"],
    );
    assert!(!output.status.success() && stderr(&output).contains("3 devices for K = 2 modules"), "{}", stderr(&output));
}

/// `init` names itself when wrong, on the command line and in a preset; and it is part of a
/// run's identity: the two modes list the same runs under different config hashes.
#[test]
fn init_is_checked_by_name_and_keys_the_run() {
    let measure = ["measure", "--net", "resnet8", "--channels", "1", "--size", "28", "--batch-size", "8", "--init", "foo"];
    let output = bench_classify(&measure);
    assert!(!output.status.success() && stderr(&output).contains("invalid init"), "{}", stderr(&output));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, PRESET).unwrap();
    let out = dir.path().join("out");
    let output = grid(&config, &out, &["init=foo"]);
    assert!(!output.status.success() && stderr(&output).contains("invalid init"), "{}", stderr(&output));
    let listed = |overrides: &[&str]| {
        let mut args = vec!["grid", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap(), "--list"];
        for value in overrides {
            args.extend(["--set", value]);
        }
        let output = bench_classify(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    let (default, reference, tch) = (listed(&[]), listed(&["init=reference"]), listed(&["init=tch"]));
    assert_eq!(default, reference, "reference is the default");
    assert_eq!(default.lines().count(), 1);
    let hash = |listing: &str| listing.split('\t').nth(1).unwrap().to_owned();
    assert_ne!(hash(&default), hash(&tch), "the init mode is part of the config hash");
}

/// A grid started by a multi-rank launcher would run every run on every rank and append each
/// row several times: it is refused, naming the variables, before anything is written.
#[test]
fn a_grid_launched_as_ranks_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, PRESET).unwrap();
    let out = dir.path().join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_bench-classify"))
        .args(["grid", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .envs([("RANK", "1"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", "29599")])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("launched as rank 1 of 2") && message.contains("--shard"), "{message}");
    assert!(!out.join("results.csv").exists(), "nothing written");
}
