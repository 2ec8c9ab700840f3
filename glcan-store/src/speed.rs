//! The speed file (`speed.csv` in a grid's out folder): one row per configuration of a
//! grid, each the training-step throughput measured in one dedicated pass (`grid
//! --speed-pass`) on an otherwise idle machine, so that the rows of one file may be
//! compared with each other. Throughputs a run records while training are not: runs may
//! have shared the CPU.

use std::path::Path;

use crate::atomic::write_atomic;
use crate::Error;

/// The speed file of a grid's out folder.
pub const SPEED_FILE: &str = "speed.csv";

/// One configuration's step throughput from a speed pass.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpeedRow {
    pub suite: String,
    pub dataset: String,
    pub network: String,
    pub preset: String,
    pub method: String,
    pub k: usize,
    pub batch_size: usize,
    pub device: String,
    pub threads: usize,
    pub cpu_isa: String,
    /// Images per second: batch size / median step time of each window, then the median,
    /// lowest and highest over the windows.
    pub images_per_s: f64,
    pub images_per_s_low: f64,
    pub images_per_s_high: f64,
    pub warmup_steps: usize,
    pub windows: usize,
    pub steps_per_window: usize,
    /// The 1-minute load average before and after this configuration was timed: above the
    /// pass's own threads, something else was running.
    pub load_before: f64,
    pub load_after: f64,
    pub git_commit: String,
    /// The config hash of the grid's first-seed run of this configuration.
    pub config_hash: String,
    pub measured_at: String,
}

/// Writes the rows of one pass as the speed file at `path`, replacing an earlier pass whole.
pub fn write_speed(path: &Path, rows: &[SpeedRow]) -> Result<(), Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(row).map_err(|cause| Error::Csv { path: path.to_path_buf(), cause })?;
    }
    let bytes = writer.into_inner().map_err(|e| Error::write(path, e.into_error()))?;
    write_atomic(path, &bytes)
}

/// The rows of the speed file at `path`.
pub fn read_speed(path: &Path) -> Result<Vec<SpeedRow>, Error> {
    let mut reader = csv::Reader::from_path(path).map_err(|cause| Error::Csv { path: path.to_path_buf(), cause })?;
    reader.deserialize().collect::<Result<_, _>>().map_err(|cause| Error::Csv { path: path.to_path_buf(), cause })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_round_trips_and_a_malformed_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SPEED_FILE);
        let row = SpeedRow {
            suite: "classify".into(),
            dataset: "fashion-mnist".into(),
            network: "resnet14".into(),
            preset: "quick".into(),
            method: "dgl".into(),
            k: 2,
            batch_size: 128,
            device: "cpu".into(),
            threads: 2,
            cpu_isa: "avx2".into(),
            images_per_s: 250.5,
            images_per_s_low: 240.0,
            images_per_s_high: 255.0,
            warmup_steps: 2,
            windows: 5,
            steps_per_window: 3,
            load_before: 0.4,
            load_after: 1.9,
            git_commit: "abc".into(),
            config_hash: "0123".into(),
            measured_at: "2026-12-03T17:00:00Z".into(),
        };
        write_speed(&path, std::slice::from_ref(&row)).unwrap();
        assert_eq!(read_speed(&path).unwrap(), vec![row]);
        std::fs::write(&path, "suite,k\nclassify,two\n").unwrap();
        assert!(read_speed(&path).unwrap_err().to_string().contains(SPEED_FILE));
    }
}
