//! The entry point the suites' binaries share.

use std::process::ExitCode;

/// Restores SIGPIPE's default action, records the commit the binary was built from
/// (`env!("GLCAN_GIT_COMMIT")`, set by `glcan_build::stamp_git_commit`) for every run's
/// environment, installs the counting CPU allocator before any tensor exists (so that every
/// CPU tensor is counted), runs `body`, and turns an error into its whole cause chain on
/// standard error and a failing exit code.
pub fn run_binary<E: std::fmt::Display>(git_commit: &'static str, body: impl FnOnce() -> Result<(), E>) -> ExitCode {
    restore_sigpipe();
    crate::run_env::set_build_commit(git_commit);
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
