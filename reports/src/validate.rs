//! What a results CSV must satisfy before any number is computed from it. `reports build`
//! and `reports compare` read results only through [`read_results`], so a row they cannot
//! use is refused by name (file, line, run, column, why) instead of being dropped from a
//! table, printed as nonsense, or counted twice:
//!
//! - every column the suites write is present (serde would read a missing metric column
//!   as "not measured" and the table would vanish);
//! - a finished (`ok`) run carries the metrics its suite measures (classify: `test_accuracy`;
//!   detect: `ap`, `ap50`; sr: `psnr_y`, `ssim_y`, the bicubic baseline rows included),
//!   as finite numbers;
//! - every recorded value is in range: accuracy in [0, 100] %, AP and AP50 in [0, 1], SSIM
//!   in [-1, 1], PSNR finite, throughput and seconds finite and ≥ 0 (byte counts are
//!   unsigned, so a negative one fails to parse and is named like any unreadable value);
//! - a run (suite, dataset, network, preset, method, K, seed) finishes at most once per
//!   file. Failed rows before a finished one are retries and stay: the grids re-run a failed
//!   run and append its new row.

use std::collections::BTreeMap;
use std::path::Path;

use crate::compare::ConfigKey;
use crate::error::Error;
use crate::metric::Metric;
use glcan_store::{ResultRow, RunStatus};

/// Columns older results files may lack, which the reader fills with a default on purpose.
const MAY_BE_ABSENT: [&str; 4] = ["config_hash", "cpu_isa", "kernel_fingerprint", "module_schedule"];

/// Every row of the results at `path`, or an error naming each unusable row. `path` is a
/// results CSV, or a grid's out folder: its `results.csv` and the files of a job array's
/// shards (`results.shard-I-of-N.csv`), read as one results set.
pub fn read_results(path: &Path) -> Result<Vec<ResultRow>, Error> {
    let folder = path.is_dir();
    let files = if folder { glcan_store::results_files(path)? } else { vec![path.to_path_buf()] };
    if files.is_empty() {
        return Err(Error::NoResults { path: path.to_path_buf() });
    }
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    let mut finished: BTreeMap<(ConfigKey, u64), String> = BTreeMap::new();
    for file in &files {
        // In a folder, a row is named by its file and line.
        let place = |line: u64| match folder {
            true => format!("{} line {line}", file.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())),
            false => format!("line {line}"),
        };
        let csv_error = |source| Error::Csv { path: file.clone(), source };
        let mut reader = csv::Reader::from_path(file).map_err(csv_error)?;
        let headers = reader.headers().map_err(csv_error)?.clone();
        // A file that is not even a well-formed CSV says so before its columns are judged.
        let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().map_err(csv_error)?;
        let missing: Vec<String> =
            expected_columns().into_iter().filter(|c| !headers.iter().any(|h| h == c) && !MAY_BE_ABSENT.contains(&c.as_str())).collect();
        if !missing.is_empty() {
            return Err(Error::MissingResultsColumns { path: file.clone(), columns: missing });
        }
        for record in &records {
            let at = place(record.position().map_or(0, |p| p.line()));
            let row: ResultRow = match record.deserialize(Some(&headers)) {
                Ok(row) => row,
                Err(error) => {
                    problems.push(format!("{at}: {}", unreadable(&error, &headers, record)));
                    continue;
                }
            };
            let run = format!("{at} ({} seed {})", ConfigKey::of(&row).title(), row.seed);
            problems.extend(row_problems(&row).into_iter().map(|p| format!("{run}: {p}")));
            if row.status == RunStatus::Ok {
                if let Some(first) = finished.insert((ConfigKey::of(&row), row.seed), at.clone()) {
                    problems.push(format!(
                        "{run}: the same run already finished on {first}; keep one of the two rows (both would count as two seeds)"
                    ));
                }
            }
            rows.push(row);
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(Error::UnusableRows { path: path.to_path_buf(), problems })
    }
}

