//! The entry point the suites' binaries share.

use std::process::ExitCode;

/// Installs the counting CPU allocator before any tensor exists (so that every CPU tensor is
/// counted), runs `body`, and turns an error into its whole cause chain on standard error
/// and a failing exit code.
pub fn run_binary<E: std::fmt::Display>(body: impl FnOnce() -> Result<(), E>) -> ExitCode {
    if let Err(error) = crate::memory::install_counting_allocator() {
        eprintln!("warning: CPU tensor memory will not be measured: {error}");
    }
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
