//! Advisory locks on files of a results folder (`flock`: held by an open file, released
//! when it closes, also when its process dies, so a killed grid never leaves a stale lock).
//! The lock files stay in place: removing one while another process waits on it would let
//! two processes hold "the" lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::Error;

/// The grid lock's file in an out folder.
pub const GRID_LOCK_FILE: &str = "grid.lock";

/// A grid's exclusive hold on its `--out` folder, for as long as the value lives: two grids
/// on one folder would train every run twice and race on its files.
#[derive(Debug)]
pub struct OutLock {
    _file: File,
    /// A shard's shared hold on the folder's grid lock.
    _shared: Option<File>,
    path: PathBuf,
}

impl OutLock {
    /// Takes the lock of `folder` (created if missing) without waiting. If another process
    /// holds it, the error names the folder and that process's id (which the holder writes
    /// into the lock file).
    pub fn acquire(folder: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(folder).map_err(|e| Error::io(folder, e))?;
        let path = folder.join(GRID_LOCK_FILE);
        let mut file = take(open_lock_file(&path)?, Hold::Exclusive, folder, &path)?;
        file.set_len(0).and_then(|()| writeln!(file, "{}", std::process::id())).map_err(|e| Error::write(&path, e))?;
        Ok(OutLock { _file: file, _shared: None, path })
    }

    /// Takes the hold of one shard of a job array on `folder` (created if missing): the
    /// folder's grid lock shared with the other shards, so that no unsharded grid runs
    /// beside them, and the shard's own lock file `grid.<shard>.lock` exclusively, so that
    /// the same shard never runs twice at once. Neither waits.
    pub fn acquire_shard(folder: &Path, shard: &str) -> Result<Self, Error> {
        std::fs::create_dir_all(folder).map_err(|e| Error::io(folder, e))?;
        let grid_path = folder.join(GRID_LOCK_FILE);
        let grid = take(open_lock_file(&grid_path)?, Hold::Shared, folder, &grid_path)?;
        let path = folder.join(format!("grid.{shard}.lock"));
        let mut file = take(open_lock_file(&path)?, Hold::Exclusive, folder, &path)?;
        file.set_len(0).and_then(|()| writeln!(file, "{}", std::process::id())).map_err(|e| Error::write(&path, e))?;
        Ok(OutLock { _file: file, _shared: Some(grid), path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Waits for the exclusive lock of the file `path` (created if missing); held until the
/// returned file is dropped.
pub(crate) fn lock_exclusive(path: &Path) -> Result<File, Error> {
    let file = open_lock_file(path)?;
    file.lock().map_err(|e| Error::io(path, e))?;
    Ok(file)
}

/// How a lock file is held.
enum Hold {
    Shared,
    Exclusive,
}

/// `file` (the lock file `path` of `folder`) with its lock taken as `hold` says, without
/// waiting; a lock held elsewhere is [`Error::Locked`].
fn take(file: File, hold: Hold, folder: &Path, path: &Path) -> Result<File, Error> {
    let taken = match hold {
        Hold::Shared => file.try_lock_shared(),
        Hold::Exclusive => file.try_lock(),
    };
    match taken {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(locked(folder, path, file)),
        Err(TryLockError::Error(e)) => Err(Error::io(path, e)),
    }
}

/// The error for a lock held elsewhere, naming the holder's pid (which holders write into
/// their lock file; shards write theirs into their own files, not the shared grid lock).
fn locked(folder: &Path, lock_file: &Path, mut file: File) -> Error {
    let mut text = String::new();
    let holder = match file.read_to_string(&mut text).map(|_| text.trim().to_owned()) {
        Ok(pid) if !pid.is_empty() => format!("pid {pid}"),
        _ => "shards of a job array, or pid unknown".to_owned(),
    };
    Error::Locked { folder: folder.to_path_buf(), lock_file: lock_file.to_path_buf(), holder }
}

fn open_lock_file(path: &Path) -> Result<File, Error> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_folder_and_pid() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let held = OutLock::acquire(&out).unwrap();
        assert_eq!(held.path(), out.join(GRID_LOCK_FILE));
        let message = OutLock::acquire(&out).unwrap_err().to_string();
        let expected =
            format!("{} is in use by another grid (pid {}; lock file {}", out.display(), std::process::id(), held.path().display());
        assert!(message.starts_with(&expected), "{message}");
        assert!(message.ends_with("choose another --out"), "{message}");
        drop(held);
        OutLock::acquire(&out).expect("a released folder can be taken again");
    }

    #[test]
    fn shards_run_side_by_side_but_neither_twice_nor_beside_a_whole_grid() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let first = OutLock::acquire_shard(&out, "shard-0-of-2").unwrap();
        let second = OutLock::acquire_shard(&out, "shard-1-of-2").expect("another shard runs beside it");
        assert_eq!(second.path(), out.join("grid.shard-1-of-2.lock"));
        let message = OutLock::acquire_shard(&out, "shard-0-of-2").unwrap_err().to_string();
        assert!(message.contains("grid.shard-0-of-2.lock") && message.contains(&format!("pid {}", std::process::id())), "{message}");
        assert!(OutLock::acquire(&out).unwrap_err().to_string().contains("in use by another grid"));
        drop((first, second));
        let whole = OutLock::acquire(&out).unwrap();
        assert!(OutLock::acquire_shard(&out, "shard-0-of-2").unwrap_err().to_string().contains("in use by another grid"));
        drop(whole);
    }
}
