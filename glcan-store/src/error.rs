//! The crate's one error type. Every variant names the file or folder it is about, and each
//! message already carries its cause's text (not chained as `source()`, so an `{:#}` chain
//! does not repeat it).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing a file failed; nothing of the attempt is left behind.
    #[error("cannot write {}: {cause}", path.display())]
    Write { path: PathBuf, cause: std::io::Error },
    /// Any other file-system failure on `path`.
    #[error("{}: {cause}", path.display())]
    Io { path: PathBuf, cause: std::io::Error },
    /// A results CSV that cannot be read or written.
    #[error("{}: {cause}", path.display())]
    Csv { path: PathBuf, cause: csv::Error },
    /// Another process holds the folder's grid lock.
    #[error(
        "{} is in use by another grid ({holder}; lock file {}): wait for it to finish or choose another --out",
        folder.display(),
        lock_file.display()
    )]
    Locked { folder: PathBuf, lock_file: PathBuf, holder: String },
    /// A config that cannot be hashed (not a JSON object, or a listed field missing).
    #[error("config hash: {0}")]
    Config(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io { path: path.into(), cause }
    }

    pub(crate) fn write(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Write { path: path.into(), cause }
    }
}
