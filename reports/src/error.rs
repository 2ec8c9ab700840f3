//! The crate's error type: every variant names the file it is about, and keeps the
//! underlying error as its source so `{:#}` and [`chain`] print the whole story.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a results CSV or writing a file (glcan-store's writer) failed.
    #[error(transparent)]
    Store(#[from] glcan_store::Error),
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading {}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("{}: no column `{column}`", path.display())]
    MissingColumn { path: PathBuf, column: String },
    #[error("{}: line {line}: `{value}` in column `{column}` is not a number", path.display())]
    BadValue { path: PathBuf, line: u64, column: String, value: String },
    #[error("{}: {} missing: a results file needs every column the suites write", path.display(), columns_list(columns))]
    MissingResultsColumns { path: PathBuf, columns: Vec<String> },
    #[error("{}: {}", path.display(), rows_list(problems))]
    UnusableRows { path: PathBuf, problems: Vec<String> },
    #[error("{}: no results files (results.csv or results.shard-I-of-N.csv) in this folder", path.display())]
    NoResults { path: PathBuf },
    #[error("{}: no finished runs, nothing to compare against", path.display())]
    NoRuns { path: PathBuf },
    #[error("{}: {message}", path.display())]
    Manifest { path: PathBuf, message: String },
    #[error("drawing {}: {message}", path.display())]
    Plot { path: PathBuf, message: String },
    #[error("encoding {}", path.display())]
    Png {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
}

/// `column `ap50`` or `columns `ap`, `ap50``.
fn columns_list(columns: &[String]) -> String {
    let names: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
    format!("column{} {}", if columns.len() == 1 { "" } else { "s" }, names.join(", "))
}

/// One problem per line under a count, so a long list stays readable on a terminal.
fn rows_list(problems: &[String]) -> String {
    let count = match problems.len() {
        1 => "1 row cannot be used".to_string(),
        n => format!("{n} rows cannot be used"),
    };
    problems.iter().fold(format!("{count}:"), |text, problem| format!("{text}\n  {problem}"))
}

/// One line with every cause, outermost first. A cause already spelled out at the end of
/// the previous message (some errors embed their source in their own text) is not repeated.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = String::new();
    let mut current = Some(error);
    while let Some(cause) = current {
        let text = cause.to_string();
        if !line.ends_with(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        current = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_names_file_and_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let error = Error::Io { path: "runs/a/metrics.csv".into(), source: io };
        assert_eq!(chain(&error), "runs/a/metrics.csv: gone");
    }
}
