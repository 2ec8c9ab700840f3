//! `grid --emit-slurm`: an `sbatch` script that runs a grid as a Slurm job array, one
//! shard per array task.

use std::path::Path;

use anyhow::{Context, Result};

use crate::grid::Grid;
use crate::suite::Suite;

/// The script for `grid` as `shards` array tasks (at most one per run). `config`, `out`,
/// `data_dir` and `overrides` are the command line's; paths are made absolute, so the script
/// can be submitted from anywhere.
pub fn script<S: Suite>(
    grid: &Grid<S::Section>,
    shards: usize,
    config: &Path,
    out: &Path,
    data_dir: Option<&Path>,
    overrides: &[String],
) -> Result<String> {
    let runs = grid.runs::<S>().len();
    let shards = shards.clamp(1, runs.max(1));
    let absolute = |path: &Path| std::path::absolute(path).with_context(|| format!("cannot make {} absolute", path.display()));
    let binary = std::env::current_exe().context("cannot find this program's path")?;
    let out = absolute(out)?;
    let mut command = vec![binary.display().to_string(), "grid".into(), "--config".into(), absolute(config)?.display().to_string()];
    command.extend(["--out".into(), out.display().to_string()]);
    if let Some(data_dir) = data_dir {
        command.extend(["--data-dir".into(), absolute(data_dir)?.display().to_string()]);
    }
    for assignment in overrides {
        command.extend(["--set".into(), assignment.clone()]);
    }
    command.extend(["--shard".into(), format!("${{SLURM_ARRAY_TASK_ID}}/{shards}")]);
    let common = &grid.common;
    let mut lines = vec![
        "#!/bin/bash".to_owned(),
        format!("# Preset {:?} ({runs} runs) as a Slurm job array of {shards} shards: shard I runs every", common.preset),
        format!("# {shards}-th run from run I and appends its rows to {}/results.shard-I-of-{shards}.csv.", out.display()),
        "# Runs already done are skipped, so resubmitting finishes what is left. Read the shards".to_owned(),
        format!("# as one results set: reports build --results {} --out <report folder>.", out.display()),
        "# Add the --time, --partition and --account your cluster asks for.".to_owned(),
        format!(
            "#SBATCH --job-name={}",
            format!("{}-{}", S::BINARY, common.preset).replace(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'), "_")
        ),
        format!("#SBATCH --array=0-{}", shards - 1),
        format!("#SBATCH --output={}/slurm-%A_%a.log", out.display()),
    ];
    if let Some(threads) = common.threads {
        lines.push(format!("#SBATCH --cpus-per-task={threads}"));
    }
    if common.device.starts_with("cuda") {
        lines.push("#SBATCH --gres=gpu:1".to_owned());
    }
    lines.push("set -euo pipefail".to_owned());
    lines.push(format!("cd {}", quote(&std::env::current_dir().context("cannot read the current folder")?.display().to_string())));
    lines.push(format!("mkdir -p {}", quote(&out.display().to_string())));
    lines.push(
        command
            .iter()
            .map(|word| if word.contains("${SLURM_ARRAY_TASK_ID}") { format!("\"{word}\"") } else { quote(word) })
            .collect::<Vec<_>>()
            .join(" "),
    );
    Ok(lines.join("\n") + "\n")
}

/// `word` for a POSIX shell: as it is when it is plainly safe, else in single quotes.
fn quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c)) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(quote("configs/quick.toml"), "configs/quick.toml");
        assert_eq!(quote("methods=[\"e2e\"]"), "'methods=[\"e2e\"]'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
