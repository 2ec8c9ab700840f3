//! `bench-classify`: the classification suites of local learning (E2E, Greedy SL, DGL,
//! InfoPro, GLCAN) on MNIST, Fashion-MNIST, CIFAR-10/100, SVHN and STL-10.

mod args;
mod datasets;
mod grid;
mod inspect;
mod measure;
mod progress;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use glcan_core::cpu_kernels::{self, CpuIsa};

/// Local learning of deep networks on image classification.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// CPU kernels: `avx2` (the default: the same numbers and peak memory on every x86-64
    /// CPU with AVX2) or `native` (this CPU's fastest). A grid takes its preset's `cpu_isa`
    /// unless this flag is given.
    #[arg(long, global = true, value_parser = str::parse::<CpuIsa>)]
    cpu_isa: Option<CpuIsa>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the classification datasets found under the data folder, with sizes, class
    /// counts and the time of one loading epoch.
    Datasets {
        /// Default: $GLCAN_DATA_DIR or data/.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Peak memory and images/s of a training step on random input, as one JSON object.
    Measure(measure::MeasureArgs),
    /// Train one network with one method on one dataset; prints one line per epoch and a
    /// JSON summary.
    Train(train::TrainArgs),
    /// Run every (dataset, network, method, K, seed) of a preset file (configs/*.toml),
    /// appending one row per run to <out>/results.csv; runs already done are skipped.
    Grid(glcan_runner::GridArgs),
}

fn main() -> ExitCode {
    glcan_core::entry::run_binary(env!("GLCAN_GIT_COMMIT"), || run(Cli::parse()))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // A grid pins the kernels its preset asks for; every other command pins them here,
    // before its first tensor.
    if !matches!(cli.command, Command::Grid(_)) {
        cpu_kernels::pin(cli.cpu_isa.unwrap_or_default())?;
    }
    match cli.command {
        Command::Datasets { data_dir } => inspect::run(&data_dir.unwrap_or_else(glcan_core::paths::data_root)),
        Command::Measure(args) => {
            println!("{}", serde_json::to_string(&measure::run(&args)?)?);
            Ok(())
        }
        Command::Grid(args) => glcan_runner::run_grid::<grid::Classify>(args, cli.cpu_isa),
        Command::Train(args) => {
            let outcome = train::run(&args)?;
            println!("{}", serde_json::to_string(outcome.last())?);
            Ok(())
        }
    }
}
