//! # glcan-store
//!
//! Where the suites keep their results, safe under concurrency and misuse:
//! - [`write_atomic`]: the one durable atomic file writer of the workspace (a unique
//!   temporary file beside the target, synced, renamed over it, the folder synced);
//! - [`ResultRow`], [`read_rows`], [`append_row`]: the results CSV, appended atomically
//!   and durably, one writer at a time;
//! - [`read_folder`]: a grid's out folder (a whole grid's `results.csv` and the files of a
//!   job array's shards) as one results set;
//! - [`OutLock`]: the lock a grid (or one shard of it) holds on its `--out` folder;
//! - [`RunConfig`]: a run's resolved config and its hash, the key by which a grid decides
//!   that a finished row is the run it would do again;
//! - [`SpeedRow`], [`write_speed`], [`read_speed`]: a grid's speed file, the throughputs of
//!   one controlled pass, the only ones a report compares.
//!
//! No torch here: writing a row needs neither libtorch nor the plotting crate.

mod atomic;
mod error;
mod folder;
mod lock;
mod results;
mod run_config;
mod speed;

pub use atomic::write_atomic;
pub use error::Error;
pub use folder::{read_folder, results_files, shard_results_file, RESULTS_FILE};
pub use lock::OutLock;
pub use results::{append_row, read_rows, ResultRow, RunStatus};
pub use run_config::RunConfig;
pub use speed::{read_speed, write_speed, SpeedRow, SPEED_FILE};

#[cfg(test)]
mod test_support;
