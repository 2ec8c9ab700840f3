//! Running a grid: each run not yet done, one after another, into its run directory and
//! the results file of the grid (or of its shard).
//!
//! Each run gets a run directory (`runs/<run-id>-<hash8>/`: the resolved `config.json` with
//! the run's config hash, `preset.json` (the whole resolved preset), `env.json`, the
//! per-epoch `metrics.csv`, `checkpoint.ot`, and what the suite adds) and its rows in the
//! results file, appended atomically. A failed run is recorded as failed, with its error,
//! and the grid goes on. The grid holds the lock of its `--out` folder throughout (a shard,
//! its own lock and the folder's shared). A later invocation skips runs that have an `ok`
//! row with the same config hash in any results file of the folder (a changed recipe is a
//! new run in a new folder; added seeds leave finished runs alone) and resumes interrupted
//! ones from their checkpoint.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use glcan_core::c10d::{self, Rendezvous};
use glcan_core::run_env::{now_rfc3339, parse_device, set_threads, Environment};
use glcan_store::{append_row, read_folder, write_atomic, OutLock, ResultRow, RunStatus};

use crate::grid::{Grid, Run};
use crate::shard::Shard;
use crate::suite::{Baselines, RunJob, Suite, Trained};

/// What a grid invocation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub ran: usize,
    pub skipped: usize,
    pub failed: usize,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.ran += other.ran;
        self.skipped += other.skipped;
        self.failed += other.failed;
    }
}

/// Runs the grid (or its `shard`) into `out`, reading data under `data_dir`; returns the
/// results file written and what was done.
pub fn run<S: Suite>(grid: &Grid<S::Section>, out: &Path, data_dir: &Path, shard: Option<Shard>) -> Result<(PathBuf, Tally)> {
    // Every rank would run every run and append its row: a grid is one process per shard.
    if let Some(rank) = Rendezvous::from_env(|name| std::env::var(name).ok(), c10d::DEFAULT_TIMEOUT)? {
        anyhow::bail!(
            "launched as rank {} of {} (RANK/WORLD_SIZE or SLURM_PROCID/SLURM_NTASKS): a grid runs one process per shard \
             (--shard, or a Slurm job array); ranks are for `train` and `measure`",
            rank.rank,
            rank.world_size
        );
    }
    let device = parse_device(&grid.common.device)?;
    set_threads(grid.common.threads)?;
    let (_lock, results) = match shard {
        None => (OutLock::acquire(out)?, out.join(glcan_store::RESULTS_FILE)),
        Some(shard) => (OutLock::acquire_shard(out, &shard.name())?, out.join(glcan_store::shard_results_file(shard.index, shard.count))),
    };
    let done = read_folder(out)?;
    let environment = Environment::capture(device);
    let mut suite = S::open(grid, data_dir)?;
    let mut tally = Tally::default();
    if shard.is_none_or(|s| s.index == 0) {
        tally += suite.baselines(grid, &mut Baselines { out, environment: &environment, done: &done, results: &results })?;
    }
    let runs: Vec<(usize, Run<S::Point>)> =
        grid.runs::<S>().into_iter().enumerate().filter(|(position, _)| shard.is_none_or(|s| s.runs(*position))).collect();
    for (i, (_, run)) in runs.iter().enumerate() {
        let run_config = grid.run_config::<S>(run)?;
        let is_done = |row: &ResultRow| {
            row.status == RunStatus::Ok
                && row.config_hash == run_config.config_hash
                && row.method == run.method.name()
                && row.k == run.k
                && row.seed == run.seed
        };
        if done.iter().any(is_done) {
            tally.skipped += 1;
            continue;
        }
        let id = grid.run_id::<S>(run);
        eprintln!("grid [{}/{}] {id}", i + 1, runs.len());
        let run_dir = PathBuf::from("runs").join(run_config.dir_name(&id));
        let started = Instant::now();
        let row = ResultRow {
            config_hash: run_config.config_hash.clone(),
            method: run.method.name().into(),
            k: run.k,
            seed: run.seed,
            epochs: grid.common.epochs,
            batch_size: grid.common.batch_size,
            module_schedule: grid.common.module_schedule.name().into(),
            ..base_row(S::TASK, &grid.common.preset, &environment, &run_dir)
        };
        let (dataset, network) = S::row_labels(&grid.suite, &run.point);
        let row = ResultRow { dataset, network, ..row };
        let train_config = grid.train_config::<S>(run, S::network(&grid.suite, &run.point)?.as_ref())?;
        let mut job = RunJob { id: id.clone(), run_dir: out.join(&run_dir), train_config, run_config, device, resume: false, row };
        let outcome = prepare(grid, &mut job, &environment).and_then(|()| suite.train(grid, run, &job));
        let seconds = started.elapsed().as_secs_f64();
        let rows = match outcome {
            Ok(trained) => measured_rows(trained),
            Err(error) => {
                tally.failed += 1;
                eprintln!("grid: {id} failed: {error:#}");
                vec![ResultRow { status: RunStatus::Failed, error: format!("{error:#}"), ..job.row.clone() }]
            }
        };
        for row in rows {
            append_row(&results, &ResultRow { seconds, finished_at: now_rfc3339(), ..row })?;
        }
        tally.ran += 1;
    }
    Ok((results, tally))
}

/// The run directory's files before training: `config.json` (refused if it holds another
/// config), `env.json`, `preset.json`; and whether a checkpoint is there to resume.
fn prepare<T: serde::Serialize>(grid: &Grid<T>, job: &mut RunJob, environment: &Environment) -> Result<()> {
    glcan_core::train::write_grid_run_config(&job.run_dir, &job.train_config, &job.run_config)?;
    write_atomic(&job.run_dir.join("env.json"), serde_json::to_string_pretty(environment)?.as_bytes())?;
    // The whole preset as resolved (config.json's `preset` leaves out the iterated lists).
    write_atomic(&job.run_dir.join("preset.json"), serde_json::to_string_pretty(grid)?.as_bytes())?;
    job.resume = job.run_dir.join("checkpoint.ot").exists();
    Ok(())
}

/// The suite's rows with what every run measures: step peak memory, peak RSS, the median
/// images/s over the epochs, parameters, training images.
fn measured_rows(trained: Trained) -> Vec<ResultRow> {
    let outcome = &trained.outcome;
    let mut speeds: Vec<f64> = outcome.epochs.iter().map(|e| e.images_per_s).collect();
    speeds.sort_by(f64::total_cmp);
    let median = speeds.get(speeds.len() / 2).copied().unwrap_or(0.0);
    trained
        .rows
        .into_iter()
        .map(|row| ResultRow {
            train_images: trained.train_images,
            step_peak_bytes: outcome.step_peak_bytes(),
            peak_rss_bytes: outcome.last().peak_rss_bytes,
            images_per_s: median,
            network_parameters: outcome.network_parameters,
            ..row
        })
        .collect()
}

/// A row of suite `task` and `preset` with the machine and the run directory filled in; the
/// caller stamps `finished_at` when the row is done.
pub fn base_row(task: &str, preset: &str, environment: &Environment, run_dir: &Path) -> ResultRow {
    ResultRow {
        device: environment.device.clone(),
        threads: environment.threads.max(0) as usize,
        cpu_isa: environment.cpu_kernels.label(),
        kernel_fingerprint: environment.kernel_fingerprint.clone(),
        git_commit: environment.git_commit.clone(),
        run_dir: run_dir.display().to_string(),
        ..ResultRow::unmeasured(task, preset)
    }
}
