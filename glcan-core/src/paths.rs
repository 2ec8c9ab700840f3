//! Where the fetched data lives.

use std::path::{Path, PathBuf};

/// Environment variable that overrides the data folder.
pub const DATA_DIR_ENV: &str = "GLCAN_DATA_DIR";

/// The folder `make data` fills: `$GLCAN_DATA_DIR` when set, otherwise `data/` at the
/// workspace root.
pub fn data_root() -> PathBuf {
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("glcan-core sits in the workspace").join("data"),
    }
}
