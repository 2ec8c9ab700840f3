//! A report's sources, kept beside it: `reports build` copies the results it reads (and the
//! grid's `speed.csv`, when it has one), and the files of each run it reads (per-epoch
//! `metrics.csv`, SR crops, detection pictures), into
//! `<report>/source/`, with a `manifest.json` saying where they came from and which command
//! produced them. The report is then rendered from that copy only, so that
//! `reports build --results <report>/source --out <report>` rebuilds its README byte for
//! byte from committed files, on any machine.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::tables::ReportContext;
use crate::validate::read_results;
use glcan_store::write_atomic;

/// The folder inside a report that holds its sources.
pub const SOURCE_DIR: &str = "source";
/// The file in [`SOURCE_DIR`] saying where the sources came from.
pub const MANIFEST: &str = "manifest.json";
/// The results CSV in [`SOURCE_DIR`].
const RESULTS: &str = glcan_store::RESULTS_FILE;
/// What a run leaves in its folder that a report reads: its per-epoch metrics, the picture
/// of its detections, its SR crops and the HR crops beside them.
const RUN_FILES: [&str; 2] = ["metrics.csv", crate::pictures::PREDICTIONS];
const RUN_FOLDERS: [&str; 2] = [crate::crops::CROPS, crate::crops::HR];

/// Where a report's sources came from and how they were made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The results the copy was taken from, as given to `--results` (a CSV or a grid's folder).
    pub origin: String,
    /// The results files read there (more than one: a job array's shards, merged here).
    pub origin_files: Vec<String>,
    /// The report folder, as given to `--out`: the rebuild command names it.
    pub report: String,
    /// The command that produced the results (`--command`).
    pub command: String,
    /// The machine they ran on, in words (`--machine`).
    pub machine: String,
}

impl Manifest {
    /// The command that rebuilds the report from its committed sources.
    pub fn rebuild_command(&self) -> String {
        format!("reports build --results {} --out {}", shell_word(&format!("{}/{SOURCE_DIR}", self.report)), shell_word(&self.report))
    }

    /// The results' origin in words, for the README.
    pub fn origin_in_words(&self) -> String {
        match self.origin_files.as_slice() {
            [one] => format!("a copy of `{one}`"),
            many => format!(
                "the {} results files of `{}` merged into one ({})",
                many.len(),
                self.origin,
                many.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    pub fn context(&self) -> ReportContext {
        ReportContext { command: self.command.clone(), machine: self.machine.clone() }
    }
}

/// Sources ready to render from: the folder and its manifest.
#[derive(Debug, Clone)]
pub struct Sources {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Sources {
    pub fn results(&self) -> PathBuf {
        self.dir.join(RESULTS)
    }
}

/// True when `path` is a sources folder (or its results CSV) written by [`snapshot`].
pub fn is_sources(path: &Path) -> bool {
    sources_dir(path).join(MANIFEST).is_file()
}

fn sources_dir(path: &Path) -> &Path {
    if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(Path::new("."))
    }
}

/// Opens a sources folder (or its results CSV). `context`, when it states a command or a
/// machine, must agree with the manifest: a report rebuilt under other words would no
/// longer say what its sources say.
pub fn open(path: &Path, context: &ReportContext) -> Result<Sources, Error> {
    let dir = sources_dir(path).to_path_buf();
    let manifest_path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest_path).map_err(|source| Error::Io { path: manifest_path.clone(), source })?;
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|source| Error::Manifest { path: manifest_path.clone(), message: source.to_string() })?;
    for (flag, given, recorded) in [("--command", &context.command, &manifest.command), ("--machine", &context.machine, &manifest.machine)]
    {
        if !given.trim().is_empty() && given.trim() != recorded.trim() {
            return Err(Error::Manifest {
                path: manifest_path,
                message: format!("{flag} `{given}` differs from the recorded `{recorded}`: leave it out to rebuild from these sources"),
            });
        }
    }
    Ok(Sources { dir, manifest })
}

/// Copies the results at `results` (a CSV, or a grid's folder with its shards) and the run
/// files the report reads into `<out>/source/`, replacing an earlier copy only once the new
/// one is complete. Every row is checked first ([`read_results`]): nothing is copied from
/// results the report could not use.
pub fn snapshot(results: &Path, out: &Path, context: &ReportContext) -> Result<Sources, Error> {
    let rows = read_results(results)?;
    let files = if results.is_dir() { glcan_store::results_files(results)? } else { vec![results.to_path_buf()] };
    let results_dir = sources_dir(results);
    let fresh = out.join(format!(".{SOURCE_DIR}.new"));
    remove_if_present(&fresh)?;
    create_dir(&fresh)?;

    let csv = match files.as_slice() {
        [one] => std::fs::read(one).map_err(|source| Error::Io { path: one.clone(), source })?,
        _ => merged_csv(&rows, &fresh)?,
    };
    write_atomic(&fresh.join(RESULTS), &csv)?;
    // The speed pass's file, when the grid has one: the only throughputs a report compares.
    if results_dir.join(glcan_store::SPEED_FILE).is_file() {
        copy(&results_dir.join(glcan_store::SPEED_FILE), &fresh.join(glcan_store::SPEED_FILE))?;
    }
    for row in rows.iter().filter(|r| !r.run_dir.trim().is_empty()) {
        let from = results_dir.join(&row.run_dir);
        let to = fresh.join(&row.run_dir);
        for name in RUN_FILES {
            if from.join(name).is_file() {
                create_dir(&to)?;
                copy(&from.join(name), &to.join(name))?;
            }
        }
        for folder in RUN_FOLDERS {
            copy_folder(&from.join(folder), &to.join(folder))?;
        }
    }
    let manifest = Manifest {
        origin: results.display().to_string(),
        origin_files: files.iter().map(|f| f.display().to_string()).collect(),
        report: out.display().to_string(),
        command: context.command.trim().to_string(),
        machine: context.machine.trim().to_string(),
    };
    let json = serde_json::to_string_pretty(&manifest).expect("a manifest is plain strings") + "\n";
    write_atomic(&fresh.join(MANIFEST), json.as_bytes())?;

    let dir = out.join(SOURCE_DIR);
    // The old copy goes only after the new one is whole, and under a name that says so.
    let old = out.join(format!(".{SOURCE_DIR}.old"));
    remove_if_present(&old)?;
    if dir.exists() {
        std::fs::rename(&dir, &old).map_err(|source| Error::Io { path: dir.clone(), source })?;
    }
    std::fs::rename(&fresh, &dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
    remove_if_present(&old)?;
    Ok(Sources { dir, manifest })
}

/// The rows of several results files as one CSV, in their reading order.
fn merged_csv(rows: &[glcan_store::ResultRow], place: &Path) -> Result<Vec<u8>, Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(row).map_err(|source| Error::Csv { path: place.join(RESULTS), source })?;
    }
    writer.into_inner().map_err(|e| Error::Io { path: place.join(RESULTS), source: e.into_error() })
}

