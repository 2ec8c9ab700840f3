//! The results files of a grid's out folder: `results.csv` of a whole grid, and
//! `results.shard-I-of-N.csv` of each shard of a job array. Read together, they are one
//! results set.

use std::path::{Path, PathBuf};

use crate::{read_rows, Error, ResultRow};

/// The results file of a whole (unsharded) grid.
pub const RESULTS_FILE: &str = "results.csv";

/// The results file of shard `index` (0-based) of `count`.
pub fn shard_results_file(index: usize, count: usize) -> String {
    format!("results.shard-{index}-of-{count}.csv")
}

/// Every results file in `folder` (`results.csv` and the shards' files), in name order; a
/// missing folder has none.
pub fn results_files(folder: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(folder, e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let name = entry.map_err(|e| Error::io(folder, e))?.file_name();
        let name = name.to_string_lossy();
        let shard = name
            .strip_prefix("results.shard-")
            .and_then(|rest| rest.strip_suffix(".csv"))
            .is_some_and(|rest| rest.split_once("-of-").is_some_and(|(i, n)| i.parse::<usize>().is_ok() && n.parse::<usize>().is_ok()));
        if name == RESULTS_FILE || shard {
            files.push(folder.join(name.as_ref()));
        }
    }
    files.sort();
    Ok(files)
}

/// The rows of every results file in `folder`, file by file (see [`results_files`]).
pub fn read_folder(folder: &Path) -> Result<Vec<ResultRow>, Error> {
    let mut rows = Vec::new();
    for file in results_files(folder)? {
        rows.extend(read_rows(&file)?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::append_row;

    #[test]
    fn a_folder_of_shards_reads_as_one_results_set() {
        let dir = tempfile::tempdir().unwrap();
        let row = |seed| ResultRow { seed, ..ResultRow::unmeasured("classify", "t") };
        append_row(&dir.path().join(shard_results_file(1, 2)), &row(1)).unwrap();
        append_row(&dir.path().join(shard_results_file(0, 2)), &row(0)).unwrap();
        append_row(&dir.path().join(RESULTS_FILE), &row(7)).unwrap();
        std::fs::write(dir.path().join("results.shard-x-of-2.csv"), "not ours").unwrap();
        std::fs::write(dir.path().join("notes.csv"), "not ours").unwrap();
        let seeds: Vec<u64> = read_folder(dir.path()).unwrap().iter().map(|r| r.seed).collect();
        assert_eq!(seeds, [7, 0, 1]);
        assert!(read_folder(&dir.path().join("missing")).unwrap().is_empty());
    }
}
