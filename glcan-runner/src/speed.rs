//! `grid --speed-pass`: the grid's training-step throughput, measured in one dedicated pass.
//!
//! Runs that train side by side, or beside anything else, measure the machine's load as
//! much as the method; a report compares only figures from one pass like this. For each
//! configuration of the grid (its first seed's run) the pass builds the network as the run
//! would, times training steps on random input of the run's shape (warm-up steps, then
//! several windows; each window's median step time, then the median and the range over
//! windows), pinned to the grid's threads, and records the load average before and after.
//! The rows go to `<out>/speed.csv`, written whole at the end, replacing an earlier pass of
//! the same suite and preset.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use glcan_core::aux::LocalTargets;
use glcan_core::run_env::{now_rfc3339, parse_device, set_threads, Environment};
use glcan_core::train::LocalNetwork;
use glcan_store::{OutLock, SpeedRow, SPEED_FILE};
use tch::{Device, Kind, Tensor};

use crate::grid::{Grid, Run};
use crate::suite::Suite;

/// How each configuration is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol {
    /// Untimed steps first (optimizer state, allocator caches).
    pub warmup_steps: usize,
    pub windows: usize,
    pub steps_per_window: usize,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol { warmup_steps: 2, windows: 5, steps_per_window: 3 }
    }
}

/// Times every configuration of `grid` and writes `<out>/speed.csv`; returns its path.
/// Holds the out folder's lock, so it never runs beside that folder's training.
pub fn run<S: Suite>(grid: &Grid<S::Section>, out: &Path, data_dir: &Path, protocol: Protocol) -> Result<PathBuf> {
    ensure!(protocol.windows >= 1 && protocol.steps_per_window >= 1, "the speed pass needs at least one window of one step");
    ensure!(
        grid.common.module_schedule.is_sequential(),
        "the speed pass times the sequential schedule; time a pipelined one with the suite's `measure --schedule pipelined`"
    );
    let device = parse_device(&grid.common.device)?;
    set_threads(grid.common.threads)?;
    let _lock = OutLock::acquire(out)?;
    let environment = Environment::capture(device);
    let mut suite = S::open(grid, data_dir)?;
    let configurations = first_seed_runs::<S>(grid);
    let threads = usize::try_from(tch::get_num_threads()).unwrap_or(0);
    let load = load_average();
    if load > 0.5 {
        eprintln!("speed: note: the 1-minute load is {load:.2} before the pass: something else is running, and the rows record it");
    }
    let mut rows = Vec::with_capacity(configurations.len());
    for (i, run) in configurations.iter().enumerate() {
        let id = grid.run_id::<S>(run);
        let load_before = load_average();
        let figures = time_configuration::<S>(&mut suite, grid, run, device, protocol).with_context(|| format!("timing {id}"))?;
        let (dataset, network) = S::row_labels(&grid.suite, &run.point);
        let config_hash = grid.run_config::<S>(run)?.config_hash;
        let row = SpeedRow {
            suite: S::TASK.into(),
            dataset,
            network,
            preset: grid.common.preset.clone(),
            method: run.method.name().into(),
            k: run.k,
            batch_size: grid.common.batch_size,
            device: environment.device.clone(),
            threads,
            cpu_isa: environment.cpu_kernels.label(),
            images_per_s: figures.median,
            images_per_s_low: figures.low,
            images_per_s_high: figures.high,
            warmup_steps: protocol.warmup_steps,
            windows: protocol.windows,
            steps_per_window: protocol.steps_per_window,
            load_before,
            load_after: load_average(),
            git_commit: environment.git_commit.clone(),
            config_hash,
            measured_at: now_rfc3339(),
        };
        eprintln!(
            "speed [{}/{}] {id}: {:.1} img/s (windows {:.1}-{:.1}; load {:.2} -> {:.2})",
            i + 1,
            configurations.len(),
            row.images_per_s,
            row.images_per_s_low,
            row.images_per_s_high,
            row.load_before,
            row.load_after
        );
        rows.push(row);
    }
    // Out folders shared by suites (the smoke grids) keep the other suites' and presets' rows.
    let path = out.join(SPEED_FILE);
    let mine = |row: &SpeedRow| row.suite == S::TASK && row.preset == grid.common.preset;
    let kept = if path.exists() { glcan_store::read_speed(&path)?.into_iter().filter(|row| !mine(row)).collect() } else { Vec::new() };
    glcan_store::write_speed(&path, &[kept, rows].concat())?;
    Ok(path)
}

/// One run per configuration: the grid's runs of its first seed.
fn first_seed_runs<S: Suite>(grid: &Grid<S::Section>) -> Vec<Run<S::Point>> {
    let first = grid.common.seeds.first().copied();
    grid.runs::<S>().into_iter().filter(|run| Some(run.seed) == first).collect()
}

/// Images per second over the windows: median, lowest, highest.
struct Figures {
    median: f64,
    low: f64,
    high: f64,
}

fn time_configuration<S: Suite>(
    suite: &mut S,
    grid: &Grid<S::Section>,
    run: &Run<S::Point>,
    device: Device,
    protocol: Protocol,
) -> Result<Figures> {
    let shape = suite.speed_task(grid, &run.point)?;
    let network = shape.network.as_ref();
    let config = grid.train_config::<S>(run, network)?;
    tch::manual_seed(run.seed as i64);
    let mut net = LocalNetwork::build(network, shape.task.as_ref(), &config, shape.channels, shape.size, device)?;
    let batch = grid.common.batch_size as i64;
    let images = Tensor::randn([batch, shape.channels, shape.size, shape.size], (Kind::Float, device));
    let raw_images = Tensor::rand([batch, shape.channels, shape.size, shape.size], (Kind::Float, device));
    let target = shape.task.timing_target(network, batch, device).context("the task gives no timing target")?;
    let targets = LocalTargets { images: &images, raw_images: &raw_images, target: &target };
    let mut step = || -> Result<f64> {
        let started = Instant::now();
        net.train_step(&images, &targets, config.lr)
            .map_err(|f| anyhow::anyhow!("loss of module {} is {} on random input", f.module, f.value))?;
        if let Device::Cuda(index) = device {
            tch::Cuda::synchronize(index as i64);
        }
        Ok(started.elapsed().as_secs_f64())
    };
    for _ in 0..protocol.warmup_steps {
        step()?;
    }
    let mut per_window = Vec::with_capacity(protocol.windows);
    for _ in 0..protocol.windows {
        let mut seconds = (0..protocol.steps_per_window).map(|_| step()).collect::<Result<Vec<f64>>>()?;
        per_window.push(batch as f64 / median(&mut seconds));
    }
    let middle = median(&mut per_window);
    Ok(Figures { median: middle, low: per_window[0], high: per_window[per_window.len() - 1] })
}

/// The median of `values` (sorted in place; the upper one of an even count).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The 1-minute load average (`/proc/loadavg`); NaN where the system has none.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg").ok().and_then(|text| text.split_whitespace().next()?.parse().ok()).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_the_middle_value() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 3.0);
    }

    #[test]
    fn load_average_reads_a_number_here() {
        assert!(load_average() >= 0.0);
    }
}
