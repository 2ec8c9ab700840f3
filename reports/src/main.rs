//! `reports`: results CSV -> Markdown report with tables and PNG/SVG charts, and the
//! regression check of CI.
//!
//! ```text
//! reports build --results results/quick/results.csv --out reports/quick \
//!     --command "make reproduce" --machine "2-core x86_64 VM, no GPU"
//! reports compare --baseline baselines/smoke.csv --current runs/smoke/results.csv \
//!     --out runs/smoke/compare
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use reports::compare::Tolerances;
use reports::ReportContext;

/// Turns the results CSV of the local-learning suites (one row per run) into a report: a
/// README.md with the test-error, peak-memory and throughput tables (methods × K, E2E
/// first, mean ± std over seeds) and the charts it embeds, as PNG and SVG; and compares a
/// results CSV against a baseline (the regression check of CI).
///
/// Exit status: 0 on success, 1 when `compare` finds a regression, 2 when the inputs are
/// unusable (a missing or malformed file, a row it cannot use, a bad argument).
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
    /// report; a missing or malformed results CSV is an error, and so is a row it cannot
    /// use, named by file, line, run and column: a missing column, a finished run without
    /// its suite's metric (classify: test_accuracy; detect: ap, ap50; sr: psnr_y, ssim_y),
    /// a NaN or out-of-range value (accuracy 0-100, AP 0-1, SSIM -1-1, PSNR finite,
    /// throughput and seconds finite and >= 0), or a run that finished twice. Files are replaced
    /// atomically; what was written is listed on stderr.
    Build(BuildArgs),
    /// Compare a results CSV against a baseline; exit 1 on a regression.
    ///
    /// Runs are matched by suite, dataset, network, method, K and preset (a configuration),
    /// then by seed; every configuration is judged on means over the baseline's seeds:
    ///
    /// - task metrics (test error, AP, AP50, PSNR, SSIM) fail when worse than the baseline by
    ///   more than the band = max(SIGMAS × s, floor), where s is the baseline's seed-to-seed
    ///   standard deviation of the metric, pooled over the configurations of the same suite,
    ///   dataset, network and preset; floors: test error, AP and AP50 0.5 points, PSNR
    ///   0.05 dB, SSIM 0.002. Better beyond the band is noted, not failed;
    ///
    /// - peak tensor memory of a training step fails when |current / baseline − 1| exceeds
    ///   the memory tolerance, either way (deterministic on CPU: any change means the
    ///   network or what a step keeps alive changed);
    ///
    /// - throughput is reported as current ÷ baseline, never judged (CI machines are noisy);
    ///
    /// - a baseline configuration or seed missing or failed in the current results fails, and
    ///   so does a run whose recipe (epochs, batch size, images, device, dtype, threads,
    ///   network parameters) changed; configurations only in the current results are listed;
    ///
    /// - a row either file cannot use (a finished run without its suite's metric, a NaN or
    ///   out-of-range value, a run that finished twice, a missing column) is an input error
    ///   naming the file, line, run and column.
    ///
    /// Prints one line per configuration and each failure with its numbers; writes
    /// <OUT>/README.md (verdict, failures, table, rule) and <OUT>/deltas.png/.svg (a bar per
    /// configuration of current − baseline, tolerance bands in grey), atomically. Exit
    /// status 0 when everything is within tolerance, 1 on a regression, 2 when a file is
    /// missing or malformed, has a row it cannot use, or the baseline has no finished run.
    Compare(CompareArgs),
}

#[derive(Args)]
struct BuildArgs {
    /// Results CSV written by the suites, or a grid's out folder (its results.csv and the
    /// results.shard-I-of-N.csv of a job array's shards, read as one set); the run folders
    /// the rows name are read relative to that folder. The results and the run files the
    /// report reads are first copied into <OUT>/source/ with a manifest, and the report is
    /// rendered from that copy. Or a report's source folder itself (e.g.
    /// reports/quick/source): the report is rebuilt from it byte for byte, with the
    /// command and machine its manifest records.
    #[arg(long, value_name = "CSV|DIR")]
    results: PathBuf,
    /// Folder for README.md and the charts (created if needed).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The command that produced the results, quoted above every table
    /// (e.g. "make reproduce"); recorded in the source manifest.
    #[arg(long, value_name = "TEXT")]
    command: Option<String>,
    /// The machine the results come from, in words (e.g. "2-core x86_64 VM, no GPU");
    /// device and threads are taken from the rows.
    #[arg(long, value_name = "TEXT")]
    machine: Option<String>,
}

