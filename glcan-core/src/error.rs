//! The crate's one error type. Errors name the file and the fault; forward passes stay
//! infallible.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in glcan-core. Each message already carries its cause's
/// text, so causes are not chained as `source()` (an `{:#}` chain would repeat them).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be opened, read or written.
    #[error("{}: {cause}", path.display())]
    Io { path: PathBuf, cause: std::io::Error },
    /// A file was read but its content is wrong: bad magic number, truncated data,
    /// malformed XML/JSON, counts that do not match, a box outside its image.
    #[error("{}: {fault}", path.display())]
    BadData { path: PathBuf, fault: String },
    /// A configuration value that cannot work, named by its field.
    #[error("invalid {field}: {fault}")]
    Config { field: String, fault: String },
    /// Training produced a NaN or infinite loss.
    #[error("loss of module {module} is {value} at epoch {epoch}, step {step}: training diverged (lower the learning rate?)")]
    Diverged { epoch: usize, step: usize, module: usize, value: f64 },
    /// The run was asked to stop after an epoch; its checkpoint allows a resume.
    #[error("stopped after epoch {epoch} as asked; resume continues the run")]
    Stopped { epoch: usize },
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// Reading a dataset or loading a batch failed (glcan-data); it names the file.
    #[error(transparent)]
    Data(#[from] glcan_data::Error),
    /// Writing a run's file (glcan-store's durable writer) failed; it names the file.
    #[error(transparent)]
    Store(#[from] glcan_store::Error),
    #[error("{}: {cause}", path.display())]
    Csv { path: PathBuf, cause: csv::Error },
    /// A c10d call between processes failed or timed out (`crate::c10d`): what this rank
    /// was doing, with which peer, and c10d's words.
    #[error("{what}: {cause}")]
    Distributed { what: String, cause: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O failure on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().to_path_buf(), cause: source }
    }

    /// Wrong content in `path`, described by `fault`.
    pub fn bad_data(path: impl AsRef<Path>, fault: impl Into<String>) -> Self {
        Error::BadData { path: path.as_ref().to_path_buf(), fault: fault.into() }
    }

    /// A configuration field whose value cannot work.
    pub fn config(field: impl Into<String>, fault: impl Into<String>) -> Self {
        Error::Config { field: field.into(), fault: fault.into() }
    }
}
