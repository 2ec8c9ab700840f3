//! `bench-sr`: the super-resolution suite of local learning. For now: the literature's
//! PSNR/SSIM on Y between two images, and the bicubic baseline row on an HR folder.

mod evaluate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Local learning of deep networks on single-image super-resolution.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
}

fn main() -> ExitCode {
    glcan_core::entry::run_binary(|| run(Cli::parse()))
}

fn run(cli: Cli) -> anyhow::Result<()> {
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
    }
}
