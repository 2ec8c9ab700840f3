//! The crate's one error type. Readers name the file and the fault.

use std::path::{Path, PathBuf};

/// Everything that can go wrong while reading a dataset or loading batches. Each message
/// already carries its cause's text, so causes are not chained as `source()` (an `{:#}`
/// chain would repeat them).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be opened, read or written.
    #[error("{}: {cause}", path.display())]
    Io { path: PathBuf, cause: std::io::Error },
    /// A file was read but its content is wrong: bad magic number, truncated data,
    /// malformed XML/JSON, counts that do not match, a box outside its image.
    #[error("{}: {fault}", path.display())]
    BadData { path: PathBuf, fault: String },
    /// An image file that the `image` crate cannot decode.
    #[error("{}: unreadable image: {cause}", path.display())]
    Image { path: PathBuf, cause: image::ImageError },
    /// A configuration value that cannot work, named by its field.
    #[error("invalid {field}: {fault}")]
    Config { field: String, fault: String },
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