/// The columns a results file written now has, in order: the header the suites write.
fn expected_columns() -> Vec<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Serialising a plain row into memory cannot fail; an empty list would only skip the check.
    let _ = writer.serialize(ResultRow::unmeasured("classify", ""));
    let text = writer.into_inner().map(String::from_utf8).ok().and_then(Result::ok).unwrap_or_default();
    text.lines().next().unwrap_or_default().split(',').map(str::to_string).collect()
}

/// Why a record does not read as a row, naming the column and its text where csv knows them.
fn unreadable(error: &csv::Error, headers: &csv::StringRecord, record: &csv::StringRecord) -> String {
    if let csv::ErrorKind::Deserialize { err, .. } = error.kind() {
        if let Some(field) = err.field().and_then(|f| usize::try_from(f).ok()) {
            let column = headers.get(field).unwrap_or("?");
            let value = record.get(field).unwrap_or_default();
            return format!("`{column}` is `{value}`, which does not read: {}", err.kind());
        }
        return err.kind().to_string();
    }
    error.to_string()
}

/// What is wrong with one row, one line per field.
fn row_problems(row: &ResultRow) -> Vec<String> {
    let mut problems = Vec::new();
    let required = match Metric::of_suite(&row.suite) {
        Some(metrics) => metrics,
        None => {
            problems.push(format!("`suite` is `{}`, not classify, detect or sr, so which metric it must carry is unknown", row.suite));
            &[]
        }
    };
    for metric in Metric::ALL {
        let column = metric.column();
        match metric.recorded(row) {
            None if row.status == RunStatus::Ok && required.contains(&metric) => {
                problems.push(format!("`{column}` is empty: a finished {} run must record it", row.suite))
            }
            None => {}
            Some(value) if !value.is_finite() => problems.push(format!("`{column}` is {value}: not a finite number")),
            Some(value) => {
                if let Some((low, high)) = metric.recorded_bounds().filter(|&(low, high)| !(low..=high).contains(&value)) {
                    problems.push(format!("`{column}` is {value}, outside [{low}, {high}]"));
                }
            }
        }
    }
    for (column, value) in [("images_per_s", row.images_per_s), ("seconds", row.seconds)] {
        if !value.is_finite() || value < 0.0 {
            problems.push(format!("`{column}` is {value}: must be a finite number ≥ 0"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rows::row;
    use glcan_store::append_row;

    fn write(rows: &[ResultRow]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        for r in rows {
            append_row(&path, r).unwrap();
        }
        (dir, path)
    }

    /// The message of reading `rows` back, which must fail.
    fn refused(rows: &[ResultRow]) -> String {
        let (_dir, path) = write(rows);
        let error = read_results(&path).expect_err("the file must be refused");
        crate::error::chain(&error)
    }

    fn failed(method: &str, k: usize, seed: u64) -> ResultRow {
        ResultRow { status: RunStatus::Failed, test_accuracy: None, error: "out of memory".into(), ..row(method, k, seed, 0.0) }
    }

    fn sr(method: &str, k: usize, psnr: Option<f64>, ssim: Option<f64>) -> ResultRow {
        ResultRow { suite: "sr".into(), test_accuracy: None, psnr_y: psnr, ssim_y: ssim, ..row(method, k, 0, 0.0) }
    }

    #[test]
    fn valid_files_read_back_whole() {
        // The SR bicubic baseline row: K = 1, nothing trained, so no memory or speed.
        let bicubic = ResultRow { step_peak_bytes: 0, images_per_s: 0.0, epochs: 0, ..sr("bicubic", 1, Some(31.9), Some(0.86)) };
        let detect = ResultRow { suite: "detect".into(), test_accuracy: None, ap: Some(0.0), ap50: Some(1.0), ..row("glcan", 2, 0, 0.0) };
        // A failed run retried until it finished: history, not a duplicate.
        let rows = vec![
            row("e2e", 1, 0, 0.0),
            row("e2e", 1, 1, 100.0),
            failed("glcan", 2, 0),
            failed("glcan", 2, 0),
            row("glcan", 2, 0, 75.0),
            bicubic,
            sr("glcan", 2, Some(-3.0), Some(-1.0)),
            detect,
        ];
        let (_dir, path) = write(&rows);
        assert_eq!(read_results(&path).unwrap(), rows);
    }

    #[test]
    fn a_folder_of_shards_reads_as_one_results_set_and_refuses_a_run_twice() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (row("e2e", 1, 0, 90.0), row("glcan", 2, 0, 80.0));
        append_row(&dir.path().join("results.shard-0-of-2.csv"), &a).unwrap();
        append_row(&dir.path().join("results.shard-1-of-2.csv"), &b).unwrap();
        assert_eq!(read_results(dir.path()).unwrap(), vec![a.clone(), b]);
        append_row(&dir.path().join("results.csv"), &a).unwrap();
        let message = crate::error::chain(&read_results(dir.path()).unwrap_err());
        assert!(
            message.contains("results.shard-0-of-2.csv line 2") && message.contains("the same run already finished on results.csv line 2"),
            "{message}"
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(crate::error::chain(&read_results(empty.path()).unwrap_err()).contains("no results files"));
    }

    #[test]
    fn a_finished_run_without_its_metric_is_refused() {
        let path_of = |text: &str| text.split(": ").next().unwrap().to_string();
        let text =
            refused(&[row("e2e", 1, 0, 76.0), ResultRow { test_accuracy: None, ..row("glcan", 2, 0, 0.0) }, row("glcan", 2, 1, f64::NAN)]);
        assert!(path_of(&text).ends_with("results.csv"), "{text}");
        assert!(text.contains(": 2 rows cannot be used:\n"), "{text}");
        assert!(text.contains("\n  line 3 (classify · fashion-mnist · resnet8 · preset test · GLCAN K = 2 seed 0): `test_accuracy` is empty: a finished classify run must record it"), "{text}");
        assert!(text.contains("\n  line 4 (classify · fashion-mnist · resnet8 · preset test · GLCAN K = 2 seed 1): `test_accuracy` is NaN: not a finite number"), "{text}");

        let detect = ResultRow { suite: "detect".into(), test_accuracy: None, ap: Some(0.3), ap50: None, ..row("dgl", 2, 0, 0.0) };
        assert!(refused(&[detect]).contains("DGL K = 2 seed 0): `ap50` is empty: a finished detect run must record it"));
        let text = refused(&[sr("bicubic", 1, Some(31.9), None)]);
        assert!(
            text.contains(
                "sr · fashion-mnist · resnet8 · preset test · Bicubic K = 1 seed 0): `ssim_y` is empty: a finished sr run must record it"
            ),
            "{text}"
        );
        let text = refused(&[ResultRow { suite: "segment".into(), ..row("e2e", 1, 0, 76.0) }]);
        assert!(text.contains("`suite` is `segment`, not classify, detect or sr"), "{text}");
    }

    #[test]
    fn values_out_of_range_are_refused_by_row_and_column() {
        let cases: [(ResultRow, &str); 9] = [
            (row("e2e", 1, 0, 250.0), "`test_accuracy` is 250, outside [0, 100]"),
            (row("e2e", 1, 0, -0.5), "`test_accuracy` is -0.5, outside [0, 100]"),
            (
                ResultRow { suite: "detect".into(), test_accuracy: None, ap: Some(1.5), ap50: Some(0.5), ..row("e2e", 1, 0, 0.0) },
                "`ap` is 1.5, outside [0, 1]",
            ),
            (
                ResultRow { suite: "detect".into(), test_accuracy: None, ap: Some(0.1), ap50: Some(-0.1), ..row("e2e", 1, 0, 0.0) },
                "`ap50` is -0.1, outside [0, 1]",
            ),
            (sr("e2e", 1, Some(30.0), Some(1.2)), "`ssim_y` is 1.2, outside [-1, 1]"),
            (sr("e2e", 1, Some(f64::INFINITY), Some(0.9)), "`psnr_y` is inf: not a finite number"),
            (ResultRow { images_per_s: -3.0, ..row("e2e", 1, 0, 76.0) }, "`images_per_s` is -3: must be a finite number ≥ 0"),
            (ResultRow { seconds: f64::NAN, ..row("e2e", 1, 0, 76.0) }, "`seconds` is NaN: must be a finite number ≥ 0"),
            // Failed runs are held to the ranges too: a broken value is never harmless.
            (ResultRow { test_accuracy: Some(101.0), ..failed("e2e", 1, 0) }, "`test_accuracy` is 101, outside [0, 100]"),
        ];
        for (bad, expected) in cases {
            let text = refused(&[bad]);
            assert!(text.contains("line 2 (") && text.contains(&format!("seed 0): {expected}")), "{expected}: {text}");
        }
    }

    #[test]
    fn unreadable_values_name_their_column() {
        let (_dir, path) = write(&[row("e2e", 1, 0, 76.0)]);
        let text = std::fs::read_to_string(&path).unwrap().replace(",50000000,", ",-5,");
        std::fs::write(&path, text).unwrap();
        let message = crate::error::chain(&read_results(&path).unwrap_err());
        assert!(
            message.contains("results.csv: 1 row cannot be used:\n  line 2: `step_peak_bytes` is `-5`, which does not read: "),
            "{message}"
        );
    }

    #[test]
    fn a_run_finished_twice_is_refused_with_both_lines() {
        let text =
            refused(&[row("glcan", 2, 0, 75.0), row("e2e", 1, 0, 76.0), ResultRow { method: "GLCAN".into(), ..row("glcan", 2, 0, 10.0) }]);
        assert!(text.contains("1 row cannot be used:\n  line 4 (classify · fashion-mnist · resnet8 · preset test · GLCAN K = 2 seed 0): the same run already finished on line 2; keep one of the two rows"), "{text}");
        // Another seed, K, preset or dataset is another run.
        let others = [
            row("glcan", 2, 1, 75.0),
            row("glcan", 4, 0, 75.0),
            ResultRow { preset: "quick".into(), ..row("glcan", 2, 0, 75.0) },
            ResultRow { dataset: "mnist".into(), ..row("glcan", 2, 0, 75.0) },
        ];
        let mut rows = vec![row("glcan", 2, 0, 75.0)];
        rows.extend(others);
        let (_dir, path) = write(&rows);
        assert_eq!(read_results(&path).unwrap().len(), 5);
    }

    #[test]
    fn a_missing_column_is_named_with_the_file() {
        let (_dir, path) = write(&[row("e2e", 1, 0, 76.0)]);
        let text = std::fs::read_to_string(&path).unwrap();
        let drop = |text: &str, column: &str| {
            let index = text.lines().next().unwrap().split(',').position(|c| c == column).unwrap();
            text.lines()
                .map(|line| line.split(',').enumerate().filter(|&(i, _)| i != index).map(|(_, c)| c).collect::<Vec<_>>().join(",") + "\n")
                .collect::<String>()
        };
        std::fs::write(&path, drop(&text, "test_accuracy")).unwrap();
        assert_eq!(
            crate::error::chain(&read_results(&path).unwrap_err()),
            format!("{}: column `test_accuracy` missing: a results file needs every column the suites write", path.display())
        );
        std::fs::write(&path, drop(&drop(&text, "ap"), "seconds")).unwrap();
        assert!(crate::error::chain(&read_results(&path).unwrap_err())
            .ends_with(": columns `ap`, `seconds` missing: a results file needs every column the suites write"));
    }
}
