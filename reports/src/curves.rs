//! Per-epoch curves read from each run's `metrics.csv` (columns `epoch,lr,module_losses,
//! test_metric,...`, one row per epoch), averaged over seeds per method × K, with the sample
//! standard deviation over seeds at each epoch (the chart's band).
//!
//! A run whose file is missing or unreadable costs its curve, not the report: it becomes a
//! warning line.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{chain, Error};
use crate::group::Group;
use crate::methods;
use crate::summary::Summary;

/// One line of an accuracy-vs-epoch chart: a method at one K, mean over its seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochCurve {
    pub method: String,
    pub k: usize,
    /// Seeds that contributed.
    pub runs: usize,
    /// (1-based epoch, mean value).
    pub points: Vec<(usize, f64)>,
    /// Sample standard deviation over seeds at each point; `None` where one seed has it.
    pub spread: Vec<Option<f64>>,
}

/// The curves of a group and what could not be read.
#[derive(Debug, Clone, Default)]
pub struct Curves {
    pub curves: Vec<EpochCurve>,
    pub warnings: Vec<String>,
}

/// The runs of one (method, K) so far: values per epoch, one per seed.
struct Pooled {
    method: String,
    runs: usize,
    epochs: BTreeMap<usize, Vec<f64>>,
}

/// (epoch, value) of `column` in the metrics CSV at `path`; empty and non-finite cells are
/// skipped (an epoch that was not evaluated), anything else unparsable is an error.
pub fn read_column(path: &Path, column: &str) -> Result<Vec<(usize, f64)>, Error> {
    let csv_error = |source| Error::Csv { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let mut reader = csv::Reader::from_reader(file);
    let headers = reader.headers().map_err(csv_error)?.clone();
    let find = |name: &str| {
        headers.iter().position(|h| h.trim() == name).ok_or_else(|| Error::MissingColumn { path: path.to_path_buf(), column: name.into() })
    };
    // Runs written before the trainer named its metric column `test_metric` call it
    // `test_accuracy` (classification was the only task then).
    let value_at = match find(column) {
        Err(_) if column == "test_metric" => find("test_accuracy")?,
        found => found?,
    };
    let epoch_at = find("epoch")?;
    let mut points = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| p.line());
        let cell = |at: usize, name: &str| {
            let text = record.get(at).unwrap_or("").trim().to_string();
            (text, name.to_string())
        };
        let bad = |(value, column): (String, String)| Error::BadValue { path: path.to_path_buf(), line, column, value };
        let (epoch_text, value_text) = (cell(epoch_at, "epoch"), cell(value_at, column));
        if value_text.0.is_empty() {
            continue;
        }
        let epoch: usize = epoch_text.0.parse().map_err(|_| bad(epoch_text.clone()))?;
        let value: f64 = value_text.0.parse().map_err(|_| bad(value_text.clone()))?;
        if value.is_finite() {
            points.push((epoch, value));
        }
    }
    Ok(points)
}