fn copy_folder(from: &Path, to: &Path) -> Result<(), Error> {
    if !from.is_dir() {
        return Ok(());
    }
    create_dir(to)?;
    let entries = std::fs::read_dir(from).map_err(|source| Error::Io { path: from.to_path_buf(), source })?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io { path: from.to_path_buf(), source })?;
        if entry.path().is_file() {
            names.push(entry.file_name());
        }
    }
    names.sort();
    for name in names {
        copy(&from.join(&name), &to.join(&name))?;
    }
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<(), Error> {
    std::fs::copy(from, to).map(|_| ()).map_err(|source| Error::Io { path: from.to_path_buf(), source })
}

fn create_dir(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })
}

fn remove_if_present(dir: &Path) -> Result<(), Error> {
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(Error::Io { path: dir.to_path_buf(), source: error }),
        _ => Ok(()),
    }
}

/// Single-quotes a word for a POSIX shell when it needs it.
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rows::row;

    fn context() -> ReportContext {
        ReportContext { command: "make reproduce".into(), machine: "2-core VM".into() }
    }

    #[test]
    fn snapshot_copies_results_and_run_files_and_names_the_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs/quick");
        let rows = [row("e2e", 1, 0, 80.0), row("dgl", 2, 0, 78.0)];
        for r in &rows {
            glcan_store::append_row(&runs.join(RESULTS), r).unwrap();
            let folder = runs.join(&r.run_dir);
            std::fs::create_dir_all(folder.join(crate::crops::CROPS)).unwrap();
            std::fs::write(folder.join("metrics.csv"), "epoch\n1\n").unwrap();
            std::fs::write(folder.join(crate::crops::CROPS).join("a.png"), "png").unwrap();
            std::fs::write(folder.join("checkpoint.ot"), "weights").unwrap();
        }
        let out = dir.path().join("reports/quick");
        let sources = snapshot(&runs, &out, &context()).unwrap();
        assert_eq!(sources.dir, out.join(SOURCE_DIR));
        assert_eq!(std::fs::read(sources.results()).unwrap(), std::fs::read(runs.join(RESULTS)).unwrap());
        let copied = sources.dir.join(&rows[1].run_dir);
        assert!(copied.join("metrics.csv").is_file() && copied.join(crate::crops::CROPS).join("a.png").is_file());
        assert!(!copied.join("checkpoint.ot").exists(), "only what a report reads is copied");
        assert_eq!(sources.manifest.rebuild_command(), format!("reports build --results {}/source --out {}", out.display(), out.display()));

        let reopened = open(&sources.dir, &ReportContext::default()).unwrap();
        assert_eq!(reopened.manifest, sources.manifest);
        let other = ReportContext { command: "something else".into(), machine: String::new() };
        let error = open(&sources.results(), &other).unwrap_err().to_string();
        assert!(error.contains("--command") && error.contains(MANIFEST), "{error}");
    }

    #[test]
    fn shards_are_merged_and_the_manifest_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("grid");
        glcan_store::append_row(&runs.join(glcan_store::shard_results_file(0, 2)), &row("e2e", 1, 0, 80.0)).unwrap();
        glcan_store::append_row(&runs.join(glcan_store::shard_results_file(1, 2)), &row("dgl", 2, 0, 78.0)).unwrap();
        let sources = snapshot(&runs, &dir.path().join("report"), &context()).unwrap();
        assert_eq!(read_results(&sources.results()).unwrap().len(), 2);
        assert!(sources.manifest.origin_in_words().starts_with("the 2 results files"), "{}", sources.manifest.origin_in_words());
    }

    #[test]
    fn unusable_results_leave_the_earlier_sources_alone() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        glcan_store::append_row(&runs.join(RESULTS), &row("e2e", 1, 0, 80.0)).unwrap();
        let out = dir.path().join("report");
        snapshot(&runs, &out, &context()).unwrap();
        std::fs::write(runs.join(RESULTS), "not,a,results\nfile,,\n").unwrap();
        assert!(snapshot(&runs, &out, &context()).is_err());
        assert_eq!(read_results(&out.join(SOURCE_DIR)).unwrap().len(), 1);
    }
}
