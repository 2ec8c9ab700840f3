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
    path: PathBuf,
}

impl OutLock {
    /// Takes the lock of `folder` (created if missing) without waiting. If another process
    /// holds it, the error names the folder and that process's id (which the holder writes
    /// into the lock file).
    pub fn acquire(folder: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(folder).map_err(|e| Error::io(folder, e))?;
        let path = folder.join(GRID_LOCK_FILE);
        let mut file = open_lock_file(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let holder = match file.read_to_string(&mut text).map(|_| text.trim()) {
                    Ok(pid) if !pid.is_empty() => format!("pid {pid}"),
                    _ => "pid unknown".to_owned(),
                };
                return Err(Error::Locked { folder: folder.to_path_buf(), lock_file: path, holder });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        file.set_len(0).and_then(|()| writeln!(file, "{}", std::process::id())).map_err(|e| Error::write(&path, e))?;
        Ok(OutLock { _file: file, path })
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
        let expected = format!("{} is in use by another grid (pid {}; lock file {}", out.display(), std::process::id(), held.path().display());
        assert!(message.starts_with(&expected), "{message}");
        assert!(message.ends_with("choose another --out"), "{message}");
        drop(held);
        OutLock::acquire(&out).expect("a released folder can be taken again");
    }
}
