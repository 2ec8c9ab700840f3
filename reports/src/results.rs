//! The results CSV: one row per run, appended atomically, the source of truth of every
//! table and plot.

use std::path::{Path, PathBuf};

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
    /// `e2e`, `greedy-sl`, `dgl`, `infopro-softmax`, `infopro-contrast`, `glcan`, ...
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
    pub dtype: String,
    pub git_commit: String,
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
            dtype: "float32".into(),
            git_commit: String::new(),
            run_dir: String::new(),
            finished_at: String::new(),
            seconds: 0.0,
        }
    }
}

/// Where a results file is and what went wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {source}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
}

/// Appends `row`: the file is rewritten to a temporary file beside it and renamed over
/// the old one, so a crash leaves either the old or the new file, never half a row.
pub fn append_row(path: &Path, row: &ResultRow) -> Result<(), ResultsError> {
    let mut rows = if path.exists() { read_rows(path)? } else { Vec::new() };
    rows.push(row.clone());
    write_rows(path, &rows)
}

/// Every row of a results CSV.
pub fn read_rows(path: &Path) -> Result<Vec<ResultRow>, ResultsError> {
    let mut reader = csv::Reader::from_path(path).map_err(|source| csv_error(path, source))?;
    reader.deserialize().collect::<Result<_, _>>().map_err(|source| ResultsError::Csv { path: path.to_path_buf(), source })
}

fn write_rows(path: &Path, rows: &[ResultRow]) -> Result<(), ResultsError> {
    let io = |source| ResultsError::Io { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut writer = csv::Writer::from_path(&temporary).map_err(|source| csv_error(&temporary, source))?;
    for row in rows {
        writer.serialize(row).map_err(|source| csv_error(&temporary, source))?;
    }
    writer.flush().map_err(io)?;
    drop(writer);
    std::fs::rename(&temporary, path).map_err(io)
}

fn csv_error(path: &Path, source: csv::Error) -> ResultsError {
    ResultsError::Csv { path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rows::row;

    #[test]
    fn rows_append_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/results.csv");
        append_row(&path, &row("e2e", 1, 0, 90.0)).unwrap();
        let mut failed = row("glcan", 4, 1, 0.0);
        failed.status = RunStatus::Failed;
        failed.test_accuracy = None;
        failed.error = "loss of module 2 is NaN, \"quoted\", at epoch 3".into();
        append_row(&path, &failed).unwrap();
        let rows = read_rows(&path).unwrap();
        assert_eq!(rows, vec![row("e2e", 1, 0, 90.0), failed]);
        assert!(!dir.path().join("sub/results.csv.tmp").exists());
    }

    #[test]
    fn malformed_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        std::fs::write(&path, "suite,dataset\nclassify\n").unwrap();
        let message = read_rows(&path).unwrap_err().to_string();
        assert!(message.contains("results.csv"), "{message}");
        let message = append_row(&path, &row("e2e", 1, 0, 1.0)).unwrap_err().to_string();
        assert!(message.contains("results.csv"), "{message}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "suite,dataset\nclassify\n", "a bad file is left as it was");
    }
}
