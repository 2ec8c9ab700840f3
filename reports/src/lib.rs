//! # reports
//!
//! Results CSVs (one row per run, written by the suites) turned into Markdown tables and
//! PNG/SVG plots. The CSV stays the source of truth; everything here is derived from it by
//! one command.

pub mod results;
