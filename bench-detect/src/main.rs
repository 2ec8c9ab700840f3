//! `bench-detect`: the object-detection suite of local learning. For now it holds the
//! evaluator: COCO-style AP (pycocotools' rules) and VOC AP50 of a results file.

mod eval;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Local learning of deep networks on object detection.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Score a COCO results file against a COCO instances file. Prints one JSON object:
    /// AP (IoU .50:.95), AP50, AP75, APs, APm, APl with pycocotools' rules (100 detections
    /// per image and category) and VOC_AP50 (all-point), on the 0-1 scale, -1 where undefined.
    Eval(eval::EvalArgs),
}

fn main() -> ExitCode {
    glcan_core::entry::run_binary(|| run(Cli::parse()))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Eval(args) => {
            println!("{}", serde_json::to_string(&eval::run(&args)?)?);
            Ok(())
        }
    }
}
