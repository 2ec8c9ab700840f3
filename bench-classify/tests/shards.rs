//! A grid split into shards, run side by side on one out folder, gives the rows one
//! unsharded grid gives (the same metrics, memory, config hashes and run folders); the
//! shards' files read as one results set; a Slurm array task picks its shard from the
//! environment; and `--emit-slurm` writes the job script.

use std::path::Path;
use std::process::{Command, Output};

use glcan_store::{read_folder, read_rows, ResultRow};

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
train_subset = 96
test_subset = 64
threads = 1
"#;

fn grid(config: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bench-classify"));
    command.args(["grid", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap()]).args(extra);
    command.env_remove("SLURM_ARRAY_TASK_ID").env_remove("SLURM_ARRAY_TASK_COUNT").env_remove("SLURM_ARRAY_TASK_MIN");
    command
}

fn succeeded(output: Output) -> Output {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output
}

/// What a run's rows must agree on whichever process ran it: everything but timings.
fn comparable(rows: Vec<ResultRow>) -> Vec<ResultRow> {
    let mut rows: Vec<ResultRow> = rows
        .into_iter()
        .map(|row| ResultRow { seconds: 0.0, finished_at: String::new(), images_per_s: 0.0, peak_rss_bytes: 0, ..row })
        .collect();
    rows.sort_by(|a, b| (&a.method, a.k, a.seed).cmp(&(&b.method, b.k, b.seed)));
    rows
}

#[test]
fn two_shards_side_by_side_give_the_rows_of_one_grid() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, PRESET).unwrap();
    let (whole, sharded) = (dir.path().join("whole"), dir.path().join("sharded"));
    succeeded(grid(&config, &whole, &[]).output().unwrap());

    let first = grid(&config, &sharded, &["--shard", "0/2"]).spawn().unwrap();
    // The second shard comes from Slurm's variables, as in a job array numbered from 1.
    let second = grid(&config, &sharded, &[])
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .spawn()
        .unwrap();
    succeeded(first.wait_with_output().unwrap());
    succeeded(second.wait_with_output().unwrap());

    let shard_rows =
        (read_rows(&sharded.join("results.shard-0-of-2.csv")).unwrap(), read_rows(&sharded.join("results.shard-1-of-2.csv")).unwrap());
    assert_eq!((shard_rows.0.len(), shard_rows.1.len()), (3, 3), "six runs dealt round robin");
    assert!(!sharded.join("results.csv").exists());
    assert_eq!(comparable(read_folder(&sharded).unwrap()), comparable(read_rows(&whole.join("results.csv")).unwrap()));

    // Every run is done in the folder, whichever shard did it: a whole grid skips them all.
    let again = succeeded(grid(&config, &sharded, &[]).output().unwrap());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("0 runs done (0 failed), 6 already complete"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn the_slurm_script_runs_one_shard_per_array_task() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, PRESET).unwrap();
    let out = dir.path().join("out");
    let script = succeeded(grid(&config, &out, &["--emit-slurm", "--set", "seeds=[0, 1, 2]"]).output().unwrap());
    let script = String::from_utf8(script.stdout).unwrap();
    for expected in [
        "#SBATCH --array=0-8",
        "#SBATCH --cpus-per-task=1",
        "--shard \"${SLURM_ARRAY_TASK_ID}/9\"",
        "--set 'seeds=[0, 1, 2]'",
        config.to_str().unwrap(),
    ] {
        assert!(script.contains(expected), "{expected} missing from:\n{script}");
    }
    let three = String::from_utf8(succeeded(grid(&config, &out, &["--emit-slurm", "3"]).output().unwrap()).stdout).unwrap();
    assert!(three.contains("#SBATCH --array=0-2") && three.contains("/3\""), "{three}");
    assert!(!out.exists(), "emitting a script runs nothing");
    let bad = grid(&config, &out, &["--shard", "2/2"]).output().unwrap();
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("numbered 0 to 1"));
}