/// The `column` curves of every finished run of `group`, whose run folders are relative to
/// `results_dir`, averaged over seeds per (method, K), in table order.
pub fn group_curves(group: &Group, results_dir: &Path, column: &str) -> Curves {
    // Keyed by (table order of the method, K): the curves come out in table order.
    let mut per_cell: BTreeMap<((usize, String), usize), Pooled> = BTreeMap::new();
    let mut warnings = Vec::new();
    // The bicubic baseline trains nothing: no curve to draw, nothing missing.
    for row in group.ok.iter().filter(|r| !methods::is_untrained(&r.method)) {
        let run = format!("{} K = {} seed {}", methods::label(&row.method), row.k, row.seed);
        if row.run_dir.trim().is_empty() {
            warnings.push(format!("{run}: the results row names no run folder; its curve is left out"));
            continue;
        }
        let path = results_dir.join(&row.run_dir).join("metrics.csv");
        match read_column(&path, column) {
            Ok(points) => {
                let entry = per_cell.entry((methods::order(&row.method), row.k)).or_insert_with(|| Pooled {
                    method: row.method.clone(),
                    runs: 0,
                    epochs: BTreeMap::new(),
                });
                entry.runs += 1;
                for (epoch, value) in points {
                    entry.epochs.entry(epoch).or_default().push(value);
                }
            }
            Err(error) => {
                // Name the file as the CSV does (relative to its folder), not by where this
                // machine keeps it, so committed reports stay free of local paths.
                let message =
                    chain(&error).replace(&path.display().to_string(), &Path::new(&row.run_dir).join("metrics.csv").display().to_string());
                warnings.push(format!("{run}: {message}; its curve is left out"));
            }
        }
    }
    let curves = per_cell
        .into_iter()
        .map(|((_, k), Pooled { method, runs, epochs })| {
            let summaries: Vec<(usize, Summary)> =
                epochs.into_iter().filter_map(|(epoch, values)| Summary::of(&values).map(|s| (epoch, s))).collect();
            EpochCurve {
                method,
                k,
                runs,
                points: summaries.iter().map(|(epoch, s)| (*epoch, s.mean)).collect(),
                spread: summaries.iter().map(|(_, s)| s.std).collect(),
            }
        })
        .filter(|c| !c.points.is_empty())
        .collect();
    Curves { curves, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::group_rows;
    use crate::test_rows::row;

    const HEADER: &str = "epoch,lr,module_losses,test_metric,test_loss,images_per_s,step_peak_bytes,peak_rss_bytes,seconds\n";

    #[test]
    fn curves_average_seeds_and_warn_on_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![row("glcan", 2, 0, 90.0), row("glcan", 2, 1, 91.0), row("dgl", 2, 0, 89.0)];
        for (r, accuracies) in rows.iter().zip([[80.0, 90.0], [82.0, 92.0]]) {
            let run = dir.path().join(&r.run_dir);
            std::fs::create_dir_all(&run).unwrap();
            let lines: String =
                accuracies.iter().enumerate().map(|(i, a)| format!("{},0.1,1.0;2.0,{a},0.3,100,1000,2000,1.0\n", i + 1)).collect();
            std::fs::write(run.join("metrics.csv"), format!("{HEADER}{lines}")).unwrap();
        }
        let curves = group_curves(&group_rows(&rows)[0], dir.path(), "test_metric");
        assert_eq!(curves.curves.len(), 1);
        assert_eq!(curves.curves[0].points, vec![(1, 81.0), (2, 91.0)]);
        assert_eq!(curves.curves[0].spread, vec![Some(2f64.sqrt()), Some(2f64.sqrt())], "sample std over the two seeds");
        assert_eq!(curves.curves[0].runs, 2);
        assert_eq!(curves.warnings.len(), 1);
        assert!(
            curves.warnings[0].starts_with("DGL K = 2 seed 0: ") && curves.warnings[0].contains("runs/dgl-k2-s0/metrics.csv"),
            "{:?}",
            curves.warnings
        );
    }

    #[test]
    fn older_files_call_the_metric_test_accuracy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        std::fs::write(&path, format!("{}1,0.1,1.0,70.5,0.3,100,1000,2000,1.0\n", HEADER.replace("test_metric", "test_accuracy"))).unwrap();
        assert_eq!(read_column(&path, "test_metric").unwrap(), vec![(1, 70.5)]);
    }

    #[test]
    fn broken_metrics_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        std::fs::write(&path, format!("{HEADER}1,0.1,1.0,seventy,0.3,100,1000,2000,1.0\n")).unwrap();
        let message = chain(&read_column(&path, "test_metric").unwrap_err());
        assert!(message.contains("metrics.csv: line 2: `seventy` in column `test_metric`"), "{message}");
        let message = chain(&read_column(&path, "psnr_y").unwrap_err());
        assert!(message.contains("no column `psnr_y`"), "{message}");
    }
}
