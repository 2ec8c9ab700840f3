//! The results CSV: one row per run, the source of truth of every table and plot. Appends
//! take the file's lock (`<name>.lock` beside it) for the read-modify-write, so concurrent
//! appenders, threads or processes, never lose a row, and write through [`write_atomic`],
//! so a crash or a full disk never tears the file.

use std::path::{Path, PathBuf};

use crate::atomic::write_atomic;
use crate::lock::lock_exclusive;
use crate::Error;

/// Whether a run finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Ok,
    Failed,
}

/// One run of one suite. Task metrics that do not apply stay empty.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResultRow {
    /// `classify`, `detect` or `sr`.
    pub suite: String,
    /// e.g. `fashion-mnist`, `cifar10`.
    pub dataset: String,
    /// e.g. `resnet32`.
    pub network: String,
    /// `e2e`, `greedy-sl`, `dgl`, `infopro-softmax`, `infopro-contrast`, `glcan`, `predsim`,
    /// `auglocal`, ...
    pub method: String,
    pub k: usize,
    pub seed: u64,
    /// The preset (`quick`, `paper`, `smoke`, ...) the run came from.
    pub preset: String,
    pub status: RunStatus,
    /// The error chain of a failed run; empty otherwise.
    pub error: String,
    pub epochs: usize,
    pub batch_size: usize,
    pub train_images: usize,
    pub test_images: usize,
    /// Classification: top-1 test accuracy (%) after the last epoch.
    pub test_accuracy: Option<f64>,
    /// Detection: COCO AP@[.5:.95] and AP50 (0-1).
    pub ap: Option<f64>,
    pub ap50: Option<f64>,
    /// Super-resolution: PSNR (dB) and SSIM on the Y channel.
    pub psnr_y: Option<f64>,
    pub ssim_y: Option<f64>,
    /// Peak bytes of libtorch tensors during one training step (see glcan-core `memory`).
    pub step_peak_bytes: u64,
    pub peak_rss_bytes: u64,
    /// Steady-state training throughput.
    pub images_per_s: f64,
    pub network_parameters: i64,
    /// `cpu` or `cuda:0`.
    pub device: String,
    pub threads: usize,
    /// The CPU kernels: `avx2` (pinned) or `native-<isa>` (`glcan_core::cpu_kernels`).
    #[serde(default)]
    pub cpu_isa: String,
    /// The numerics fingerprint of those kernels at those threads
    /// (`glcan_core::kernel_probe`): equal fingerprints reproduce a seeded run exactly.
    #[serde(default)]
    pub kernel_fingerprint: String,
    /// How the modules shared a step: `sequential` or `pipelined` (one worker thread per
    /// module). Empty in files written before it existed, which were all sequential.
    #[serde(default)]
    pub module_schedule: String,
    pub dtype: String,
    pub git_commit: String,
    /// The hash of the run's resolved config (see [`crate::RunConfig`]): a grid reuses a
    /// finished row only for the same hash. Empty in files written before it existed.
    #[serde(default)]
    pub config_hash: String,
    /// Folder holding the run's config.json and per-epoch metrics.csv, relative to the
    /// results CSV's folder.
    pub run_dir: String,
    /// RFC 3339 UTC time the run finished.
    pub finished_at: String,
    pub seconds: f64,
}

impl ResultRow {
    /// A row of `suite` and `preset` with nothing else known yet: status ok, every identity
    /// and machine field empty, every measurement empty or zero, float32. Suites fill in
    /// the rest with struct-update syntax.
    pub fn unmeasured(suite: &str, preset: &str) -> Self {
        ResultRow {
            suite: suite.into(),
            dataset: String::new(),
            network: String::new(),
            method: String::new(),
            k: 1,
            seed: 0,
            preset: preset.into(),
            status: RunStatus::Ok,
            error: String::new(),
            epochs: 0,
            batch_size: 0,
            train_images: 0,
            test_images: 0,
            test_accuracy: None,
            ap: None,
            ap50: None,
            psnr_y: None,
            ssim_y: None,
            step_peak_bytes: 0,
            peak_rss_bytes: 0,
            images_per_s: 0.0,
            network_parameters: 0,
            device: String::new(),
            threads: 0,
            cpu_isa: String::new(),
            kernel_fingerprint: String::new(),
            module_schedule: String::new(),
            dtype: "float32".into(),
            git_commit: String::new(),
            config_hash: String::new(),
            run_dir: String::new(),
            finished_at: String::new(),
            seconds: 0.0,
        }
    }
}

/// Appends `row` to the results CSV at `path` (created with its folder if missing). A
/// malformed file is an error and is left as it was.
pub fn append_row(path: &Path, row: &ResultRow) -> Result<(), Error> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let _held = lock_exclusive(&lock_path(path))?;
    let mut rows = if path.exists() { read_rows(path)? } else { Vec::new() };
    rows.push(row.clone());
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in &rows {
        writer.serialize(row).map_err(|cause| csv_error(path, cause))?;
    }
    let bytes = writer.into_inner().map_err(|e| Error::write(path, e.into_error()))?;
    write_atomic(path, &bytes)
}

