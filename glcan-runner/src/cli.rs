//! The `grid` subcommand of every suite's binary.

use std::path::PathBuf;

use anyhow::{ensure, Result};
use glcan_core::cpu_kernels::CpuIsa;

use crate::grid::Grid;
use crate::shard::Shard;
use crate::suite::Suite;

/// Run every run of a preset file (configs/*.toml), appending its rows to <out>/results.csv;
/// runs already done are skipped, interrupted ones resumed.
#[derive(Debug, clap::Args)]
pub struct GridArgs {
    /// The preset, e.g. configs/quick.toml. A preset may inherit from others:
    /// `base = "quick.toml"` (or a list, merged in order), paths relative to the preset.
    #[arg(long)]
    pub config: PathBuf,
    /// Folder for the results file(s) and the run directories.
    #[arg(long)]
    pub out: PathBuf,
    /// Default: $GLCAN_DATA_DIR or data/.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Override a preset field, in TOML syntax: --set epochs=5 --set 'seeds=[0,1]'.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub overrides: Vec<String>,
    /// Run only shard I of N (0 <= I < N): every N-th run of the grid from run I, rows in
    /// <out>/results.shard-I-of-N.csv. Shards of one grid may run side by side on one out
    /// folder; `reports` reads the folder as one results set. Default: Slurm's array task
    /// (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT) when set.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Print an `sbatch` script that runs the grid as a Slurm job array of N shards (one
    /// per run when N is not given) and exit.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "0")]
    pub emit_slurm: Option<usize>,
    /// List the grid's runs (id, shard, config hash) and exit without training.
    #[arg(long)]
    pub list: bool,
    /// Instead of training, time each configuration's training step (the first seed's
    /// run) on random input of its shape, in one pass on this otherwise idle machine, and
    /// write <OUT>/speed.csv: the median and range of images/s over several windows and
    /// the load average around each. Reports compare only these throughputs.
    #[arg(long, conflicts_with_all = ["list", "emit_slurm", "shard"])]
    pub speed_pass: bool,
    /// Speed pass: timed windows per configuration.
    #[arg(long, value_name = "N", default_value_t = crate::SpeedProtocol::default().windows, requires = "speed_pass")]
    pub speed_windows: usize,
    /// Speed pass: steps per window (each window's median step time is one sample).
    #[arg(long, value_name = "N", default_value_t = crate::SpeedProtocol::default().steps_per_window, requires = "speed_pass")]
    pub speed_steps: usize,
}

/// `grid` for suite `S`; `cpu_isa` is the binary's global flag, which overrides the preset.
pub fn run_grid<S: Suite>(mut args: GridArgs, cpu_isa: Option<CpuIsa>) -> Result<()> {
    if let Some(isa) = cpu_isa {
        args.overrides.push(format!("cpu_isa=\"{isa}\""));
    }
    let grid = Grid::<S::Section>::load::<S>(&args.config, &args.overrides)?;
    if let Some(shards) = args.emit_slurm {
        let shards = if shards == 0 { grid.runs::<S>().len() } else { shards };
        print!("{}", crate::slurm::script::<S>(&grid, shards, &args.config, &args.out, args.data_dir.as_deref(), &args.overrides)?);
        return Ok(());
    }
    if args.speed_pass {
        let protocol = crate::SpeedProtocol { windows: args.speed_windows, steps_per_window: args.speed_steps, ..Default::default() };
        let data_dir = args.data_dir.clone().unwrap_or_else(glcan_core::paths::data_root);
        let path = crate::speed::run::<S>(&grid, &args.out, &data_dir, protocol)?;
        eprintln!("grid {}: speed pass written to {}", grid.common.preset, path.display());
        return Ok(());
    }
    let shard = match args.shard {
        Some(shard) => Some(shard),
        None => Shard::from_slurm(|name| std::env::var(name).ok())?,
    };
    if args.list {
        for (position, run) in grid.runs::<S>().iter().enumerate() {
            let mine = shard.is_none_or(|s| s.runs(position));
            println!(
                "{}\t{}\t{}",
                grid.run_id::<S>(run),
                grid.run_config::<S>(run)?.config_hash,
                if mine { "runs here" } else { "other shard" }
            );
        }
        return Ok(());
    }
    let data_dir = args.data_dir.unwrap_or_else(glcan_core::paths::data_root);
    let (results, tally) = crate::execute::run::<S>(&grid, &args.out, &data_dir, shard)?;
    let of_shard = shard.map_or_else(String::new, |s| format!(" (shard {s})"));
    eprintln!(
        "grid {}{of_shard}: {} runs done ({} failed), {} already complete; results in {}",
        grid.common.preset,
        tally.ran,
        tally.failed,
        tally.skipped,
        results.display()
    );
    ensure!(tally.failed == 0, "{} of the grid's runs failed (recorded in {})", tally.failed, results.display());
    Ok(())
}
