//! `bench-detect`: the object-detection suite of local learning: the digit-detection set
//! generator, the grid of E2E / DGL / GLCAN runs of a RetinaNet-style detector, and the
//! evaluator (COCO-style AP with pycocotools' rules, VOC AP50) of a results file.

mod eval;
mod measure;

use std::path::PathBuf;
use std::process::ExitCode;

use bench_detect::digits::{self, DigitsConfig};
use bench_detect::grid::Detect;
use clap::{Parser, Subcommand};
use glcan_core::cpu_kernels::{self, CpuIsa};

/// Local learning of deep networks on object detection.
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
    /// Score a COCO results file against a COCO instances file. Prints one JSON object:
    /// pycocotools' twelve summary statistics with its rules, AP (IoU .50:.95), AP50, AP75,
    /// APs, APm, APl (100 detections per image and category), AR1, AR10, AR100 (recall at
    /// 1, 10, 100 detections per image), ARs, ARm, ARl, and VOC_AP50 (all-point), on the
    /// 0-1 scale, -1 where undefined.
    Eval(eval::EvalArgs),
    /// Write the digit-detection set: real MNIST digits on canvases, with exact boxes, as
    /// COCO JSON and VOC XML (train canvases from MNIST train digits, test from test digits).
    MakeDigits {
        /// Output folder (must not exist, unless it holds a set made with the same options).
        #[arg(long)]
        out: PathBuf,
        /// The MNIST IDX files. Default: <data dir>/mnist.
        #[arg(long)]
        mnist: Option<PathBuf>,
        #[arg(long, default_value_t = DigitsConfig::default().train)]
        train: usize,
        #[arg(long, default_value_t = DigitsConfig::default().test)]
        test: usize,
        #[arg(long, default_value_t = DigitsConfig::default().canvas)]
        canvas: usize,
        #[arg(long, default_value_t = DigitsConfig::default().max_digits)]
        max_digits: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Run every (method, K, seed) of a detection preset (configs/detect-*.toml), appending
    /// one row per run to <out>/results.csv; runs already done are skipped.
    Grid(glcan_runner::GridArgs),
    /// Peak memory and speed of training steps of a RetinaNet-style detector on random
    /// images and boxes (ResNet-50 at 512x512 by default), printed as one JSON object.
    Measure(measure::MeasureArgs),
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
        Command::Eval(args) => {
            println!("{}", serde_json::to_string(&eval::run(&args)?)?);
            Ok(())
        }
        Command::MakeDigits { out, mnist, train, test, canvas, max_digits, seed } => {
            let config = DigitsConfig { train, test, canvas, max_digits, seed, ..DigitsConfig::default() };
            let mnist = mnist.unwrap_or_else(|| glcan_core::paths::data_root().join("mnist"));
            let made = digits::generate(&mnist, &out, &config)?;
            eprintln!("{} {}", if made { "wrote" } else { "already there:" }, out.display());
            Ok(())
        }
        Command::Grid(args) => glcan_runner::run_grid::<Detect>(args, cli.cpu_isa),
        Command::Measure(args) => {
            println!("{}", serde_json::to_string(&measure::run(&args)?)?);
            Ok(())
        }
    }
}
