//! `reports`: results CSV -> Markdown report with tables and PNG/SVG charts.
//!
//! ```text
//! reports build --results results/quick/results.csv --out reports/quick \
//!     --command "make reproduce" --machine "2-core x86_64 VM, no GPU"
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use reports::ReportContext;

/// Turns the results CSV of the local-learning suites (one row per run) into a report: a
/// README.md with the test-error, peak-memory and throughput tables (methods × K, E2E
/// first, mean ± std over seeds) and the charts it embeds, as PNG and SVG.
#[derive(Parser)]
#[command(name = "reports", version)]
struct Cli {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Build <OUT>/README.md and its charts from a results CSV.
    ///
    /// Failed runs are counted under each table, never averaged in. A run whose
    /// metrics.csv is missing loses its per-epoch curve and gets a warning line in the
    /// report; a missing or malformed results CSV is an error. Files are replaced
    /// atomically; what was written is listed on stderr.
    Build(BuildArgs),
}

#[derive(Args)]
struct BuildArgs {
    /// Results CSV written by the suites; the run folders its rows name are read relative
    /// to its folder.
    #[arg(long, value_name = "CSV")]
    results: PathBuf,
    /// Folder for README.md and the charts (created if needed).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The command that produced the results, quoted above every table
    /// (e.g. "make reproduce").
    #[arg(long, value_name = "TEXT")]
    command: Option<String>,
    /// The machine the results come from, in words (e.g. "2-core x86_64 VM, no GPU");
    /// device and threads are taken from the rows.
    #[arg(long, value_name = "TEXT")]
    machine: Option<String>,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("reports: error: {}", reports::error::chain(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.action {
        Action::Build(args) => build(args),
    }
}

fn build(args: BuildArgs) -> anyhow::Result<()> {
    let context = ReportContext { command: args.command.clone().unwrap_or_default(), machine: args.machine.clone().unwrap_or_default() };
    let invocation = invocation(&args);
    eprintln!("reports: reading {}", args.results.display());
    let built = reports::build(&args.results, &args.out, &context, &invocation).with_context(|| format!("building the report in {}", args.out.display()))?;
    eprintln!("reports: {} runs ({} failed)", built.runs, built.failed);
    for warning in &built.warnings {
        eprintln!("reports: warning: {warning}");
    }
    for image in &built.images {
        eprintln!("reports: wrote {}", image.display());
    }
    eprintln!("reports: wrote {}", built.readme.display());
    Ok(())
}

/// The command line that rebuilds this report, quoted in it.
fn invocation(args: &BuildArgs) -> String {
    let mut words = vec!["reports".to_string(), "build".into(), "--results".into(), quote(&args.results.to_string_lossy()), "--out".into(), quote(&args.out.to_string_lossy())];
    for (flag, value) in [("--command", &args.command), ("--machine", &args.machine)] {
        if let Some(value) = value {
            words.push(flag.into());
            words.push(quote(value));
        }
    }
    words.join(" ")
}

/// Single-quotes a word for a POSIX shell when it needs it.
fn quote(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