#[derive(Args)]
struct CompareArgs {
    /// The committed baseline results CSV (e.g. baselines/smoke.csv).
    #[arg(long, value_name = "CSV")]
    baseline: PathBuf,
    /// The results CSV to check (e.g. runs/smoke/results.csv), or a grid's out folder (its
    /// results.csv and the results.shard-I-of-N.csv of a job array's shards, as one set).
    #[arg(long, value_name = "CSV")]
    current: PathBuf,
    /// Folder for README.md and deltas.png/.svg (created if needed).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Width of the metric band in pooled seed-to-seed standard deviations.
    #[arg(long, value_name = "SIGMAS", default_value_t = Tolerances::default().sigmas, value_parser = positive)]
    sigmas: f64,
    /// Allowed change of peak memory, in percent, either way.
    #[arg(long, value_name = "PERCENT", default_value_t = 100.0 * Tolerances::default().memory, value_parser = positive)]
    memory_tolerance: f64,
}

fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        _ => Err(format!("`{text}` is not a non-negative number")),
    }
}

/// A regression found is exit status 1; unusable inputs are 2 (as clap's usage errors).
const REGRESSION: u8 = 1;
const UNUSABLE: u8 = 2;

fn main() -> ExitCode {
    restore_sigpipe();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("reports: error: {}", reports::error::chain(error.as_ref()));
            ExitCode::from(UNUSABLE)
        }
    }
}

/// Rust ignores SIGPIPE, so `print!` to a closed pipe (`reports compare ... | head`) panics;
/// with the default action back, the process ends quietly as Unix tools do (as
/// `glcan_core::entry::restore_sigpipe`, which this crate does not depend on).
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: installs the default disposition of one signal, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.action {
        Action::Build(args) => build(args).map(|()| ExitCode::SUCCESS),
        Action::Compare(args) => compare(args),
    }
}

fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let tolerances = Tolerances { sigmas: args.sigmas, memory: args.memory_tolerance / 100.0 };
    let invocation = compare_invocation(&args);
    let written = reports::compare_report::run(&args.baseline, &args.current, &args.out, &tolerances, &invocation)
        .with_context(|| format!("comparing {} with the baseline {}", args.current.display(), args.baseline.display()))?;
    let comparison = &written.comparison;
    print!("{}", reports::compare_report::console(comparison, &args.baseline, &args.current));
    for note in &comparison.notes {
        eprintln!("reports: note: {note}");
    }
    for failure in comparison.failures() {
        eprintln!("reports: REGRESSION: {failure}");
    }
    for image in &written.images {
        eprintln!("reports: wrote {}", image.display());
    }
    eprintln!("reports: wrote {}", written.summary.display());
    eprintln!("reports: regression check {}", reports::compare_report::verdict_line(comparison));
    Ok(if comparison.passed() { ExitCode::SUCCESS } else { ExitCode::from(REGRESSION) })
}

/// The command line that reruns this comparison, quoted in its summary.
fn compare_invocation(args: &CompareArgs) -> String {
    let mut words = vec!["reports".to_string(), "compare".into()];
    for (flag, path) in [("--baseline", &args.baseline), ("--current", &args.current), ("--out", &args.out)] {
        words.push(flag.into());
        words.push(reports::sources::shell_word(&path.to_string_lossy()));
    }
    let defaults = Tolerances::default();
    if args.sigmas != defaults.sigmas {
        words.push(format!("--sigmas {}", args.sigmas));
    }
    if args.memory_tolerance != 100.0 * defaults.memory {
        words.push(format!("--memory-tolerance {}", args.memory_tolerance));
    }
    words.join(" ")
}

fn build(args: BuildArgs) -> anyhow::Result<()> {
    let context = ReportContext { command: args.command.clone().unwrap_or_default(), machine: args.machine.clone().unwrap_or_default() };
    eprintln!("reports: reading {}", args.results.display());
    let built =
        reports::build(&args.results, &args.out, &context).with_context(|| format!("building the report in {}", args.out.display()))?;
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
