//! `bench-sr`: the super-resolution suite of local learning: EDSR trained end to end, with
//! the plain local baseline (method `dgl`: conv head + up-sampler) or with GLCAN, on our HR
//! photo pool or DIV2K; PSNR/SSIM on Y against the bicubic baseline row.

mod crops;
mod data;
mod evaluate;
mod grid;
mod measure;
mod sources;
mod task;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use glcan_core::cpu_kernels::{self, CpuIsa};

/// Local learning of deep networks on single-image super-resolution.
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
    /// PSNR and SSIM on Y between an HR image and its estimate, as one JSON object.
    ///
    /// Y is MATLAB's rgb2ycbcr luma, `scale` pixels are cropped at each border, as the SR
    /// literature reports them. Prints {"psnr_y": dB, "ssim_y": ...}; identical images give
    /// "psnr_y": "inf" (JSON has no infinity). Both files are read as RGB (grey files
    /// with R = G = B).
    Metrics {
        /// The ground-truth high-resolution image.
        #[arg(long)]
        hr: PathBuf,
        /// The estimate, of the same size.
        #[arg(long)]
        sr: PathBuf,
        /// The up-scaling factor, also the border cropped on each side (0: no crop).
        #[arg(long)]
        scale: usize,
    },
    /// The bicubic baseline row: PSNR/SSIM on Y of bicubic up-scaling, per image and mean.
    ///
    /// For each listed HR image: crop it to a multiple of the scale,
    /// shrink it with MATLAB-exact bicubic imresize, enlarge it back the same way, and
    /// score it against the HR image. Prints one JSON line per image, then one with the
    /// means.
    Bicubic {
        /// Folder holding the HR images.
        #[arg(long)]
        hr_dir: PathBuf,
        /// Text file naming the images of --hr-dir, one per line (blank lines and lines
        /// starting with # ignored), e.g. data/sr-pool/test.txt.
        #[arg(long)]
        list: PathBuf,
        /// The up-scaling factor (2, 3, 4, ...).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        scale: u32,
    },
    /// Peak memory and images/s of EDSR training steps on random patches, as one JSON
    /// object (EDSR-baseline at x2, batch 16 of 48 px patches by default).
    Measure(measure::MeasureArgs),
    /// Run every (scale, method, K, seed) of a preset file (configs/sr-*.toml), plus the
    /// bicubic row of every test set, appending rows to <out>/results.csv.
    ///
    /// Each trained run adds one row per test set (PSNR/SSIM on Y, step peak memory,
    /// images/s) and saves crops of its SR output under runs/<run-id>/crops/ for the
    /// report's image grid. Runs already done are skipped, interrupted ones resumed.
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
        Command::Metrics { hr, sr, scale } => {
            println!("{}", evaluate::metrics(&hr, &sr, scale)?);
            Ok(())
        }
        Command::Bicubic { hr_dir, list, scale } => {
            let summary = evaluate::bicubic(&hr_dir, &list, scale as usize, |row| println!("{row}"))?;
            println!("{summary}");
            Ok(())
        }
        Command::Measure(args) => {
            println!("{}", serde_json::to_string(&measure::run(&args)?)?);
            Ok(())
        }
        Command::Grid(args) => glcan_runner::run_grid::<grid::Sr>(args, cli.cpu_isa),
    }
}
