//! # reports
//!
//! Results CSVs (one row per run, written by the suites) turned into Markdown tables and
//! PNG/SVG plots. The CSV stays the source of truth; everything here is derived from it by
//! one command, `reports build` (see [`report::build`]). `reports compare` checks a results
//! CSV against a committed baseline, the regression check of CI (see [`compare`] for the
//! rule and [`compare_report::run`] for what it writes). Both read results only through
//! [`validate::read_results`], which refuses a row it cannot use by name.

pub mod compare;
pub mod compare_plot;
pub mod compare_report;
pub mod crops;
pub mod curves;
pub mod error;
pub mod group;
pub mod methods;
pub mod metric;
pub mod module_losses;
pub mod pictures;
pub mod plots;
pub mod published;
pub mod report;
pub mod sources;
pub mod speed;
pub mod summary;
pub mod tables;
pub mod validate;

pub use error::Error;
pub use metric::{Direction, Metric};
pub use report::{build, Built};
pub use tables::ReportContext;

#[cfg(test)]
mod test_rows;
