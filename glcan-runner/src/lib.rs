//! # glcan-runner
//!
//! The experiment runner every suite plugs into. A preset names what to run (methods, K,
//! seeds, the training recipe, and the suite's own section: datasets, networks, scales,
//! the detector); the runner reads it ([`Grid::load`]: bases merged, `--set` applied,
//! every field checked before any data loads), lists its runs, skips those already done,
//! resumes interrupted ones, gives each a run directory and its results rows, and splits
//! the list into shards for job arrays. A [`Suite`] supplies only what is its own: the
//! section, datasets, network, task and the metrics of a row.

mod cli;
mod execute;
mod grid;
mod shard;
mod slurm;
mod speed;
mod suite;

pub use cli::{run_grid, GridArgs};
pub use execute::{base_row, run, Tally};
pub use grid::{Common, Grid, Run};
pub use shard::Shard;
pub use speed::Protocol as SpeedProtocol;
pub use suite::{Baselines, RunJob, SpeedTask, Suite, Trained};
