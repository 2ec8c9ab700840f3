//! The entry point the suites' binaries share.

use std::process::ExitCode;

/// Restores SIGPIPE's default action, then installs the counting CPU allocator before any tensor exists (so that every CPU tensor is
/// counted), runs `body`, and turns an error into its whole cause chain on standard error
/// and a failing exit code.
pub fn run_binary<E: std::fmt::Display>(body: impl FnOnce() -> Result<(), E>) -> ExitCode {
    restore_sigpipe();
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

/// Rust ignores SIGPIPE, so `println!` to a closed pipe (`bench-sr bicubic ... | head -3`)
/// panics; with the default action back, the process ends quietly as Unix tools do. Call it
/// first in `main`, before any thread starts.
pub fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: installs the default disposition of one signal; no handler code runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
