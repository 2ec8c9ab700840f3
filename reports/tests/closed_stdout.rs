//! `reports` with its standard output closed early (`reports compare ... | head -3`): the
//! process ends as Unix tools do, without a panic message.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

/// Runs `command` with its standard output a pipe whose reading end is closed before the
/// child writes (the child is still loading when `spawn` returns), as `... | head -0` does;
/// returns its exit status and standard error.
fn run_with_stdout_closed(mut command: Command) -> (ExitStatus, String) {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the binary starts");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("the binary ends");
    (output.status, String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Ends quietly: killed by SIGPIPE (as `cat` or `grep` are), no panic message.
fn assert_quiet_end(status: ExitStatus, stderr: &str) {
    const SIGPIPE: i32 = 13;
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.signal(), Some(SIGPIPE), "{status}: {stderr}");
}

#[test]
fn compare_into_a_closed_pipe_ends_quietly() {
    // The committed smoke baseline against itself: a passing comparison printed to stdout.
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join("../baselines/smoke.csv");
    let out = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_reports"));
    command.arg("compare").arg("--baseline").arg(&baseline).arg("--current").arg(&baseline).arg("--out").arg(out.path());
    let (status, stderr) = run_with_stdout_closed(command);
    assert_quiet_end(status, &stderr);
}
