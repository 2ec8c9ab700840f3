//! Running one test of this binary in a child process: for appends from several processes,
//! and for a full disk. The disk fills at a file-size limit (RLIMIT_FSIZE set by the shell's
//! `ulimit -f`, with SIGXFSZ ignored, which exec keeps, so that a write past the limit fails
//! with EFBIG as a full disk fails it with ENOSPC, instead of killing the process). Needs no
//! privileges, unlike a small tmpfs mount.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The environment variable that hands the child its working folder.
const CHILD_DIR: &str = "GLCAN_STORE_TEST_CHILD_DIR";

/// The ignored test `name` of this binary as a child process working in `dir`; with
/// `file_size_blocks`, its files may not grow past that many blocks (512 or 1024 bytes,
/// as the shell counts them).
pub fn child(name: &str, dir: &Path, file_size_blocks: Option<u32>) -> Command {
    let limit = file_size_blocks.map_or(String::new(), |blocks| format!("trap '' XFSZ; ulimit -f {blocks} && "));
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("{limit}exec \"$0\" \"$@\""))
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", name, "--include-ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Checks that the child ran its test and passed; returns its standard output.
pub fn passed(name: &str, output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{name} failed in its child process:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("1 passed"), "{name} did not run:\n{stdout}");
    stdout
}

/// Runs the ignored test `name` in a child whose files may not grow past 4 blocks (2 or 4
/// KiB); returns its standard output.
pub fn run_under_file_size_limit(name: &str, dir: &Path) -> String {
    passed(name, child(name, dir, Some(4)).output().unwrap())
}

/// The child's folder; `None` outside a child (`--include-ignored`), where the test has
/// nothing to do.
pub fn child_dir() -> Option<PathBuf> {
    std::env::var_os(CHILD_DIR).map(PathBuf::from)
}