/// Every row of a results CSV.
pub fn read_rows(path: &Path) -> Result<Vec<ResultRow>, Error> {
    let mut reader = csv::Reader::from_path(path).map_err(|cause| csv_error(path, cause))?;
    reader.deserialize().collect::<Result<_, _>>().map_err(|cause| csv_error(path, cause))
}

/// `results.csv.lock` beside `results.csv`.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn csv_error(path: &Path, cause: csv::Error) -> Error {
    Error::Csv { path: path.to_path_buf(), cause }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{child, child_dir, passed, run_under_file_size_limit};

    fn row(method: &str, k: usize, seed: u64) -> ResultRow {
        ResultRow {
            dataset: "fashion-mnist".into(),
            network: "resnet8".into(),
            method: method.into(),
            k,
            seed,
            test_accuracy: Some(90.0),
            ..ResultRow::unmeasured("classify", "t")
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn rows_append_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/results.csv");
        append_row(&path, &row("e2e", 1, 0)).unwrap();
        let mut failed = ResultRow { config_hash: "0123456789abcdef".into(), ..row("glcan", 4, 1) };
        failed.status = RunStatus::Failed;
        failed.test_accuracy = None;
        failed.error = "loss of module 2 is NaN, \"quoted\", at epoch 3".into();
        append_row(&path, &failed).unwrap();
        assert_eq!(read_rows(&path).unwrap(), vec![row("e2e", 1, 0), failed]);
        assert_eq!(names(&dir.path().join("sub")), ["results.csv", "results.csv.lock"]);
    }

    #[test]
    fn files_without_config_hash_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        append_row(&path, &row("e2e", 1, 0)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let column = text.lines().next().unwrap().split(',').position(|c| c == "config_hash").unwrap();
        let drop_column =
            |line: &str| line.split(',').enumerate().filter(|&(i, _)| i != column).map(|(_, c)| c).collect::<Vec<_>>().join(",");
        let old: Vec<String> = text.lines().map(drop_column).collect();
        std::fs::write(&path, old.join("\n") + "\n").unwrap();
        assert_eq!(read_rows(&path).unwrap(), vec![row("e2e", 1, 0)]);
    }

    #[test]
    fn malformed_file_names_itself_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        std::fs::write(&path, "suite,dataset\nclassify\n").unwrap();
        let message = read_rows(&path).unwrap_err().to_string();
        assert!(message.contains("results.csv"), "{message}");
        let message = append_row(&path, &row("e2e", 1, 0)).unwrap_err().to_string();
        assert!(message.contains("results.csv"), "{message}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "suite,dataset\nclassify\n");
    }

    /// Rows appended by `writers` threads, `each` per thread, all present and whole.
    fn check_rows(path: &Path, writers: u64, each: u64) {
        let rows = read_rows(path).unwrap();
        let mut seen: Vec<(usize, u64)> = rows.iter().map(|r| (r.k, r.seed)).collect();
        seen.sort();
        let expected: Vec<(usize, u64)> = (0..writers).flat_map(|w| (0..each).map(move |i| (w as usize, i))).collect();
        assert_eq!(seen, expected, "every row once");
    }

    #[test]
    fn concurrent_appends_from_threads_lose_no_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        std::thread::scope(|scope| {
            for writer in 0..6 {
                let path = &path;
                scope.spawn(move || {
                    for i in 0..10 {
                        append_row(path, &row("dgl", writer, i)).unwrap();
                    }
                });
            }
        });
        check_rows(&path, 6, 10);
    }

    #[test]
    fn concurrent_appends_from_processes_lose_no_row() {
        let dir = tempfile::tempdir().unwrap();
        let name = "results::tests::append_as_a_child_process";
        let children: Vec<_> =
            (0..4).map(|writer| child(name, dir.path(), None).env("WRITER", writer.to_string()).spawn().unwrap()).collect();
        for process in children {
            passed(name, process.wait_with_output().unwrap());
        }
        check_rows(&dir.path().join("results.csv"), 4, 10);
    }

    #[test]
    #[ignore = "runs in child processes of concurrent_appends_from_processes_lose_no_row"]
    fn append_as_a_child_process() {
        let Some(dir) = child_dir() else { return };
        let writer: usize = std::env::var("WRITER").unwrap().parse().unwrap();
        for i in 0..10 {
            append_row(&dir.join("results.csv"), &row("dgl", writer, i)).unwrap();
        }
    }

    #[test]
    fn a_full_disk_keeps_every_row_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        for seed in 0..100 {
            append_row(&path, &row("e2e", 1, seed)).unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        assert!(before.len() > 4096, "larger than the child may write");
        let output = run_under_file_size_limit("results::tests::append_under_a_file_size_limit", dir.path());
        assert!(output.contains(&format!("cannot write {}: File too large", path.display())), "{output}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(names(dir.path()), ["results.csv", "results.csv.lock"]);
    }

    #[test]
    #[ignore = "runs in a child process of a_full_disk_keeps_every_row_and_leaves_no_temporary"]
    fn append_under_a_file_size_limit() {
        let Some(dir) = child_dir() else { return };
        println!("{}", append_row(&dir.join("results.csv"), &row("e2e", 1, 100)).unwrap_err());
    }
}
