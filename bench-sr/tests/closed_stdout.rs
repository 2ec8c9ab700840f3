//! `bench-sr` with its standard output closed early (`bench-sr bicubic ... | head -3`): the
//! process ends as Unix tools do, without a panic message.

use std::os::unix::process::ExitStatusExt;
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
fn bicubic_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.png", "b.png"] {
        image::RgbImage::from_fn(32, 30, |x, y| image::Rgb([(x * 9) as u8, (y * 13) as u8, 80])).save(dir.path().join(name)).unwrap();
    }
    let list = dir.path().join("list.txt");
    std::fs::write(&list, "a.png\nb.png\n").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_bench-sr"));
    command.args(["bicubic", "--scale", "2", "--hr-dir"]).arg(dir.path()).arg("--list").arg(&list);
    let (status, stderr) = run_with_stdout_closed(command);
    assert_quiet_end(status, &stderr);
}
